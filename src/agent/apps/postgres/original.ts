/**
 * Recovery of a cluster over itself (`--to original`, docs/design/postgresql.md
 * §7.3), the agent's side: find the cluster on its port and check it is the
 * one protected; stop it the way it is managed (Debian's pg_ctlcluster, else
 * pg_ctl as its owner); the point is restored beside the data directory
 * (DATA.custos-recovery-JOB: its WAL and notes stay there) and prepared as
 * the owner; the data directory is renamed aside (DATA.custos-JOB, never
 * deleted) and the recovered one put in its place; then the cluster is
 * started as it was (pg_ctlcluster, or pg_ctl restart with its saved
 * postmaster.opts) and waited for until promoted.
 *
 * Nothing of the old cluster is removed. A failure before the swap starts
 * it again as it was; a failure after leaves it stopped and says which
 * renames undo it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, renameSync } from 'node:fs';
import { readSmallFileSync, writeNewFileAs } from './small-files.js';
import { basename, dirname, join } from 'node:path';
import { CustosError } from '../../../base/index.js';
import { PG_CONTROL_BYTES, parsePgVersion, systemIdentifierOf } from '../../../format/postgres/lock-file.js';
import { clusterOnPort, listedClusters, stoppedClusterOnPort, type FindOptions } from './find-clusters.js';
import { binDirFor, ctlAsOwner, logTail, postmasterRunsIn, waitForCluster, type StartedInstance } from './new-instance.js';

/** How the cluster is stopped and started again. */
export type Manager = { readonly kind: 'pg_ctlcluster'; readonly version: number; readonly name: string } | { readonly kind: 'pg_ctl'; readonly binDir: string };

export interface OriginalCluster {
  readonly dataDirectory: string;
  readonly owner: { readonly uid: number; readonly gid: number };
  readonly running: boolean;
  readonly manager: Manager;
}

/** The cluster of `port` as it is now (running or not), checked to be the one of `systemIdentifier`. */
export async function findOriginal(port: number, systemIdentifier: string, ownerUid: number, options: FindOptions): Promise<OriginalCluster> {
  let dataDirectory: string;
  let running = true;
  try {
    dataDirectory = (await clusterOnPort(port, options)).dataDirectory;
  } catch (err) {
    if (!(err instanceof CustosError) || err.code !== 'io') throw err;
    running = false;
    dataDirectory = (await stoppedClusterOnPort(port, systemIdentifier, ownerUid, options)).dataDirectory;
  }
  const st = lstatSync(dataDirectory);
  if (!st.isDirectory() || st.uid !== ownerUid) throw new CustosError('denied', `${dataDirectory} is not a directory of the point's owner (uid ${ownerUid})`);
  const control = readSmallFileSync(join(dataDirectory, 'global', 'pg_control'), PG_CONTROL_BYTES, { ownerUid });
  if (systemIdentifierOf(control) !== systemIdentifier) {
    throw new CustosError('denied', `the cluster on port ${port} (${dataDirectory}) is not the one the point is of (system identifier ${systemIdentifier}): recover to a folder or a new instance`);
  }
  const listed = (options.listed ?? (await listedClusters())).find((l) => l.dataDirectory === dataDirectory);
  const manager: Manager = listed
    ? { kind: 'pg_ctlcluster', version: listed.version, name: listed.name.slice(listed.name.indexOf('/') + 1) }
    : { kind: 'pg_ctl', binDir: binDirFor(parsePgVersion(readSmallFileSync(join(dataDirectory, 'PG_VERSION'), 16, { ownerUid }))) };
  return { dataDirectory, owner: { uid: st.uid, gid: st.gid }, running, manager };
}

/** How long a stop or a start may take (a shutdown checkpoint of a busy cluster takes a while). */
const CTL_TIMEOUT_S = 300;

function pgCtlCluster(m: Extract<Manager, { kind: 'pg_ctlcluster' }>, args: string[]): { ok: boolean; output: string } {
  const r = spawnSync('pg_ctlcluster', [String(m.version), m.name, ...args], { encoding: 'utf8', timeout: (CTL_TIMEOUT_S + 30) * 1000, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' } });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

/** Stops the cluster (`fast`: sessions are ended, what is committed is kept; `immediate`: a recovered one that failed). */
export function stopOriginal(c: OriginalCluster, mode: 'fast' | 'immediate' = 'fast'): void {
  const r = c.manager.kind === 'pg_ctlcluster'
    ? pgCtlCluster(c.manager, ['stop', '-m', mode])
    : ctlAsOwner(c.manager.binDir, { ...c.owner, user: '' }, ['-D', c.dataDirectory, '-m', mode, '-w', '-t', String(CTL_TIMEOUT_S), 'stop'], (CTL_TIMEOUT_S + 30) * 1000);
  if (!r.ok && postmasterRunsIn(c.dataDirectory)) throw new CustosError('io', `the cluster in ${c.dataDirectory} could not be stopped: ${r.output.slice(0, 500)}`);
}

/** Starts it as it was started before (pg_ctlcluster; or pg_ctl restart, which takes the options saved in postmaster.opts). */
export function startOriginal(c: OriginalCluster, logFile: string): void {
  const r = c.manager.kind === 'pg_ctlcluster'
    ? pgCtlCluster(c.manager, ['start'])
    : ctlAsOwner(c.manager.binDir, { ...c.owner, user: '' }, ['-D', c.dataDirectory, '-l', logFile, '-W', 'restart'], (CTL_TIMEOUT_S + 30) * 1000);
  if (!r.ok) throw new CustosError('io', `the cluster in ${c.dataDirectory} could not be started: ${r.output.slice(0, 500)}; its log: ${logTail(logFile)}`);
}

/** Where the old data directory is kept, and where the recovery's WAL and notes go: beside it, on its file system. */
export function originalPlaces(dataDirectory: string, job: number): { keptAside: string; staging: string } {
  const base = join(dirname(dataDirectory), basename(dataDirectory));
  return { keptAside: `${base}.custos-${job}`, staging: `${base}.custos-recovery-${job}` };
}

/**
 * The swap, once the point is prepared in `staging/data`: the data
 * directory renamed aside, the recovered one in its place. A failure of the
 * second rename puts the first back. The cluster must not run (checked
 * again here: a supervisor could have started it meanwhile).
 */
export function swapIn(c: OriginalCluster, places: { keptAside: string; staging: string }): void {
  if (existsSync(places.keptAside)) throw new CustosError('exists', `${places.keptAside} exists: it would be overwritten`);
  if (postmasterRunsIn(c.dataDirectory)) throw new CustosError('io', `the cluster in ${c.dataDirectory} runs again (started by something else since it was stopped): nothing was swapped`);
  renameSync(c.dataDirectory, places.keptAside);
  try {
    renameSync(join(places.staging, 'data'), c.dataDirectory);
  } catch (err) {
    renameSync(places.keptAside, c.dataDirectory);
    throw err;
  }
}

/**
 * The old data directory's saved start options (postmaster.opts, which
 * pg_ctl restart reads) carried over to the recovered one: read as root
 * without following a link, only a small regular file of the owner's, and
 * written new as the owner's.
 */
export function carryStartOptions(c: OriginalCluster, keptAside: string): boolean {
  let opts: Buffer;
  try {
    opts = readSmallFileSync(join(keptAside, 'postmaster.opts'), 64 * 1024, { ownerUid: c.owner.uid });
  } catch {
    return false;
  }
  writeNewFileAs(join(c.dataDirectory, 'postmaster.opts'), opts, 0o600, c.owner.uid, c.owner.gid);
  return true;
}

export interface OriginalWait {
  readonly port: number;
  readonly user: string;
  readonly paused: boolean;
  readonly log: (level: 'info' | 'warning', message: string) => void;
  readonly cancelled: () => boolean;
}

/** Starts the recovered cluster and waits until it is promoted (or paused). */
export async function startRecovered(c: OriginalCluster, logFile: string, w: OriginalWait): Promise<StartedInstance> {
  startOriginal(c, logFile);
  w.log('info', `started the cluster again on port ${w.port}; waiting for it to replay to its target`);
  return waitForCluster({ dataDirectory: c.dataDirectory, port: w.port, owner: { ...c.owner, user: w.user }, paused: w.paused, log: w.log, cancelled: w.cancelled }, logFile);
}
