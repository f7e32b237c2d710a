/**
 * Management: the protected computers' agents (and attaching a new one),
 * the storage pool and its maintenance jobs, catalog backups, notifications
 * (management-notify.tsx); for those who
 * manage access, console users, API tokens and the audit log
 * (management-access.tsx). Each tab offers only what the signed-in role may
 * do; the server checks again.
 */
import { useRef, useState } from 'react';
import { api, roleAllows, type Access } from '../../../src/protocol/rest/contract.js';
import type { Agent, Job, PoolStatus, Session } from '../../../src/protocol/rest/objects.js';
import { call } from '../api.js';
import { formatBytes, formatTime, plural, resultFields } from '../format.js';
import { useLive } from '../live.js';
import { useLoad } from '../load.js';
import { href } from '../route.js';
import { Audit, Tokens, Users } from './management-access.js';
import { Notifications } from './management-notify.js';
import { ConfirmDialog, CopyButton, JobLink, JobState, messageOf } from './management-parts.js';
import '../management.css';

const TABS = [
  { id: 'agents', label: 'Agents', access: 'view' },
  { id: 'pool', label: 'Storage pool', access: 'view' },
  { id: 'users', label: 'Users', access: 'manage-access' },
  { id: 'tokens', label: 'Tokens', access: 'manage-access' },
  { id: 'audit', label: 'Audit log', access: 'manage-access' },
  { id: 'catalog', label: 'Catalog backups', access: 'view' },
  { id: 'notifications', label: 'Notifications', access: 'view' },
] as const satisfies readonly { id: string; label: string; access: Access }[];

export function Management({ route, session }: { route: string[]; session: Session }) {
  const tabs = TABS.filter((t) => roleAllows(session.role, t.access));
  const tab = tabs.find((t) => t.id === route[0]) ?? tabs[0];
  if (!tab) return <p className="empty">Your role ({session.role}) has nothing to manage here.</p>;
  return (
    <>
      <nav className="tabs" aria-label="Management">
        {tabs.map((t) => (
          <a key={t.id} href={href('management', t.id)} aria-current={t.id === tab.id ? 'page' : undefined}>
            {t.label}
          </a>
        ))}
      </nav>
      {tab.id === 'agents' && <Agents session={session} />}
      {tab.id === 'pool' && <Pool session={session} />}
      {tab.id === 'users' && <Users session={session} />}
      {tab.id === 'tokens' && <Tokens session={session} />}
      {tab.id === 'audit' && <Audit />}
      {tab.id === 'catalog' && <CatalogBackups session={session} />}
      {tab.id === 'notifications' && <Notifications session={session} />}
    </>
  );
}

// ---------------------------------------------------------------------------
// Agents

/** The list is read again when an agent is attached, connects, disconnects or is removed (the live topic `agents`). */
function Agents({ session }: { session: Session }) {
  const live = useLive('agents');
  const agents = useLoad(() => call(api.listAgents), [live]);
  const [removing, setRemoving] = useState<Agent | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const { reload } = agents;
  const canAttach = roleAllows(session.role, 'configure');
  const canRemove = roleAllows(session.role, 'manage-access');
  const list = agents.data ?? [];
  return (
    <section aria-labelledby="agents-title">
      <div className="bar">
        <h1 id="agents-title">Agents</h1>
        <span className="muted">
          {plural(list.length, 'agent')}, {list.filter((a) => a.status === 'connected').length} connected
        </span>
        <button type="button" className="secondary" onClick={reload}>
          Refresh
        </button>
      </div>
      {canAttach && <Attach agents={list} />}
      {note && (
        <p role="status" className="note">
          {note}
        </p>
      )}
      {agents.error && <p className="error">{agents.error}</p>}
      {agents.data && list.length === 0 && <p className="empty">No computer is attached yet.</p>}
      {list.length > 0 && (
        <table>
          <thead>
            <tr>
              <th>Agent</th>
              <th>Status</th>
              <th>Version</th>
              <th>Host name</th>
              <th>Attached</th>
              <th>Data sources</th>
              {canRemove && (
                <th>
                  <span className="sr-only">Actions</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {list.map((a) => (
              <tr key={a.name} data-agent={a.name}>
                <td className="subject">{a.name}</td>
                <td>
                  <span className={`badge ${a.status === 'connected' ? 'succeeded' : 'failed'}`}>{a.status}</span>
                  <small className="muted">last contact {formatTime(a.lastSeen)}</small>
                </td>
                <td>{a.version ?? '—'}</td>
                <td>{a.hostname}</td>
                <td>{formatTime(a.attachedAt)}</td>
                <td>
                  <Sources ids={a.dataSources} />
                </td>
                {canRemove && (
                  <td className="actions">
                    <button type="button" className="secondary" onClick={() => setRemoving(a)} aria-label={`Remove agent ${a.name}`}>
                      Remove
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {removing && (
        <ConfirmDialog
          title={`Remove agent ${removing.name}?`}
          confirmLabel={`Remove ${removing.name}`}
          onClose={() => setRemoving(null)}
          onConfirm={async () => {
            await call(api.removeAgent, { params: { name: removing.name } });
            setNote(`Agent ${removing.name} removed: its certificate is revoked.`);
            reload();
          }}
        >
          <p>
            Its certificate is revoked and the server disconnects it at once: the computer {removing.hostname} can no longer synchronize, create recovery points or
            recover, and its agent stops. Its data sources and their recovery points stay on this server (remove those under Protection).
          </p>
          <p>A computer whose data sources are in protection groups cannot be removed: take them out of their groups first. To protect it again, attach it anew.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}

function Sources({ ids }: { ids: readonly string[] }) {
  if (ids.length === 0) return <span className="muted">none</span>;
  if (ids.length <= 3)
    return (
      <ul className="plain">
        {ids.map((id) => (
          <li key={id} className="subject">
            {id}
          </li>
        ))}
      </ul>
    );
  return (
    <details>
      <summary>{plural(ids.length, 'data source')}</summary>
      <ul className="plain">
        {ids.map((id) => (
          <li key={id} className="subject">
            {id}
          </li>
        ))}
      </ul>
    </details>
  );
}

const EXPIRIES = [
  ['30m', '30 minutes'],
  ['1h', '1 hour'],
  ['1d', '1 day'],
  ['7d', '7 days'],
] as const;

/** "Attach a computer": a one-time enrollment token and the commands that use it. */
function Attach({ agents }: { agents: readonly Agent[] }) {
  const [open, setOpen] = useState(false);
  const [expires, setExpires] = useState<string>('1h');
  const [token, setToken] = useState<{ token: string; expiresAt: string; known: readonly string[] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const commands = useRef<HTMLPreElement>(null);

  const create = async () => {
    setBusy(true);
    setError(null);
    try {
      const t = await call(api.createEnrollmentToken, { body: { expires } });
      setToken({ ...t, known: agents.map((a) => a.name) });
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };
  const close = () => {
    setOpen(false);
    setToken(null);
    setError(null);
  };
  const arrived = token ? agents.filter((a) => !token.known.includes(a.name)) : [];

  if (!open)
    return (
      <p>
        <button type="button" onClick={() => setOpen(true)}>
          Attach a computer
        </button>
      </p>
    );
  const text = token
    ? `npx custos agent attach --server ${location.origin} --token ${token.token} --data /var/lib/custos-agent\nnpx custos agent start --data /var/lib/custos-agent`
    : '';
  return (
    <section className="panel" aria-labelledby="attach-title">
      <h2 id="attach-title">Attach a computer</h2>
      <p>
        The computer gets a certificate from this server with a one-time enrollment token. Custos must be installed on it (Node.js 22 or later); the agent
        runs as root to read every file.
      </p>
      {!token && (
        <div className="bar">
          <label>
            Token valid for
            <select value={expires} onChange={(e) => setExpires(e.target.value)}>
              {EXPIRIES.map(([v, label]) => (
                <option key={v} value={v}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          <button type="button" onClick={() => void create()} disabled={busy} aria-describedby={error ? 'attach-error' : undefined}>
            Create an enrollment token
          </button>
          <button type="button" className="secondary" onClick={close}>
            Cancel
          </button>
          {error && (
            <p id="attach-error" role="alert" className="error">
              {error}
            </p>
          )}
        </div>
      )}
      {token && (
        <>
          <dl className="facts">
            <dt>Enrollment token</dt>
            <dd>
              <code className="secret" data-enrollment-token>
                {token.token}
              </code>
            </dd>
            <dt>Valid until</dt>
            <dd>{formatTime(token.expiresAt)} (used once)</dd>
          </dl>
          <p id="attach-commands-label">Run these on the computer to protect, as root:</p>
          <pre className="commands" ref={commands} aria-labelledby="attach-commands-label" data-attach-commands>
            {text}
          </pre>
          <p className="bar">
            <CopyButton text={text} label="Copy the commands" select={() => commands.current} />
            <button type="button" className="secondary" onClick={close}>
              Done
            </button>
          </p>
          <p className="muted">
            Add <code>--name NAME</code> to attach it under another name than its host name. Run the agent as a service so it starts with the computer.
          </p>
          <p role="status" className={arrived.length > 0 ? 'note' : 'muted'}>
            {arrived.length > 0
              ? `Attached: ${arrived.map((a) => `${a.name} (${a.status})`).join(', ')}.`
              : 'Waiting for the computer to attach…'}
          </p>
        </>
      )}
    </section>
  );
}

// ---------------------------------------------------------------------------
// Storage pool

const MAINTENANCE_KINDS = ['gc', 'verify', 'prune'] as const;
const MAINTENANCE_SHOWN = 10;

/** The newest maintenance jobs: one page of each kind, merged (the jobs list filters on one kind at a time). */
async function maintenanceJobs(): Promise<Job[]> {
  const pages = await Promise.all(MAINTENANCE_KINDS.map((kind) => call(api.listJobs, { query: { kind, limit: MAINTENANCE_SHOWN } })));
  return pages.flat().sort((a, b) => b.id - a.id).slice(0, MAINTENANCE_SHOWN);
}

function Pool({ session }: { session: Session }) {
  const live = useLive('jobs');
  const pool = useLoad(() => call(api.getPool), [live]);
  const jobs = useLoad(maintenanceJobs, [live]);
  const [note, setNote] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const canOperate = roleAllows(session.role, 'operate');

  const queue = async (what: 'gc' | 'verify') => {
    setNote(null);
    setError(null);
    try {
      const job = what === 'gc' ? await call(api.poolGc) : await call(api.poolVerify);
      setNote(`Job ${job.id} (${job.kind}) queued.`);
      jobs.reload();
    } catch (e) {
      setError(`Could not queue it: ${messageOf(e)}`);
    }
  };

  return (
    <section aria-labelledby="pool-title">
      <div className="bar">
        <h1 id="pool-title">Storage pool</h1>
        {pool.data && (
          <span className="muted">
            {formatBytes(pool.data.bytesStored)} stored in {plural(pool.data.chunks, 'chunk')}
          </span>
        )}
      </div>
      {pool.error && <p className="error">{pool.error}</p>}
      {pool.data && <Directories pool={pool.data} />}
      <h2>Maintenance</h2>
      <p className="muted">
        Garbage collection frees the space of deleted recovery points; a verification re-reads every chunk and checks it. Both also run on their own schedule.
      </p>
      {canOperate && (
        <div className="bar">
          <button type="button" onClick={() => void queue('gc')} aria-describedby="pool-error">
            Queue a garbage collection
          </button>
          <button type="button" onClick={() => void queue('verify')} aria-describedby="pool-error">
            Queue a verification
          </button>
          <span id="pool-error" role="alert" className="error">
            {error}
          </span>
        </div>
      )}
      {note && (
        <p role="status" className="note">
          {note}
        </p>
      )}
      {jobs.error && <p className="error">{jobs.error}</p>}
      {jobs.data && jobs.data.length === 0 && <p className="empty">No maintenance job has run yet.</p>}
      {jobs.data && jobs.data.length > 0 && (
        <table aria-label="Latest maintenance jobs">
          <thead>
            <tr>
              <th>Job</th>
              <th>Kind</th>
              <th>State</th>
              <th>Queued</th>
              <th>Finished</th>
              <th>Result</th>
            </tr>
          </thead>
          <tbody>
            {jobs.data.map((j) => (
              <tr key={j.id} data-job={j.id}>
                <td>
                  <JobLink job={j} />
                </td>
                <td>{j.kind}</td>
                <td>
                  <JobState job={j} />
                </td>
                <td>{formatTime(j.createdAt)}</td>
                <td>{formatTime(j.finishedAt)}</td>
                <td>
                  <ResultLine job={j} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Directories({ pool }: { pool: PoolStatus }) {
  return (
    <table aria-label="Pool directories">
      <thead>
        <tr>
          <th>Directory</th>
          <th>Use of its file system</th>
          <th>Used</th>
          <th>Free</th>
          <th>Total</th>
        </tr>
      </thead>
      <tbody>
        {pool.directories.map((d) => {
          const used = d.bytesTotal > 0 ? d.bytesUsed / d.bytesTotal : 0;
          return (
            <tr key={d.path}>
              <td className="subject">{d.path}</td>
              <td>
                <meter
                  className="use"
                  min={0}
                  max={1}
                  low={0.8}
                  high={0.9}
                  optimum={0}
                  value={used}
                  aria-label={`${d.path}: ${Math.round(used * 100)}% used`}
                />{' '}
                {Math.round(used * 100)}%
              </td>
              <td>{formatBytes(d.bytesUsed)}</td>
              <td>{formatBytes(d.bytesFree)}</td>
              <td>{formatBytes(d.bytesTotal)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function ResultLine({ job }: { job: Job }) {
  if (!job.result) return <span className="muted">—</span>;
  const fields = resultFields(job.result);
  return <span className="result">{fields.map(([k, v]) => `${k}: ${v}`).join(' · ')}</span>;
}

// ---------------------------------------------------------------------------
// Catalog backups

function CatalogBackups({ session }: { session: Session }) {
  const live = useLive('jobs');
  const [followed, setFollowed] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const recent = useLoad(() => call(api.listJobs, { query: { kind: 'catalog-backup', limit: 5 } }), [live]);
  const job = useLoad(() => (followed === null ? Promise.resolve(null) : call(api.getJob, { params: { id: String(followed) } })), [followed, live]);
  const canOperate = roleAllows(session.role, 'operate');

  const backUp = async () => {
    setError(null);
    try {
      setFollowed((await call(api.catalogBackup)).id);
    } catch (e) {
      setError(`Could not queue it: ${messageOf(e)}`);
    }
  };
  const j = job.data;
  return (
    <section aria-labelledby="catalog-title">
      <div className="bar">
        <h1 id="catalog-title">Catalog backups</h1>
      </div>
      <p>
        The catalog holds the configuration, the jobs and the index of every recovery point. The server backs it up on its own schedule into the storage pool;
        a backup can also be taken now.
      </p>
      {canOperate && (
        <div className="bar">
          <button type="button" onClick={() => void backUp()} aria-describedby="catalog-error">
            Take a catalog backup now
          </button>
          <span id="catalog-error" role="alert" className="error">
            {error}
          </span>
        </div>
      )}
      {j && (
        <p role="status" className="note" data-followed-job={j.id}>
          Catalog backup job <JobLink job={j} />: <JobState job={j} /> <ResultLine job={j} />
        </p>
      )}
      {job.error && <p className="error">{job.error}</p>}
      <h2>Listing and restoring backups</h2>
      <p>
        Backups are listed and restored with the server stopped, on the server's computer (a restore replaces the catalog, which the running server holds
        open):
      </p>
      <pre className="commands">{'custos server catalog list --data DIR\ncustos server catalog restore [BACKUP-ID] --data DIR'}</pre>
      <p className="muted">
        DIR is the server's data directory; without a backup id the newest is restored. The catalog it replaces is kept aside, and the restored one is
        reconciled with the pool before the server starts again.
      </p>
      <h2>Latest catalog backup jobs</h2>
      {recent.error && <p className="error">{recent.error}</p>}
      {recent.data && recent.data.length === 0 && <p className="empty">No catalog backup job yet.</p>}
      {recent.data && recent.data.length > 0 && (
        <table aria-label="Latest catalog backup jobs">
          <thead>
            <tr>
              <th>Job</th>
              <th>State</th>
              <th>Queued</th>
              <th>Finished</th>
              <th>Result</th>
            </tr>
          </thead>
          <tbody>
            {recent.data.map((r) => (
              <tr key={r.id} data-job={r.id}>
                <td>
                  <JobLink job={r} />
                </td>
                <td>
                  <JobState job={r} />
                </td>
                <td>{formatTime(r.createdAt)}</td>
                <td>{formatTime(r.finishedAt)}</td>
                <td>
                  <ResultLine job={r} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
