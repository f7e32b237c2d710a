/**
 * A recovered cluster started as a new instance (docs/design/postgresql.md
 * §7.3): on a port nothing uses, with the binaries of its major version,
 * as its owner, and waited for until it has replayed to its target and
 * promoted (or paused there, read-only). It runs on outside any service
 * manager; the notes in its folder say how to stop it or hand it over.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { readSmallFileSync } from './small-files.js';
import { connect } from 'node:net';
import { join } from 'node:path';
import { CustosError } from '../../../base/index.js';
import { MAX_LOCK_FILE_BYTES, parsePgVersion, parsePostmasterLock } from '../../../format/postgres/lock-file.js';
import { connectAsOwner } from './connect.js';

/** Where a major version's binaries are on Debian and on the PGDG packages of RHEL-like systems. */
export function binDirCandidates(major: number): string[] {
  return [`/usr/lib/postgresql/${major}/bin`, `/usr/pgsql-${major}/bin`];
}

/** The bin directory with pg_ctl of `major`, or `usage` naming the package. */
export function binDirFor(major: number, candidates = binDirCandidates(major)): string {
  const dir = candidates.find((d) => existsSync(join(d, 'pg_ctl')));
  if (!dir) throw new CustosError('usage', `PostgreSQL ${major} is not installed on this computer (no pg_ctl in ${candidates.join(' or ')}): install postgresql-${major}, or recover to a folder`);
  return dir;
}

function tcpAnswers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (v: boolean) => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(2000, () => done(true)); // something holds it and does not answer: not free
    s.once('connect', () => done(true));
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code !== 'ECONNREFUSED' && e.code !== 'EADDRNOTAVAIL' && e.code !== 'EAFNOSUPPORT'));
  });
}

/** Why `port` cannot take a new instance (a socket's lock file in a socket directory, something answering on TCP), or null. */
export async function portInUse(port: number, socketDirs: readonly string[]): Promise<string | null> {
  for (const dir of socketDirs) if (existsSync(join(dir, `.s.PGSQL.${port}.lock`))) return `a PostgreSQL server has its socket for port ${port} in ${dir}`;
  for (const host of ['127.0.0.1', '::1']) if (await tcpAnswers(host, port)) return `something answers on ${host} port ${port}`;
  return null;
}

export interface StartOptions {
  /** The recovery folder (the log goes there) and its data directory. */
  readonly root: string;
  readonly dataDirectory: string;
  readonly port: number;
  readonly owner: { readonly uid: number; readonly gid: number; readonly user: string };
  /** Paused at the target (or, at latest, a standby): done once it answers, read-only. */
  readonly paused: boolean;
  readonly log: (level: 'info' | 'warning', message: string) => void;
  readonly cancelled: () => boolean;
  /** How often to look (ms). */
  readonly pollMs?: number;
}

export interface StartedInstance {
  readonly state: 'promoted' | 'paused' | 'standby';
  readonly socketDir: string;
  readonly pid: number;
}

/** pg_ctl as the owner (no other groups, an empty environment). */
export function ctlAsOwner(binDir: string, owner: StartOptions['owner'], args: string[], timeoutMs = 120_000): { ok: boolean; output: string } {
  const r = spawnSync(join(binDir, 'pg_ctl'), args, { uid: owner.uid, gid: owner.gid, cwd: '/', env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' }, encoding: 'utf8', timeout: timeoutMs });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

/** The last lines of a server log (a small regular file, read as root without following a link). */
export function logTail(path: string): string {
  try {
    return readSmallFileSync(path, 8192, { tail: true }).toString('utf8').trim().split('\n').slice(-8).join(' | ').replace(/[\x00-\x1f\x7f]/g, '?');
  } catch {
    return '(no log)';
  }
}

/**
 * Starts the instance and waits until it is promoted (or, `paused`, until it
 * answers at its target). A postmaster that dies, or a cancel, stops the
 * wait with an error (the instance stopped first).
 */
export async function startInstance(o: StartOptions): Promise<StartedInstance> {
  const major = parsePgVersion(readSmallFileSync(join(o.dataDirectory, 'PG_VERSION'), 16));
  const binDir = binDirFor(major);
  const logFile = join(o.root, 'postgresql.log');
  const started = ctlAsOwner(binDir, o.owner, ['-D', o.dataDirectory, '-l', logFile, '-W', 'start']);
  if (!started.ok) throw new CustosError('io', `pg_ctl start failed: ${started.output.slice(0, 500)}; its log: ${logTail(logFile)}`);
  o.log('info', `started PostgreSQL ${major} on port ${o.port} (${o.dataDirectory}); waiting for it to replay to its target`);
  try {
    return await waitForCluster(o, logFile);
  } catch (err) {
    const stopped = ctlAsOwner(binDir, o.owner, ['-D', o.dataDirectory, '-m', 'immediate', '-w', 'stop']);
    if (!stopped.ok && postmasterRunsIn(o.dataDirectory)) o.log('warning', `the instance could not be stopped (${stopped.output.slice(0, 300)}): stop it with pg_ctl -D ${o.dataDirectory} stop`);
    throw err;
  }
}

/** Whether a postmaster runs in `dataDirectory` now: its postmaster.pid names a live process whose working directory is that directory. */
export function postmasterRunsIn(dataDirectory: string): boolean {
  try {
    const lock = parsePostmasterLock(readSmallFileSync(join(dataDirectory, 'postmaster.pid'), MAX_LOCK_FILE_BYTES), 'data');
    return realpathSync(`/proc/${lock.pid}/cwd`) === realpathSync(dataDirectory);
  } catch {
    return false;
  }
}

/** Waits until the cluster of `o.dataDirectory`, started, is promoted (or paused at its target); its postmaster dying or a cancel is an error. */
export async function waitForCluster(o: Omit<StartOptions, 'root'>, logFile: string): Promise<StartedInstance> {
  const pollMs = o.pollMs ?? 500;
  let lastReport = Date.now();
  for (let waited = 0; ; waited += pollMs) {
    if (o.cancelled()) throw new CustosError('cancelled', 'cancelled');
    await new Promise((r) => setTimeout(r, pollMs));
    let lock;
    try {
      lock = parsePostmasterLock(readSmallFileSync(join(o.dataDirectory, 'postmaster.pid'), MAX_LOCK_FILE_BYTES), 'data');
    } catch {
      lock = null;
    }
    if (lock === null) {
      if (waited > 30_000) throw new CustosError('io', `the instance did not start: ${logTail(logFile)}`);
      continue;
    }
    if (!existsSync(`/proc/${lock.pid}`)) throw new CustosError('io', `the instance stopped during recovery: ${logTail(logFile)}`);
    if (lock.socketDir === '') throw new CustosError('usage', 'the instance listens on no Unix socket (unix_socket_directories is empty): it cannot be waited for');
    let state: { in_recovery: boolean; pause: string | null; replayed: string | null } | undefined;
    try {
      const client = await connectAsOwner({ socketDir: lock.socketDir, port: o.port, uid: o.owner.uid, gid: o.owner.gid, user: o.owner.user }, { timeoutMs: 5000 });
      try {
        state = (await client.query('SELECT pg_is_in_recovery() AS in_recovery, CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() END AS pause, pg_last_wal_replay_lsn()::text AS replayed')).rows[0];
      } finally {
        await client.end().catch(() => undefined);
      }
    } catch {
      // still starting up, or not yet consistent: it refuses connections until then
    }
    if (state) {
      if (!state.in_recovery) return { state: 'promoted', socketDir: lock.socketDir, pid: lock.pid };
      if (o.paused && state.pause === 'paused') return { state: 'paused', socketDir: lock.socketDir, pid: lock.pid };
      if (o.paused && lock.status === 'standby' && state.pause === 'not paused' && !existsSync(join(o.dataDirectory, 'recovery.signal'))) return { state: 'standby', socketDir: lock.socketDir, pid: lock.pid };
    }
    if (Date.now() - lastReport >= 10_000) {
      lastReport = Date.now();
      o.log('info', state ? `replaying: at ${state.replayed ?? '?'}` : 'starting: not yet consistent');
    }
  }
}
