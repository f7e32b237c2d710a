/** Monitoring: active alerts with their recommended action and a button that does it; jobs with live progress, filters and logs. */
import { useState } from 'react';
import { api, roleAllows } from '../../../src/protocol/rest/contract.js';
import { JOB_KIND_NAMES, JOB_STATES, type Alert, type Job, type Session } from '../../../src/protocol/rest/objects.js';
import { call } from '../api.js';
import { runNow } from '../run-now.js';
import { describeProgress, formatBytes, formatDuration, formatTime, progressFigures, resultFields } from '../format.js';
import { useLive } from '../live.js';
import { useLoad } from '../load.js';
import { href } from '../route.js';

export function Monitoring({ route, session }: { route: string[]; session: Session }) {
  const tab = route[0] === 'jobs' ? 'jobs' : 'alerts';
  const canSeeAlerts = roleAllows(session.role, 'view');
  return (
    <>
      <nav className="tabs" aria-label="Monitoring">
        {canSeeAlerts && (
          <a href={href('monitoring', 'alerts')} aria-current={tab === 'alerts' ? 'page' : undefined}>
            Alerts
          </a>
        )}
        <a href={href('monitoring', 'jobs')} aria-current={tab === 'jobs' ? 'page' : undefined}>
          Jobs
        </a>
      </nav>
      {tab === 'alerts' && canSeeAlerts ? <Alerts session={session} /> : route[1] ? <JobDetail id={route[1]} session={session} /> : <Jobs />}
    </>
  );
}

const ACTION_LABEL: Record<NonNullable<Alert['action']>, string> = {
  sync: 'Synchronize now',
  'recovery-point': 'Create a recovery point now',
  'consistency-check': 'Run a consistency check',
  'grow-allocation': 'Grow the disk allocation',
};

/** What an alert's button needs: growing an allocation is configuration, the others start jobs. */
const ACTION_ACCESS = (a: NonNullable<Alert['action']>) => (a === 'grow-allocation' ? 'configure' : 'operate');

/** Grows a data source's allocation as auto-grow would; answers the sentence to show. */
async function growAllocation(source: string): Promise<string> {
  try {
    const s = await call(api.setAllocation, { params: { id: source }, body: { grow: true } });
    return `Disk allocation of ${source} grown to ${formatBytes(s.allocationBytes)} (${formatBytes(s.usedBytes)} used).`;
  } catch (e) {
    return `Could not grow it: ${e instanceof Error ? e.message : String(e)}`;
  }
}

function Alerts({ session }: { session: Session }) {
  const [state, setState] = useState<'active' | 'resolved' | 'all'>('active');
  const live = useLive('alerts');
  const alerts = useLoad(() => call(api.listAlerts, { query: { state } }), [state, live]);
  const [note, setNote] = useState<string | null>(null);
  const canOperate = roleAllows(session.role, 'operate');

  const act = async (a: Alert) => {
    setNote(null);
    if (a.action === 'grow-allocation') setNote(await growAllocation(a.subject));
    else if (a.action) setNote(await runNow(a.subject, a.action, ': the alert is resolved when it succeeds'));
  };
  const resolve = async (a: Alert) => {
    try {
      await call(api.resolveAlert, { params: { id: String(a.id) } });
      alerts.reload();
    } catch (e) {
      setNote(`Could not resolve alert ${a.id}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };

  return (
    <section aria-labelledby="alerts-title">
      <div className="bar">
        <h1 id="alerts-title">Alerts</h1>
        <label>
          Show
          <select value={state} onChange={(e) => setState(e.target.value as typeof state)}>
            <option value="active">active</option>
            <option value="resolved">resolved</option>
            <option value="all">all</option>
          </select>
        </label>
      </div>
      {note && (
        <p role="status" className="note">
          {note}
        </p>
      )}
      {alerts.error && <p className="error">{alerts.error}</p>}
      {alerts.data && alerts.data.length === 0 && <p className="empty">No {state === 'all' ? '' : state + ' '}alerts.</p>}
      {alerts.data && alerts.data.length > 0 && (
        <table>
          <thead>
            <tr>
              <th>Severity</th>
              <th>Raised</th>
              <th>Subject</th>
              <th>What happened</th>
              <th>Recommended action</th>
              <th>
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {alerts.data.map((a) => (
              <tr key={a.id} data-alert={a.kind} className={`severity-${a.severity}`}>
                <td>
                  <span className={`badge ${a.severity}`}>{a.severity}</span>
                  {a.state === 'resolved' && <span className="badge resolved">resolved {formatTime(a.resolvedAt)}</span>}
                </td>
                <td>{formatTime(a.raisedAt)}</td>
                <td className="subject">{a.subject}</td>
                <td>{a.message}</td>
                <td>{a.recommendedAction}</td>
                <td className="actions">
                  {a.action && a.state === 'active' && roleAllows(session.role, ACTION_ACCESS(a.action)) && (
                    <button type="button" onClick={() => void act(a)}>
                      {ACTION_LABEL[a.action]}
                    </button>
                  )}
                  {canOperate && a.state === 'active' && (
                    <button type="button" className="secondary" onClick={() => void resolve(a)}>
                      Resolve
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Jobs() {
  const [state, setState] = useState<Job['state'] | ''>('');
  const [kind, setKind] = useState('');
  const [source, setSource] = useState('');
  const live = useLive('jobs');
  const query = { limit: 200, ...(state ? { state } : {}), ...(kind ? { kind } : {}), ...(source ? { source } : {}) };
  const jobs = useLoad(() => call(api.listJobs, { query }), [state, kind, source, live]);
  const now = Date.now();
  return (
    <section aria-labelledby="jobs-title">
      <div className="bar">
        <h1 id="jobs-title">Jobs</h1>
        <label>
          State
          <select value={state} onChange={(e) => setState(e.target.value as typeof state)}>
            <option value="">any</option>
            {JOB_STATES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Kind
          <select value={kind} onChange={(e) => setKind(e.target.value)}>
            <option value="">any</option>
            {JOB_KIND_NAMES.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
        <label>
          Data source
          <input value={source} onChange={(e) => setSource(e.target.value.trim())} placeholder="AGENT:fs:/path" maxLength={4200} />
        </label>
      </div>
      {jobs.error && <p className="error">{jobs.error}</p>}
      {jobs.data && jobs.data.length === 0 && <p className="empty">No jobs match.</p>}
      {jobs.data && jobs.data.length > 0 && (
        <table>
          <thead>
            <tr>
              <th>Job</th>
              <th>Kind</th>
              <th>State</th>
              <th>Data source</th>
              <th>Queued</th>
              <th>Progress</th>
            </tr>
          </thead>
          <tbody>
            {jobs.data.map((j) => (
              <tr key={j.id} data-job={j.id}>
                <td>
                  <a href={href('monitoring', 'jobs', String(j.id))}>{j.id}</a>
                </td>
                <td>{j.kind}</td>
                <td>
                  <span className={`badge ${j.state}`}>{j.state}</span>
                </td>
                <td className="subject">{j.source ?? '—'}</td>
                <td>{formatTime(j.createdAt)}</td>
                <td>
                  <Progress job={j} now={now} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Progress({ job, now }: { job: Job; now: number }) {
  if (job.state === 'queued') return <span className="muted">waiting</span>;
  if (job.state !== 'running') {
    const took = job.startedAt && job.finishedAt ? Date.parse(job.finishedAt) - Date.parse(job.startedAt) : null;
    return <span className="muted">{took === null ? '—' : `took ${formatDuration(took)}`}</span>;
  }
  const f = progressFigures(job.progress, job.startedAt, now);
  return (
    <span className="progress">
      <progress max={100} value={f.percent ?? undefined} aria-label={`job ${job.id} progress`} />
      {describeProgress(job.progress, job.startedAt, now)}
    </span>
  );
}

function JobDetail({ id, session }: { id: string; session: Session }) {
  const live = useLive('jobs');
  const job = useLoad(() => call(api.getJob, { params: { id } }), [id, live]);
  const [note, setNote] = useState<string | null>(null);
  const j = job.data;
  const cancel = async () => {
    try {
      await call(api.cancelJob, { params: { id } });
      job.reload();
    } catch (e) {
      setNote(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <section aria-labelledby="job-title">
      <p>
        <a href={href('monitoring', 'jobs')}>← All jobs</a>
      </p>
      {job.error && <p className="error">{job.error}</p>}
      {j && (
        <>
          <div className="bar">
            <h1 id="job-title">
              Job {j.id}: {j.kind}
            </h1>
            <span className={`badge ${j.state}`}>{j.state}</span>
            {roleAllows(session.role, 'operate') && (j.state === 'queued' || j.state === 'running') && (
              <button type="button" onClick={() => void cancel()}>
                Cancel job
              </button>
            )}
          </div>
          {note && <p className="error">{note}</p>}
          <dl className="facts">
            <dt>Data source</dt>
            <dd>{j.source ?? '—'}</dd>
            <dt>Agent</dt>
            <dd>{j.agent ?? '—'}</dd>
            <dt>Queued</dt>
            <dd>{formatTime(j.createdAt)}</dd>
            <dt>Started</dt>
            <dd>{formatTime(j.startedAt)}</dd>
            <dt>Finished</dt>
            <dd>{formatTime(j.finishedAt)}</dd>
            <dt>Attempts</dt>
            <dd>{j.attempts}</dd>
            <dt>Progress</dt>
            <dd>
              <Progress job={j} now={Date.now()} />
            </dd>
            {j.error && (
              <>
                <dt>Error</dt>
                <dd className="error">{j.error}</dd>
              </>
            )}
          </dl>
          {j.result && <Result result={j.result} />}
          <h2>Log</h2>
          {(j.log ?? []).length === 0 ? (
            <p className="empty">Nothing logged yet.</p>
          ) : (
            <ol className="log">
              {(j.log ?? []).map((l, i) => (
                <li key={i} className={`level-${l.level}`}>
                  <time>{formatTime(l.time, true)}</time> <span className="level">{l.level}</span> {l.message}
                </li>
              ))}
            </ol>
          )}
        </>
      )}
    </section>
  );
}

/** A job's result as named rows (the CLI's `job show` names them the same). */
function Result({ result }: { result: Record<string, unknown> }) {
  const rows = resultFields(result);
  if (rows.length === 0) return null;
  return (
    <>
      <h2>Result</h2>
      <dl className="facts">
        {rows.map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
    </>
  );
}
