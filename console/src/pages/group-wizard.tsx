/**
 * The create / modify protection group wizard, with DPM's steps: members,
 * name, short-term goals (retention, synchronization frequency, recovery
 * point times and days), exclusions, disk allocation, replica creation,
 * consistency checks, summary. The choices offered are the server's own
 * (GET /api/protection-options); the server checks everything again and its
 * refusal is shown on the step it concerns. After creation the new group's
 * data sources are followed live until their replicas are made.
 */
import { useState, type ReactNode } from 'react';
import { api } from '../../../src/protocol/rest/contract.js';
import type { GroupAnswer, ProtectionGroup, ProtectionOptions } from '../../../src/protocol/rest/objects.js';
import { call } from '../api.js';
import { formatTime, plural } from '../format.js';
import { useLive } from '../live.js';
import { useLoad } from '../load.js';
import { href } from '../route.js';
import { MemberPicker } from './member-picker.js';

const STEPS = ['Members', 'Name', 'Short-term goals', 'Exclusions', 'Disk allocation', 'Replica creation', 'Consistency check', 'Summary'] as const;
type Step = (typeof STEPS)[number];

interface Draft {
  name: string;
  sources: string[];
  retentionDays: number;
  sync: string;
  pointTimes: string[];
  days: string[];
  excludes: string[];
  replica: 'now' | 'later' | 'manual';
  replicaAt: string;
  checkAuto: boolean;
  checkDaily: string;
  endUserRecovery: boolean;
}

function draftOf(o: ProtectionOptions, g: ProtectionGroup | null): Draft {
  const replica = g?.replica ?? o.defaults.replica;
  const check = g?.check ?? o.defaults.check;
  return {
    name: g?.name ?? '',
    sources: [...(g?.sources ?? [])],
    retentionDays: g?.retentionDays ?? o.defaults.retentionDays,
    sync: g ? (g.syncMinutes % 60 === 0 ? `${g.syncMinutes / 60}h` : `${g.syncMinutes}m`) : o.defaults.sync,
    pointTimes: [...(g?.pointTimes ?? o.defaults.pointTimes)],
    days: [...(g?.days ?? o.defaults.days)],
    excludes: [...(g?.excludes ?? [])],
    replica: replica.startsWith('later') ? 'later' : (replica as 'now' | 'manual'),
    replicaAt: replica.startsWith('later@') ? replica.slice(6) : '22:00',
    checkAuto: check.split(',').includes('auto'),
    checkDaily: /daily@(\d\d:\d\d)/.exec(check)?.[1] ?? '',
    endUserRecovery: g?.endUserRecovery ?? false,
  };
}

function policyOf(d: Draft) {
  const check = [d.checkAuto ? 'auto' : '', d.checkDaily ? `daily@${d.checkDaily}` : ''].filter(Boolean).join(',') || 'off';
  return {
    retention: d.retentionDays,
    sync: d.sync,
    points: d.pointTimes,
    days: d.days,
    excludes: d.excludes,
    replica: d.replica === 'later' ? `later@${d.replicaAt}` : d.replica,
    check,
    endUserRecovery: d.endUserRecovery,
  };
}

export function GroupWizard({ editing }: { editing: string | null }) {
  const options = useLoad(() => call(api.protectionOptions), []);
  const group = useLoad(() => (editing ? call(api.getGroup, { params: { name: editing } }) : Promise.resolve(null)), [editing]);
  if (options.error || group.error) return <p className="error">{options.error ?? group.error}</p>;
  if (!options.data || group.data === undefined) return <p className="muted">Loading…</p>;
  return <Wizard options={options.data} group={group.data} />;
}

function Wizard({ options, group }: { options: ProtectionOptions; group: ProtectionGroup | null }) {
  const [d, setD] = useState<Draft>(() => draftOf(options, group));
  const [step, setStep] = useState<Step>('Members');
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<GroupAnswer | null>(null);
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof Draft>(k: K, v: Draft[K]) => setD((x) => ({ ...x, [k]: v }));
  const steps = STEPS.filter((s) => !(group && s === 'Name'));
  const i = steps.indexOf(step);
  const blocked = step === 'Members' ? d.sources.length === 0 && !group : step === 'Name' ? !/^[A-Za-z0-9._-]{1,63}$/.test(d.name) : step === 'Short-term goals' ? d.pointTimes.length === 0 || d.days.length === 0 : false;

  const finish = async () => {
    setBusy(true);
    setError(null);
    try {
      const policy = policyOf(d);
      setDone(group
        ? await call(api.updateGroup, { params: { name: group.name }, body: { sources: d.sources, ...policy } })
        : await call(api.createGroup, { body: { name: d.name, sources: d.sources, ...policy } }));
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  if (done) return <Created answer={done} modified={group !== null} />;
  return (
    <section aria-labelledby="wizard-title" className="wizard">
      <h1 id="wizard-title">{group ? `Modify protection group ${group.name}` : 'Create a protection group'}</h1>
      <div className="wizard-layout">
        <ol className="wizard-steps" aria-label="Steps">
          {steps.map((s, n) => (
            <li key={s} aria-current={s === step ? 'step' : undefined} className={n < i ? 'done' : ''}>
              {s}
            </li>
          ))}
        </ol>
        <div className="wizard-page">
          <h2>{step}</h2>
          {step === 'Members' && (
            <Page hint="What to protect: folders on protected computers (each becomes a data source). Browse a computer or type a path.">
              <MemberPicker sources={d.sources} onChange={(s) => set('sources', s)} />
            </Page>
          )}
          {step === 'Name' && (
            <Page hint="A name for the group: letters, digits, dot, dash, underscore.">
              <label>Group name <input value={d.name} onChange={(e) => set('name', e.target.value.trim())} maxLength={63} required autoFocus /></label>
            </Page>
          )}
          {step === 'Short-term goals' && (
            <Page hint="How long recovery points stay on disk, how often changes are synchronized, and when recovery points are made.">
              <label>
                Retention range (days)
                <input type="number" min={options.retentionDays.min} max={options.retentionDays.max} value={d.retentionDays} onChange={(e) => set('retentionDays', Number(e.target.value))} />
              </label>
              <label>
                Synchronization frequency
                <select value={d.sync} onChange={(e) => set('sync', e.target.value)}>
                  {options.syncChoices.map((c) => <option key={c} value={c}>every {c}</option>)}
                </select>
              </label>
              <TimeList times={d.pointTimes} max={options.maxPointTimes} onChange={(t) => set('pointTimes', t)} />
              <fieldset>
                <legend>Days</legend>
                {options.weekdays.map((w) => (
                  <label key={w} className="inline">
                    <input type="checkbox" checked={d.days.includes(w)} onChange={(e) => set('days', e.target.checked ? options.weekdays.filter((x) => x === w || d.days.includes(x)) : d.days.filter((x) => x !== w))} /> {w}
                  </label>
                ))}
              </fieldset>
              <p className="muted">
                {plural(d.pointTimes.length * d.days.length, 'recovery point')} a week; at most {options.maxRecoveryPoints} are kept per data source.
              </p>
            </Page>
          )}
          {step === 'Exclusions' && (
            <Page hint="Files and folders left out, as glob patterns (*.mp3, cache/, **/tmp/**).">
              <ListEditor label="Exclusion pattern" items={d.excludes} onChange={(x) => set('excludes', x)} placeholder="*.mp3" />
            </Page>
          )}
          {step === 'Disk allocation' && (
            <Page hint="How much of the storage pool each data source may use.">
              <p>{options.allocation}</p>
            </Page>
          )}
          {step === 'Replica creation' && (
            <Page hint="When the first full copy (the replica) is made.">
              <fieldset>
                <legend>Create the replica</legend>
                <label><input type="radio" name="replica" checked={d.replica === 'now'} onChange={() => set('replica', 'now')} /> Now</label>
                <label><input type="radio" name="replica" checked={d.replica === 'later'} onChange={() => set('replica', 'later')} /> Later, at <input type="time" aria-label="Replica creation time" value={d.replicaAt} onChange={(e) => set('replicaAt', e.target.value)} /></label>
                <label><input type="radio" name="replica" checked={d.replica === 'manual'} onChange={() => set('replica', 'manual')} /> Manually (I copy the data myself, then run a consistency check)</label>
              </fieldset>
            </Page>
          )}
          {step === 'Consistency check' && (
            <Page hint="A consistency check compares the replica with the computer and repairs what differs.">
              <label><input type="checkbox" checked={d.checkAuto} onChange={(e) => set('checkAuto', e.target.checked)} /> Run one automatically when a replica becomes inconsistent</label>
              <label>Also run one every day at <input type="time" aria-label="Daily consistency check time" value={d.checkDaily} onChange={(e) => set('checkDaily', e.target.value)} /> (empty: not daily)</label>
              <label><input type="checkbox" checked={d.endUserRecovery} onChange={(e) => set('endUserRecovery', e.target.checked)} /> Let people recover their own files (end-user recovery)</label>
            </Page>
          )}
          {step === 'Summary' && (
            <Page hint="Check, then create.">
              <dl className="facts">
                <dt>Name</dt><dd>{group?.name ?? d.name}</dd>
                <dt>Members</dt><dd>{d.sources.length === 0 ? '—' : d.sources.map((s) => <div key={s}>{s}</div>)}</dd>
                <dt>Retention</dt><dd>{plural(d.retentionDays, 'day')}</dd>
                <dt>Synchronization</dt><dd>every {d.sync}</dd>
                <dt>Recovery points</dt><dd>{d.pointTimes.join(', ')} on {d.days.join(', ')}</dd>
                <dt>Exclusions</dt><dd>{d.excludes.join(', ') || 'none'}</dd>
                <dt>Replica</dt><dd>{d.replica === 'later' ? `later, at ${d.replicaAt}` : d.replica}</dd>
                <dt>Consistency check</dt><dd>{policyOf(d).check}</dd>
                <dt>End-user recovery</dt><dd>{d.endUserRecovery ? 'on' : 'off'}</dd>
              </dl>
            </Page>
          )}
          {error && <p role="alert" className="error">{error}</p>}
          <div className="dialog-buttons">
            {i > 0 && <button type="button" className="secondary" onClick={() => setStep(steps[i - 1]!)}>Back</button>}
            {i < steps.length - 1 && <button type="button" disabled={blocked} onClick={() => setStep(steps[i + 1]!)}>Next</button>}
            {step === 'Summary' && <button type="button" disabled={busy} onClick={() => void finish()}>{group ? 'Save changes' : 'Create group'}</button>}
            <a href={href('protection')}>Cancel</a>
          </div>
        </div>
      </div>
    </section>
  );
}

function Page({ hint, children }: { hint: string; children: ReactNode }) {
  return (
    <div className="wizard-fields">
      <p className="muted">{hint}</p>
      {children}
    </div>
  );
}

function TimeList({ times, max, onChange }: { times: string[]; max: number; onChange: (t: string[]) => void }) {
  const [t, setT] = useState('12:00');
  return (
    <fieldset>
      <legend>Recovery point times</legend>
      <ul className="chips">
        {times.map((x) => (
          <li key={x}>{x} <button type="button" className="link" aria-label={`Remove ${x}`} onClick={() => onChange(times.filter((y) => y !== x))}>×</button></li>
        ))}
      </ul>
      {times.length < max && (
        <span>
          <input type="time" aria-label="Recovery point time to add" value={t} onChange={(e) => setT(e.target.value)} />
          <button type="button" className="secondary" onClick={() => t && !times.includes(t) && onChange([...times, t].sort())}>Add time</button>
        </span>
      )}
    </fieldset>
  );
}

export function ListEditor({ label, items, onChange, placeholder }: { label: string; items: string[]; onChange: (x: string[]) => void; placeholder: string }) {
  const [v, setV] = useState('');
  const add = () => {
    const x = v.trim();
    if (x && !items.includes(x)) onChange([...items, x]);
    setV('');
  };
  return (
    <div>
      <ul className="chips">
        {items.map((x) => (
          <li key={x}><code>{x}</code> <button type="button" className="link" aria-label={`Remove ${x}`} onClick={() => onChange(items.filter((y) => y !== x))}>×</button></li>
        ))}
      </ul>
      <label>{label} <input value={v} onChange={(e) => setV(e.target.value)} placeholder={placeholder} maxLength={1024} onKeyDown={(e) => { if (e.key === 'Enter') { e.preventDefault(); add(); } }} /></label>
      <button type="button" className="secondary" onClick={add}>Add</button>
    </div>
  );
}

/** After the wizard: the group's data sources followed live until their replicas exist. */
function Created({ answer, modified }: { answer: GroupAnswer; modified: boolean }) {
  const live = useLive('jobs');
  const sources = useLoad(() => call(api.listSources, { query: { group: answer.group.name } }), [answer.group.name, live]);
  return (
    <section aria-labelledby="created-title">
      <h1 id="created-title">Protection group {answer.group.name} {modified ? 'saved' : 'created'}</h1>
      {answer.warnings.map((w) => <p key={w} className="note">{w}</p>)}
      <table>
        <thead><tr><th>Data source</th><th>Replica</th><th>Newest point</th></tr></thead>
        <tbody>
          {(sources.data ?? []).map((s) => (
            <tr key={s.id} data-source={s.id} data-replica={s.replicaState}>
              <td>{s.id}</td>
              <td><span className={`badge ${s.replicaState === 'ok' ? 'succeeded' : s.replicaState === 'inconsistent' ? 'failed' : 'running'}`}>{s.replicaState === 'none' ? 'replica not made yet' : s.replicaState}</span></td>
              <td>{formatTime(s.newestPoint)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p><a href={href('protection', 'groups', answer.group.name)}>Go to the group</a> · <a href={href('monitoring', 'jobs')}>See the jobs</a></p>
    </section>
  );
}
