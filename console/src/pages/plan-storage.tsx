/**
 * The storage calculator (DPM's planning formulas, product.md §9): from
 * data size, daily change, retention, synchronization frequency, point
 * times and growth, the pool size, allocation per group, RPO and the RTO
 * at the recovery rate this server measured. Computed by the server
 * (POST /api/plan/storage), like `custos plan storage`.
 */
import { useState, type FormEvent } from 'react';
import { api } from '../../../src/protocol/rest/contract.js';
import type { PlanRequest } from '../../../src/protocol/rest/objects.js';
import { call } from '../api.js';
import { formatBytes, formatDuration, plural } from '../format.js';
import { useLoad } from '../load.js';
import { href } from '../route.js';

const UNITS = { GiB: 2 ** 30, TiB: 2 ** 40 } as const;
type Unit = keyof typeof UNITS;

export function PlanStorage() {
  const options = useLoad(() => call(api.protectionOptions), []);
  const [size, setSize] = useState('500');
  const [unit, setUnit] = useState<Unit>('GiB');
  const [change, setChange] = useState('2');
  const [retention, setRetention] = useState('14');
  const [sync, setSync] = useState('15');
  const [points, setPoints] = useState('08:00,12:00,20:00');
  const [growth, setGrowth] = useState('20');
  const [years, setYears] = useState('3');
  const [current, setCurrent] = useState(true);
  const [request, setRequest] = useState<PlanRequest | null>(null);
  const answer = useLoad(() => (request ? call(api.planStorage, { body: request }) : Promise.resolve(null)), [request]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setRequest({
      groups: [{
        name: 'planned',
        sources: [{ name: 'planned data', dataBytes: Math.round(Number(size) * UNITS[unit]), dailyChangePercent: Number(change) }],
        retentionDays: Number(retention),
        syncMinutes: Number(sync),
        pointTimes: points.split(',').map((p) => p.trim()).filter(Boolean),
        yearlyGrowthPercent: Number(growth),
        years: Number(years),
      }],
      ...(current ? { fromGroups: true, growthPercent: Number(growth), years: Number(years) } : {}),
    });
  };
  const a = answer.data;
  return (
    <section aria-labelledby="plan-title">
      <p><a href={href('protection')}>← Protection</a></p>
      <h1 id="plan-title">Plan storage</h1>
      <form onSubmit={submit} className="plan-form">
        <label>Data size <span><input type="number" min={0} step="any" value={size} onChange={(e) => setSize(e.target.value)} required aria-label="Data size" />
          <select value={unit} onChange={(e) => setUnit(e.target.value as Unit)} aria-label="Size unit">{Object.keys(UNITS).map((u) => <option key={u}>{u}</option>)}</select></span></label>
        <label>Daily change (%) <input type="number" min={0} max={100} step="any" value={change} onChange={(e) => setChange(e.target.value)} required /></label>
        <label>Retention (days) <input type="number" min={options.data?.retentionDays.min ?? 1} max={options.data?.retentionDays.max ?? 448} value={retention} onChange={(e) => setRetention(e.target.value)} required /></label>
        <label>
          Synchronization
          <select value={sync} onChange={(e) => setSync(e.target.value)}>
            {[15, 30, 60, 120, 240, 360, 720, 1440].filter((m) => !options.data || options.data.syncChoices.includes(m % 60 === 0 ? `${m / 60}h` : `${m}m`)).map((m) => (
              <option key={m} value={m}>every {m % 60 === 0 ? `${m / 60}h` : `${m}m`}</option>
            ))}
          </select>
        </label>
        <label>Recovery point times <input value={points} onChange={(e) => setPoints(e.target.value)} required pattern="\d\d:\d\d(,\s*\d\d:\d\d)*" /></label>
        <label>Yearly growth (%) <input type="number" min={0} max={1000} step="any" value={growth} onChange={(e) => setGrowth(e.target.value)} required /></label>
        <label>Years ahead <input type="number" min={0} max={10} value={years} onChange={(e) => setYears(e.target.value)} required /></label>
        <label className="inline"><input type="checkbox" checked={current} onChange={(e) => setCurrent(e.target.checked)} /> Add the protection groups this server has now</label>
        <button type="submit">Calculate</button>
      </form>
      {answer.error && <p role="alert" className="error">{answer.error}</p>}
      {a && (
        <div className="plan-answer" data-plan="answer">
          <h2>Storage pool</h2>
          <dl className="facts">
            <dt>Data protected</dt><dd>{formatBytes(a.plan.pool.protectedBytes)}</dd>
            <dt>Needed on disk (replicas and recovery points)</dt><dd data-figure="planned">{formatBytes(a.plan.pool.plannedBytes)}</dd>
            <dt>Default allocations in all</dt><dd>{formatBytes(a.plan.pool.defaultAllocationBytes)}</dd>
            <dt>Recommended pool size</dt><dd data-figure="recommended">{formatBytes(a.plan.pool.recommendedMinBytes)} to {formatBytes(a.plan.pool.recommendedMaxBytes)}</dd>
            <dt>Recovery rate for RTO</dt><dd>{a.recoveryRate.bytesPerSecond ? `${formatBytes(a.recoveryRate.bytesPerSecond)}/s, measured over ${plural(a.recoveryRate.recoveries, 'recovery', 'recoveries')}` : 'none measured yet (recover something once): RTO unknown'}</dd>
          </dl>
          {a.plan.warnings.map((w) => <p key={w} className="note">{w}</p>)}
          <h2>Groups</h2>
          <table>
            <thead><tr><th>Group</th><th>Data</th><th>Replica</th><th>Recovery points</th><th>Default allocation</th><th>RPO</th><th>RTO</th></tr></thead>
            <tbody>
              {a.plan.groups.map((g) => (
                <tr key={g.name} data-group={g.name}>
                  <td>{g.name}</td>
                  <td>{formatBytes(g.dataBytes)}</td>
                  <td>{formatBytes(g.replicaBytes)}</td>
                  <td>{formatBytes(g.recoveryPointBytes)} ({plural(g.recoveryPointsKept, 'point')})</td>
                  <td>{formatBytes(g.defaultAllocationBytes)}</td>
                  <td>{formatDuration(g.rpo.syncMinutes * 60_000)} (points every {formatDuration(g.rpo.recoveryPointMinutes * 60_000)} at most)</td>
                  <td>{g.rtoSeconds === null ? 'unknown' : formatDuration(g.rtoSeconds * 1000)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h2>Growth</h2>
          <table>
            <thead><tr><th>Year</th><th>Protected</th><th>Needed on disk</th><th>Recommended pool</th><th>RTO of all</th></tr></thead>
            <tbody>
              {a.plan.pool.growth.map((y) => (
                <tr key={y.year}>
                  <td>{y.year === 0 ? 'now' : `+${y.year}`}</td>
                  <td>{formatBytes(y.protectedBytes)}</td>
                  <td>{formatBytes(y.plannedBytes)}</td>
                  <td>{formatBytes(y.recommendedMinBytes)} – {formatBytes(y.recommendedMaxBytes)}</td>
                  <td>{y.rtoSeconds === null ? 'unknown' : formatDuration(y.rtoSeconds * 1000)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
