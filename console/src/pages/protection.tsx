/**
 * Protection: protection groups and their data sources with replica state,
 * newest recovery point and allocation use; a synchronization, a recovery
 * point or a consistency check now. The data source list is read a page at
 * a time and filtered on the server, so it opens as fast with 10,000 data
 * sources as with ten.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { api, roleAllows } from '../../../src/protocol/rest/contract.js';
import { REPLICA_STATES, type DataSource, type ProtectionGroup, type Session } from '../../../src/protocol/rest/objects.js';
import { call } from '../api.js';
import { runNow, type RunNow } from '../run-now.js';
import { formatBytes, formatTime, plural } from '../format.js';
import { useLive } from '../live.js';
import { useLoad } from '../load.js';
import { href } from '../route.js';
import { VirtualRows, type Column } from '../virtual-rows.js';
import { GroupWizard } from './group-wizard.js';
import { PlanStorage } from './plan-storage.js';

const PAGE = 500;

export function Protection({ route, session }: { route: string[]; session: Session }) {
  const group = route[0] === 'groups' && route[1] ? route[1] : null;
  const canConfigure = roleAllows(session.role, 'configure');
  if (canConfigure && route[0] === 'new') return <GroupWizard editing={null} />;
  if (roleAllows(session.role, 'view') && route[0] === 'plan') return <PlanStorage />;
  if (canConfigure && group && route[2] === 'edit') return <GroupWizard editing={group} />;
  return <ProtectionLists group={group} session={session} />;
}

function ProtectionLists({ group, session }: { group: string | null; session: Session }) {
  const canSeeGroups = roleAllows(session.role, 'view');
  const canConfigure = roleAllows(session.role, 'configure');
  const [stopping, setStopping] = useState(false);
  const groups = useLoad(() => (canSeeGroups ? call(api.listGroups) : Promise.resolve([] as ProtectionGroup[])), [canSeeGroups]);
  return (
    <div className={canSeeGroups ? 'split' : ''}>
      {canSeeGroups && (
        <nav aria-label="Protection groups">
          <h2>Protection groups</h2>
          {canConfigure && (
            <p>
              <a className="button" href={href('protection', 'new')}>New protection group…</a>
            </p>
          )}
          <p>
            <a href={href('protection', 'plan')}>Plan storage…</a>
          </p>
          {groups.error && <p className="error">{groups.error}</p>}
          <ul className="groups">
            <li>
              <a href={href('protection')} aria-current={group === null ? 'true' : undefined}>
                All data sources
              </a>
            </li>
            {(groups.data ?? []).map((g) => (
              <li key={g.name}>
                <a href={href('protection', 'groups', g.name)} aria-current={group === g.name ? 'true' : undefined}>
                  {g.name}
                  <small>
                    {plural(g.sources.length, 'data source')} · keep {plural(g.retentionDays, 'day')} · sync every {g.syncMinutes} min · points {g.pointTimes.join(', ')}
                  </small>
                </a>
              </li>
            ))}
          </ul>
        </nav>
      )}
      <div>
        {group && canConfigure && (
          <p className="group-actions">
            <a className="button secondary" href={href('protection', 'groups', group, 'edit')}>Modify group…</a>
            <button type="button" className="secondary" onClick={() => setStopping(true)}>Stop protection…</button>
          </p>
        )}
        <Sources group={group} session={session} />
      </div>
      {stopping && group && <StopProtection group={group} onClose={() => setStopping(false)} onDone={() => { setStopping(false); groups.reload(); location.hash = href('protection'); }} />}
    </div>
  );
}

/** Stop protection of a group (DPM's "stop protection of members"): delete it, keeping or deleting its recovery points. */
function StopProtection({ group, onClose, onDone }: { group: string; onClose: () => void; onDone: () => void }) {
  const [points, setPoints] = useState<'keep' | 'delete'>('keep');
  const [error, setError] = useState<string | null>(null);
  const stop = async () => {
    try {
      await call(api.deleteGroup, { params: { name: group }, query: { points } });
      onDone();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <div className="dialog-backdrop">
      <div role="dialog" aria-modal="true" aria-labelledby="stop-title" className="dialog">
        <h2 id="stop-title">Stop protection of {group}</h2>
        <p>No more synchronizations or recovery points are made for its data sources; the group is deleted.</p>
        <fieldset>
          <legend>Its recovery points</legend>
          <label><input type="radio" name="points" checked={points === 'keep'} onChange={() => setPoints('keep')} /> Keep them (they can still be recovered; remove them later with custos source remove)</label>
          <label><input type="radio" name="points" checked={points === 'delete'} onChange={() => setPoints('delete')} /> Delete them now (they can no longer be recovered)</label>
        </fieldset>
        {error && <p role="alert" className="error">{error}</p>}
        <div className="dialog-buttons">
          <button type="button" onClick={() => void stop()}>Stop protection</button>
          <button type="button" className="secondary" onClick={onClose} autoFocus>Cancel</button>
        </div>
      </div>
    </div>
  );
}

function Sources({ group, session }: { group: string | null; session: Session }) {
  const [state, setState] = useState<DataSource['replicaState'] | ''>('');
  const [search, setSearch] = useState('');
  const [rows, setRows] = useState<DataSource[]>([]);
  const [done, setDone] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [opened, setOpened] = useState<number | null>(null);
  const loading = useRef(false);
  const live = useLive('jobs');
  const filter = { ...(group ? { group } : {}), ...(state ? { state } : {}), ...(search ? { search } : {}) };
  const key = JSON.stringify(filter);

  // A new filter (or a job that ended) reads the first pages again, as many as were shown.
  useEffect(() => {
    let stale = false;
    const started = performance.now();
    loading.current = true;
    call(api.listSources, { query: { ...filter, limit: Math.max(PAGE, rows.length) } }).then(
      (page) => {
        if (stale) return;
        setRows(page);
        setDone(page.length < Math.max(PAGE, rows.length));
        setError(null);
        setOpened(Math.round(performance.now() - started));
        loading.current = false;
      },
      (e: unknown) => {
        if (stale) return;
        setError(e instanceof Error ? e.message : String(e));
        loading.current = false;
      },
    );
    return () => {
      stale = true;
    };
    // rows.length is read on purpose, not followed: scrolling further must not reload
  }, [key, live]);

  const more = useCallback(() => {
    if (done || loading.current || rows.length === 0) return;
    loading.current = true;
    call(api.listSources, { query: { ...filter, limit: PAGE, after: rows.at(-1)!.id } }).then(
      (page) => {
        setRows((r) => [...r, ...page]);
        setDone(page.length < PAGE);
        loading.current = false;
      },
      (e: unknown) => {
        setError(e instanceof Error ? e.message : String(e));
        loading.current = false;
      },
    );
  }, [done, rows, key]);

  const canOperate = roleAllows(session.role, 'operate');
  const run = async (s: DataSource, what: RunNow) => {
    setNote(null);
    setNote(await runNow(s.id, what));
  };

  const columns: Column<DataSource>[] = [
    { label: 'Data source', width: 'minmax(12rem, 3fr)', cell: (s) => <span title={s.id}>{s.id}</span> },
    { label: 'Group', width: 'minmax(5rem, 1fr)', cell: (s) => s.group ?? '—' },
    { label: 'Replica', width: '7.5rem', cell: (s) => <span className={`badge ${s.replicaState === 'ok' ? 'succeeded' : s.replicaState === 'inconsistent' ? 'failed' : 'running'}`}>{s.replicaState}</span> },
    { label: 'Newest point', width: '11.5rem', cell: (s) => formatTime(s.newestPoint) },
    { label: 'Points', width: '4.5rem', cell: (s) => s.recoveryPoints },
    { label: 'Allocation used', width: '14rem', cell: (s) => <Allocation s={s} /> },
    ...(canOperate
      ? [{
          label: 'Run now', width: '12.5rem',
          cell: (s: DataSource) => (
            <span className="icon-buttons">
              <button type="button" className="secondary" onClick={() => void run(s, 'sync')} aria-label={`Synchronize ${s.id} now`}>Sync</button>
              <button type="button" className="secondary" onClick={() => void run(s, 'recovery-point')} aria-label={`Create a recovery point of ${s.id} now`}>Point</button>
              <button type="button" className="secondary" onClick={() => void run(s, 'consistency-check')} aria-label={`Run a consistency check of ${s.id}`}>Check</button>
            </span>
          ),
        }]
      : []),
  ];

  return (
    <section aria-labelledby="sources-title">
      <div className="bar">
        <h1 id="sources-title">{group ? `Data sources of ${group}` : 'Data sources'}</h1>
        <label>
          Replica
          <select value={state} onChange={(e) => setState(e.target.value as typeof state)}>
            <option value="">any</option>
            {REPLICA_STATES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Find
          <input type="search" value={search} onChange={(e) => setSearch(e.target.value.trim())} placeholder="part of the id" maxLength={200} />
        </label>
        <span className="muted" aria-live="polite">
          {plural(rows.length, 'data source')}
          {done ? '' : '+'}
          {opened !== null ? ` · listed in ${opened} ms` : ''}
        </span>
      </div>
      {note && (
        <p role="status" className="note">
          {note}
        </p>
      )}
      {error && <p className="error">{error}</p>}
      <VirtualRows label="Data sources" rows={rows} columns={columns} rowKey={(s) => s.id} {...(done ? {} : { more })} />
    </section>
  );
}

function Allocation({ s }: { s: DataSource }) {
  if (s.allocationBytes <= 0) return <span className="muted">—</span>;
  const used = Math.min(1, s.usedBytes / s.allocationBytes);
  return (
    <span title={`${formatBytes(s.usedBytes)} of ${formatBytes(s.allocationBytes)}`}>
      <span className={`meter${used >= 0.8 ? ' high' : ''}`}>
        <span style={{ width: `${Math.round(used * 100)}%` }} />
      </span>
      {Math.round(used * 100)}% of {formatBytes(s.allocationBytes)}
    </span>
  );
}
