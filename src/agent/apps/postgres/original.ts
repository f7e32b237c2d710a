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
import { chownSync, constants, copyFileSync, existsSync, lstatSync, readFileSync, renameSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CustosError } from '../../../base/index.js';
import { PG_CONTROL_BYTES, parsePgVersion, systemIdentifierOf } from '../../../format/postgres/lock-file.js';
import { clusterOnPort, listedClusters, stoppedClusterOnPort, type FindOptions } from './find-clusters.js';
import { binDirFor, ctlAsOwner, logTail, waitForCluster, type StartedInstance } from './new-instance.js';

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
  const control = readFileSync(join(dataDirectory, 'global', 'pg_control'));
  if (control.length !== PG_CONTROL_BYTES || systemIdentifierOf(control) !== systemIdentifier) {
    throw new CustosError('denied', `the cluster on port ${port} (${dataDirectory}) is not the one the point is of (system identifier ${systemIdentifier}): recover to a folder or a new instance`);
  }
  const listed = (options.listed ?? (await listedClusters())).find((l) => l.dataDirectory === dataDirectory);
  const manager: Manager = listed
    ? { kind: 'pg_ctlcluster', version: listed.version, name: listed.name.slice(listed.name.indexOf('/') + 1) }
    : { kind: 'pg_ctl', binDir: binDirFor(parsePgVersion(readFileSync(join(dataDirectory, 'PG_VERSION')))) };
  return { dataDirectory, owner: { uid: st.uid, gid: st.gid }, running, manager };
}

function pgCtlCluster(m: Extract<Manager, { kind: 'pg_ctlcluster' }>, args: string[]): { ok: boolean; output: string } {
  const r = spawnSync('pg_ctlcluster', [String(m.version), m.name, ...args], { encoding: 'utf8', timeout: 300_000, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' } });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

/** Stops the cluster (fast: sessions are ended, what is committed is kept). */
export function stopOriginal(c: OriginalCluster): void {
  const r = c.manager.kind === 'pg_ctlcluster'
    ? pgCtlCluster(c.manager, ['stop', '-m', 'fast'])
    : ctlAsOwner(c.manager.binDir, { ...c.owner, user: '' }, ['-D', c.dataDirectory, '-m', 'fast', '-w', '-t', '300', 'stop']);
  if (!r.ok) throw new CustosError('io', `the cluster in ${c.dataDirectory} could not be stopped: ${r.output.slice(0, 500)}`);
}

/** Starts it as it was started before (pg_ctlcluster; or pg_ctl restart, which takes the options saved in postmaster.opts). */
export function startOriginal(c: OriginalCluster, logFile: string): void {
  const r = c.manager.kind === 'pg_ctlcluster'
    ? pgCtlCluster(c.manager, ['start'])
    : ctlAsOwner(c.manager.binDir, { ...c.owner, user: '' }, ['-D', c.dataDirectory, '-l', logFile, '-W', 'restart']);
  if (!r.ok) throw new CustosError('io', `the cluster in ${c.dataDirectory} could not be started: ${r.output.slice(0, 500)}; its log: ${logTail(logFile)}`);
}

/** Where the old data directory is kept, and where the recovery's WAL and notes go: beside it, on its file system. */
export function originalPlaces(dataDirectory: string, job: number): { keptAside: string; staging: string } {
  const base = join(dirname(dataDirectory), basename(dataDirectory));
  return { keptAside: `${base}.custos-${job}`, staging: `${base}.custos-recovery-${job}` };
}

/**
 * The swap, once the point is prepared in `staging/data`: the data
 * directory renamed aside, the recovered one in its place, the saved start
 * options carried over. A failure of the second rename puts the first back.
 */
export function swapIn(c: OriginalCluster, places: { keptAside: string; staging: string }): void {
  if (existsSync(places.keptAside)) throw new CustosError('exists', `${places.keptAside} exists: it would be overwritten`);
  renameSync(c.dataDirectory, places.keptAside);
  try {
    renameSync(join(places.staging, 'data'), c.dataDirectory);
  } catch (err) {
    renameSync(places.keptAside, c.dataDirectory);
    throw err;
  }
  const opts = join(places.keptAside, 'postmaster.opts');
  const to = join(c.dataDirectory, 'postmaster.opts');
  if (existsSync(opts) && !existsSync(to)) {
    // pg_ctl restart reads it as the owner (a root-owned 0600 copy would stop it).
    copyFileSync(opts, to, constants.COPYFILE_EXCL);
    chownSync(to, c.owner.uid, c.owner.gid);
  }
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
