/**
 * The PostgreSQL clusters on this computer, found without connecting
 * (docs/design/postgresql.md §3.1): the `.s.PGSQL.PORT` sockets of the
 * socket directories, each with its lock file naming the postmaster's pid
 * and data directory; the pid must be a live `postgres` whose owner owns
 * the lock file and the data directory, and the data directory's
 * postmaster.pid must name the same pid and port. `pg_lsclusters --json`
 * (Debian) adds clusters that are down and the names of the rest.
 *
 * Socket directories such as /tmp are writable by anyone: every file is
 * opened without following links and checked against what the kernel says
 * (/proc), and a socket that does not hold up is reported as a problem with
 * its reason, never as a cluster.
 */
import { postmasterRunsIn } from './new-instance.js';
import { execFile } from 'node:child_process';
import { constants, type Stats } from 'node:fs';
import { lstat, open, readdir, readlink, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CustosError } from '../../../base/index.js';
import { MAX_LOCK_FILE_BYTES, parsePgVersion, parsePostmasterLock, PG_CONTROL_BYTES, systemIdentifierOf, type PostmasterLock } from '../../../format/postgres/lock-file.js';
import type { DiscoveredInstance, DiscoveryProblem, LogMode } from '../../../protocol/messages.js';
import { connectAsOwner, type OwnerTarget } from './connect.js';
import { decideLogMode, readFacts } from './facts.js';

/** Where PostgreSQL puts its sockets unless told otherwise (Debian, then upstream's default). */
export const DEFAULT_SOCKET_DIRS: readonly string[] = ['/var/run/postgresql', '/tmp'];

/** The socket directories an agent looks in: the usual ones, then those given (custos agent start --pg-socket-dir). */
export function socketDirsWith(extra: readonly string[] = []): string[] {
  return [...DEFAULT_SOCKET_DIRS, ...extra];
}
/** The oldest major version Custos protects (pg_backup_start's predecessors from 13, §1). */
export const OLDEST_PROTECTED_VERSION = 13;
const SOCKET_NAME = /^\.s\.PGSQL\.([1-9][0-9]{0,4})$/;
const MAX_SOCKETS_PER_DIR = 64;

export interface FoundClusters {
  readonly instances: DiscoveredInstance[];
  readonly problems: DiscoveryProblem[];
}

/** A running cluster as its files show it, before the checks that span clusters. */
interface Running {
  readonly lock: PostmasterLock;
  readonly socketDir: string;
  readonly ownerUid: number;
  readonly ownerGid: number;
  readonly binDir: string;
  readonly version: number;
  readonly systemIdentifier: string | null;
  readonly standby: boolean;
}

/** Reads a small regular file without following a link; refuses anything larger than `max`. */
async function readSmallFile(path: string, max: number): Promise<{ bytes: Buffer; st: Stats }> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new CustosError('format', `${path} is not a regular file`);
    if (st.size > max) throw new CustosError('format', `${path} is ${st.size} bytes, more than ${max}`);
    const buf = Buffer.alloc(max + 1);
    const { bytesRead } = await fh.read(buf, 0, max + 1, 0);
    if (bytesRead > max) throw new CustosError('format', `${path} is more than ${max} bytes`);
    return { bytes: buf.subarray(0, bytesRead), st };
  } finally {
    await fh.close();
  }
}

/** Text for the answer: what the server shows on terminals and in the console, so printable and short (its validator's bounds). */
export function shown(text: string, max = 500): string {
  const clean = text.replace(/[\x00-\x1f\x7f-\x9f]/g, '?');
  return clean.length <= max ? clean : `${clean.slice(0, max - 1)}…`;
}

function reason(err: unknown): string {
  if (err instanceof CustosError) return shown(err.message);
  const e = err as NodeJS.ErrnoException;
  return shown(e.code ? `${e.code}${e.path ? ` on ${e.path}` : ''}` : String(err));
}

/** The postmaster behind one socket, checked; throws a CustosError saying why it is not one. */
async function checkSocket(socketDir: string, port: number, socketUid: number): Promise<Running> {
  const lockPath = join(socketDir, `.s.PGSQL.${port}.lock`);
  const { bytes, st: lockStat } = await readSmallFile(lockPath, MAX_LOCK_FILE_BYTES).catch((e: unknown) => {
    throw new CustosError('not-found', `no readable lock file beside it (${reason(e)})`);
  });
  const lock = parsePostmasterLock(bytes, 'socket', `${lockPath}`);
  if (lock.port !== port) throw new CustosError('format', `its lock file names port ${lock.port}`);
  const proc = `/proc/${lock.pid}`;
  const procStat = await stat(proc).catch(() => null);
  if (procStat === null) throw new CustosError('not-found', `its postmaster (pid ${lock.pid}) is not running: a socket left behind`);
  const exe = (await readlink(join(proc, 'exe')).catch(() => '')).replace(/ \(deleted\)$/, '');
  if (!['postgres', 'postmaster'].includes(basename(exe))) throw new CustosError('format', `pid ${lock.pid} is not a postgres server${exe ? ` (${basename(exe)})` : ''}`);
  const ownerUid = procStat.uid;
  if (lockStat.uid !== ownerUid) throw new CustosError('format', `its lock file belongs to uid ${lockStat.uid}, the server to uid ${ownerUid}`);
  if (socketUid !== ownerUid) throw new CustosError('format', `the socket belongs to uid ${socketUid}, the server to uid ${ownerUid}`);
  const dataStat = await lstat(lock.dataDirectory).catch(() => null);
  if (dataStat === null || !dataStat.isDirectory()) throw new CustosError('format', `its data directory ${lock.dataDirectory} is not a directory`);
  if (dataStat.uid !== ownerUid) throw new CustosError('format', `its data directory belongs to uid ${dataStat.uid}, the server to uid ${ownerUid}`);
  const pidFile = parsePostmasterLock((await readSmallFile(join(lock.dataDirectory, 'postmaster.pid'), MAX_LOCK_FILE_BYTES)).bytes, 'data');
  if (pidFile.pid !== lock.pid || pidFile.port !== port) throw new CustosError('format', `${lock.dataDirectory}/postmaster.pid names pid ${pidFile.pid} on port ${pidFile.port}`);
  const version = parsePgVersion((await readSmallFile(join(lock.dataDirectory, 'PG_VERSION'), 16)).bytes);
  let systemIdentifier: string | null = null;
  try {
    systemIdentifier = systemIdentifierOf((await readSmallFile(join(lock.dataDirectory, 'global', 'pg_control'), PG_CONTROL_BYTES)).bytes);
  } catch {
    // reported as unknown; the connection checks it again (§3.2)
  }
  return { lock, socketDir, ownerUid, ownerGid: procStat.gid, binDir: dirname(exe), version, systemIdentifier, standby: pidFile.status === 'standby' };
}

/** Bytes of the regular files under `dir` (not following links; unreadable parts count 0). */
export async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  const pending = [dir];
  while (pending.length > 0) {
    const d = pending.pop()!;
    const entries = await readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) pending.push(p);
      else if (e.isFile()) total += (await lstat(p).catch(() => null))?.size ?? 0;
    }
  }
  return total;
}

/** A Debian cluster as `pg_lsclusters --json` lists it (only the fields used, checked). */
export interface ListedCluster {
  readonly version: number;
  readonly name: string;
  readonly port: number;
  readonly running: boolean;
  readonly dataDirectory: string;
  readonly socketDir: string | null;
  readonly ownerUid: number;
}

/** pg_lsclusters' JSON, strictly: entries that do not hold up are left out. */
export function parseLsClusters(text: string): ListedCluster[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(v)) return [];
  const out: ListedCluster[] = [];
  for (const c of v.slice(0, 256) as unknown[]) {
    if (typeof c !== 'object' || c === null) continue;
    const o = c as Record<string, unknown>;
    const version = Number(o['version']);
    const port = Number(o['port']);
    const ownerUid = Number(o['owneruid']);
    const name = o['cluster'];
    const dataDirectory = o['pgdata'];
    const socketDir = o['socketdir'];
    if (!Number.isInteger(version) || version < 1 || version > 999 || !Number.isInteger(port) || port < 1 || port > 65535) continue;
    if (!Number.isInteger(ownerUid) || ownerUid < 0 || typeof name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(name)) continue;
    if (typeof dataDirectory !== 'string' || !dataDirectory.startsWith('/') || dataDirectory.length > 4096 || /[\x00-\x1f\x7f-\x9f]/.test(dataDirectory)) continue;
    out.push({
      version, name: `${version}/${name}`, port, running: o['running'] === 1 || o['running'] === true, dataDirectory, ownerUid,
      socketDir: typeof socketDir === 'string' && socketDir.startsWith('/') && !/[\x00-\x1f\x7f-\x9f]/.test(socketDir) ? socketDir : null,
    });
  }
  return out;
}

/** The clusters pg_lsclusters lists (none where it is not installed). */
export function listedClusters(): Promise<ListedCluster[]> {
  return runLsClusters();
}

function runLsClusters(): Promise<ListedCluster[]> {
  return new Promise((resolve) => {
    execFile('pg_lsclusters', ['--json'], { timeout: 10_000, maxBuffer: 4 << 20, env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' } }, (err, stdout) => resolve(err ? [] : parseLsClusters(stdout)));
  });
}

export interface FindOptions {
  readonly socketDirs: readonly string[];
  /** pg_lsclusters' clusters; absent: run it (nothing where it is not installed). */
  readonly listed?: readonly ListedCluster[];
  /** Account names by uid; absent: from `id -nu`. */
  readonly accountName?: (uid: number) => Promise<string>;
}

/** An account's name by uid (`id -nu`), or `uid N` when it has none. */
export function idName(uid: number): Promise<string> {
  return new Promise((resolve) => {
    execFile('id', ['-nu', '--', String(uid)], { timeout: 5000, env: { LC_ALL: 'C', PATH: '/usr/bin:/bin' } }, (err, stdout) => {
      const name = stdout.trim();
      resolve(err || !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?$/.test(name) ? `uid ${uid}` : name);
    });
  });
}

/** Why a running cluster cannot be protected as it is, or null. */
function refusal(r: Running, sharedPort: boolean): string | null {
  if (r.standby) return 'standby: not protectable yet (protect its primary)';
  if (r.version < OLDEST_PROTECTED_VERSION) return `PostgreSQL ${r.version}: Custos protects ${OLDEST_PROTECTED_VERSION} and later`;
  if (sharedPort) return `another cluster answers on port ${r.lock.port} too: set one's connection with custos source configure --conn`;
  return null;
}

/**
 * Connects as the owner and asks the cluster (§3.1 step 4): it must be the
 * one whose files were read (data directory, system identifier) and a
 * primary; then whether its logs can be ours (§6). Not connecting is a
 * refusal with the reason.
 */
async function connectedCheck(r: Running, owner: string): Promise<{ why: string | null; logMode: LogMode | null }> {
  let client;
  try {
    client = await connectAsOwner({ socketDir: r.socketDir, port: r.lock.port, uid: r.ownerUid, gid: r.ownerGid, user: owner });
  } catch (e) {
    return { why: `cannot connect as ${owner}: ${reason(e)}`, logMode: null };
  }
  try {
    const f = await readFacts(client);
    if (f.dataDirectory !== r.lock.dataDirectory) return { why: `the server on this socket says its data directory is ${f.dataDirectory.slice(0, 300)}`, logMode: null };
    if (r.systemIdentifier !== null && f.systemIdentifier !== r.systemIdentifier) return { why: 'the server on this socket is not the cluster of its data directory (system identifiers differ)', logMode: null };
    if (f.inRecovery) return { why: 'standby: not protectable yet (protect its primary)', logMode: null };
    const d = decideLogMode(f);
    return { why: d.mode === 'logs' ? null : `express fulls only: ${d.reasons.join('; ')}`.slice(0, 500), logMode: d.mode };
  } catch (e) {
    return { why: `cannot read its settings: ${reason(e)}`, logMode: null };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The running clusters behind the sockets (one per data directory, the first socket directory found), and the sockets that are not one. */
async function runningClusters(options: FindOptions): Promise<{ byData: Map<string, Running>; problems: DiscoveryProblem[]; listed: readonly ListedCluster[] }> {
  const problems: DiscoveryProblem[] = [];
  const running: Running[] = [];
  const listed = options.listed ?? (await runLsClusters());
  const seenDirs = new Set<string>();
  // The socket directories of the clusters pg_lsclusters says run are looked in too.
  const dirs = [...options.socketDirs, ...listed.flatMap((l) => (l.running && l.socketDir ? [l.socketDir] : []))];
  for (const dir of dirs) {
    if (seenDirs.has(dir)) continue;
    seenDirs.add(dir);
    const names = await readdir(dir).catch(() => [] as string[]);
    const sockets = names.filter((n) => SOCKET_NAME.test(n)).sort().slice(0, MAX_SOCKETS_PER_DIR);
    for (const name of sockets) {
      const path = join(dir, name);
      const st = await lstat(path).catch(() => null);
      if (st === null || !st.isSocket()) continue;
      try {
        running.push(await checkSocket(dir, Number(SOCKET_NAME.exec(name)![1]), st.uid));
      } catch (e) {
        problems.push({ path, why: reason(e) });
      }
    }
  }
  // One cluster with sockets in several directories is one instance (the first directory found).
  const byData = new Map<string, Running>();
  for (const r of running) if (!byData.has(r.lock.dataDirectory)) byData.set(r.lock.dataDirectory, r);
  return { byData, problems, listed };
}

export async function findClusters(options: FindOptions): Promise<FoundClusters> {
  const { byData, problems, listed } = await runningClusters(options);
  const portCount = new Map<number, number>();
  for (const r of byData.values()) portCount.set(r.lock.port, (portCount.get(r.lock.port) ?? 0) + 1);
  const accountName = options.accountName ?? idName;
  const instances: DiscoveredInstance[] = [];
  for (const r of byData.values()) {
    const owner = await accountName(r.ownerUid);
    let why = refusal(r, (portCount.get(r.lock.port) ?? 0) > 1);
    let logMode: LogMode | null = null;
    if (why === null) {
      const connected = await connectedCheck(r, owner);
      ({ why, logMode } = connected);
    }
    instances.push({
      kind: 'postgres', port: r.lock.port, socketDir: r.socketDir, dataDirectory: r.lock.dataDirectory, version: r.version,
      name: listed.find((l) => l.dataDirectory === r.lock.dataDirectory)?.name ?? null,
      systemIdentifier: r.systemIdentifier, owner, state: r.standby ? 'standby' : 'running',
      sizeBytes: await treeBytes(r.lock.dataDirectory), protectable: why === null || logMode !== null, why: why === null ? null : shown(why), logMode,
    });
  }
  for (const l of listed) {
    if (byData.has(l.dataDirectory) || l.running) continue; // running: its socket was looked at, and any problem with it reported
    instances.push({
      kind: 'postgres', port: l.port, socketDir: null, dataDirectory: l.dataDirectory, version: l.version, name: l.name, systemIdentifier: null,
      owner: await accountName(l.ownerUid), state: 'down', sizeBytes: await treeBytes(l.dataDirectory), protectable: false, logMode: null,
      why: `down: start it (pg_ctlcluster ${l.name.replace('/', ' ')} start) to protect it`,
    });
  }
  instances.sort((a, b) => a.port - b.port || a.dataDirectory.localeCompare(b.dataDirectory));
  return { instances, problems };
}

/** The cluster a postgres data source names: how to connect to it as its owner, and where its data is. */
export interface ClusterOnPort {
  readonly target: OwnerTarget;
  readonly dataDirectory: string;
  /** Major version. */
  readonly version: number;
}

/**
 * The running cluster on `port`, found and checked as discovery finds it
 * (its lock file, /proc, the owner of lock, socket and data directory). None
 * running is transient (`io`: the job is retried, as for an agent away);
 * one that cannot be protected, or two on one port, is `usage`.
 */
export async function clusterOnPort(port: number, options: FindOptions): Promise<ClusterOnPort> {
  const { byData, problems, listed } = await runningClusters(options);
  const here = [...byData.values()].filter((r) => r.lock.port === port);
  if (here.length === 0) {
    const problem = problems.find((p) => p.path.endsWith(`/.s.PGSQL.${port}`));
    const down = listed.find((l) => l.port === port);
    const why = problem ? `its socket ${problem.path}: ${problem.why}` : down ? `${down.name} is down (pg_ctlcluster ${down.name.replace('/', ' ')} start)` : `no socket .s.PGSQL.${port} in ${options.socketDirs.join(', ')}`;
    throw new CustosError('io', `no PostgreSQL cluster is running on port ${port}: ${why}`, { transient: true });
  }
  const r = here[0]!;
  const why = refusal(r, here.length > 1);
  if (why !== null) throw new CustosError('usage', `the cluster on port ${port} cannot be protected: ${why}`);
  const user = await (options.accountName ?? idName)(r.ownerUid);
  if (user.startsWith('uid ')) throw new CustosError('usage', `the owner of the cluster on port ${port} (uid ${r.ownerUid}) has no account name to connect as`);
  return { target: { socketDir: r.socketDir, port, uid: r.ownerUid, gid: r.ownerGid, user }, dataDirectory: r.lock.dataDirectory, version: r.version };
}

/** A cluster that is not running, found for reading what it left (a tail read, §7.1). */
export interface StoppedCluster {
  readonly dataDirectory: string;
  readonly ownerUid: number;
}

/**
 * The stopped cluster that listened on `port`: its data directory from the
 * socket lock file a killed postmaster left behind, or from pg_lsclusters.
 * It must be the protected cluster (`systemIdentifier` in its pg_control),
 * owned by `ownerUid` (the data directory's owner in the newest point), and
 * not running (postmaster.pid gone, or naming a process that is not a
 * postmaster in that directory). Anything else is `not-found` with why.
 */
export async function stoppedClusterOnPort(port: number, systemIdentifier: string, ownerUid: number, options: FindOptions): Promise<StoppedCluster> {
  const candidates: string[] = [];
  for (const dir of options.socketDirs) {
    try {
      const { bytes, st } = await readSmallFile(join(dir, `.s.PGSQL.${port}.lock`), MAX_LOCK_FILE_BYTES);
      const lock = parsePostmasterLock(bytes, 'socket');
      if (lock.port === port && st.uid === ownerUid) candidates.push(lock.dataDirectory);
    } catch {
      // none here
    }
  }
  for (const l of options.listed ?? (await runLsClusters())) if (l.port === port && l.ownerUid === ownerUid) candidates.push(l.dataDirectory);
  const why: string[] = [];
  for (const dataDirectory of [...new Set(candidates)]) {
    try {
      const st = await lstat(dataDirectory);
      if (!st.isDirectory() || st.uid !== ownerUid) throw new CustosError('format', `it is not a directory of uid ${ownerUid}`);
      const control = systemIdentifierOf((await readSmallFile(join(dataDirectory, 'global', 'pg_control'), PG_CONTROL_BYTES)).bytes);
      if (control !== systemIdentifier) throw new CustosError('format', `its system identifier is ${control}, not ${systemIdentifier}`);
      // A postmaster runs in its data directory: a live pid whose cwd is elsewhere is another process that took the number.
      if (postmasterRunsIn(dataDirectory)) throw new CustosError('io', `its postmaster is running but does not answer on port ${port}: try again`, { transient: true });
      return { dataDirectory, ownerUid };
    } catch (e) {
      if (e instanceof CustosError && e.transient) throw e;
      why.push(`${shown(dataDirectory, 200)}: ${reason(e)}`);
    }
  }
  throw new CustosError('not-found', `no stopped cluster of port ${port} to read: ${why.length > 0 ? why.join('; ') : 'no socket lock file left behind and pg_lsclusters does not list it'}`);
}
