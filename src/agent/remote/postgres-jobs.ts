/**
 * The agent's jobs for a postgres data source (docs/design/postgresql.md):
 * an express full into the server (a recovery point job), and the recovery
 * of such a point into a folder, made ready to start. The cluster is found
 * again at each job from its port, the way discovery finds it, and every
 * PostgreSQL session runs as the cluster's owner.
 */
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CustosError, KnownIds } from '../../base/index.js';
import { BlobCodec } from '../../format/index.js';
import type { BackupJobSpec, RecoveryJobSpec } from '../../protocol/index.js';
import { runBackup } from '../backup/backup.js';
import { runRestore } from '../restore/restore.js';
import { clusterOnPort, DEFAULT_SOCKET_DIRS } from '../apps/postgres/find-clusters.js';
import { expressFull } from '../apps/postgres/express-full.js';
import { prepareAsOwner, recoveryBlock } from '../apps/postgres/recovered-cluster.js';
import type { JobLink } from './job-link.js';
import { RemoteChunkSink, RemoteChunkSource } from './remote-chunks.js';
import { resolveTarget } from '../restore/fs-safe.js';
import { wholePoint } from './point-manifest.js';
import { checkRecoveryTarget, chunkKeys, judgeRecovery, progressSink } from './jobs.js';

export interface PostgresJobHooks {
  readonly workers?: number;
  /** Socket directories to look in besides the usual ones (custos agent start --pg-socket-dir). */
  readonly pgSocketDirs?: readonly string[];
}

/** An express full (a recovery point job of a postgres data source): the base backup and its WAL, committed with the point's metadata. */
export async function runExpressFullJob(spec: BackupJobSpec, link: JobLink, hooks: PostgresJobHooks = {}): Promise<Record<string, unknown>> {
  const app = spec.app;
  if (!app || app.kind !== 'postgres') throw new CustosError('usage', `job ${spec.id} names a postgres data source without its settings`);
  if (spec.kind !== 'recovery-point') throw new CustosError('usage', `a ${spec.kind} job of a postgres data source is not built yet: its points are express fulls`);
  const cluster = await clusterOnPort(app.port, { socketDirs: [...DEFAULT_SOCKET_DIRS, ...(hooks.pgSocketDirs ?? [])] });
  link.log('info', `express full of the cluster on port ${app.port} (PostgreSQL ${cluster.version}, ${cluster.dataDirectory}), as ${cluster.target.user}`);
  const keys = chunkKeys(spec.keys);
  const sink = new RemoteChunkSink(link);
  const stageDir = mkdtempSync(join(tmpdir(), `custos-job-${spec.id}-`));
  const full = await expressFull({
    target: cluster.target,
    dataDirectory: cluster.dataDirectory,
    stageDir,
    label: `custos job ${spec.id}`,
    blockSize: app.blockSize,
    expectedSystemIdentifier: app.systemIdentifier,
    log: (level, message) => link.log(level, message),
    backup: (items, fixedBlocks) => runBackup({
      source: cluster.dataDirectory,
      sink,
      keys,
      compressionLevel: spec.compressionLevel,
      chunker: spec.chunker,
      // Every chunk is offered to the server, which answers which the pool lacks of this source's own.
      known: KnownIds.build(0, () => undefined),
      items,
      fixedBlocks,
      progress: progressSink(link, 'synchronizing'),
      workers: hooks.workers ?? availableParallelism(),
    }),
  }).finally(() => rmSync(stageDir, { recursive: true, force: true }));
  await sink.flush();
  const result = full.backup;
  // Files dropped while the walk ran (the only errors expressFull lets through) are dropped by replay too: the point is whole.
  for (const e of result.errors.slice(0, 100)) link.log('info', `${e.path}: gone while read (a dropped relation; WAL replay drops it too)`);
  const commit = await link.request({ op: 'commit', manifest: result.manifest, summary: { ...result.summary, errors: 0 }, partial: false, excludes: [], app: full.meta });
  return { ...commit, partial: false, errors: 0, summary: result.summary };
}

/**
 * The folder a cluster is recovered into: made here, root's and 0700, so
 * that nobody can put anything in it while it is written (the point's
 * owner gets it when the restore ends). An existing folder is taken only
 * when it is empty, root's, and writable by nobody else; the parents are
 * resolved as every recovery's are (fs-safe.ts: no untrusted links).
 */
export function makeRecoveryFolder(target: string): boolean {
  const parent = dirname(target);
  resolveTarget(parent, { create: true });
  try {
    mkdirSync(target, { mode: 0o700 });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const st = lstatSync(target);
  if (!st.isDirectory()) throw new CustosError('exists', `${target} exists and is not a directory: recover the cluster into a new or empty folder`);
  if (readdirSync(target).length > 0) throw new CustosError('exists', `${target} is not empty: recover the cluster into a new or empty folder (a recovery the agent could not finish leaves its folder: delete it first)`);
  if (st.uid !== 0 || (st.mode & 0o022) !== 0) {
    throw new CustosError('denied', `${target} is empty but ${st.uid !== 0 ? `belongs to uid ${st.uid}` : 'others may write to it'}: someone else could put files in the recovered cluster; give a folder that does not exist yet`);
  }
  return false;
}

/** The top-level parts of a recovered postgres point (docs/design/postgresql.md §4.3). */
const POINT_PARTS = new Set(['conf', 'data', 'label', 'wal']);

/**
 * Checks, as root, the tree a restore wrote before anything runs in it as
 * its owner: only the point's parts at the top; directories and regular
 * files only, each file with one link; everything owned by one account
 * other than root (the configuration may be root's), which the data
 * directory's owner is. A point of a hostile agent cannot so lead the
 * preparation, or the cluster's owner later, outside the folder.
 */
export function checkRecoveredTree(root: string): { uid: number; gid: number } {
  const data = lstatSync(join(root, 'data'));
  if (!data.isDirectory()) throw new CustosError('format', 'the point has no data directory: it is not a postgres point');
  const owner = { uid: data.uid, gid: data.gid };
  if (owner.uid === 0 || owner.gid === 0) throw new CustosError('usage', `the recovered data directory ${join(root, 'data')} belongs to root: PostgreSQL runs only as the account that owns it`);
  for (const name of readdirSync(root)) if (!POINT_PARTS.has(name)) throw new CustosError('format', `${join(root, name)} is not part of a postgres point`);
  const check = (path: string, rootAllowed: boolean): void => {
    const st = lstatSync(path);
    if (!st.isDirectory() && !st.isFile()) throw new CustosError('format', `${path} is neither a file nor a directory (a postgres point holds no links or special files)`);
    if (st.isFile() && st.nlink !== 1) throw new CustosError('format', `${path} has ${st.nlink} links (a postgres point holds no hard links)`);
    const mine = st.uid === owner.uid && st.gid === owner.gid;
    if (!mine && !(rootAllowed && st.uid === 0)) throw new CustosError('format', `${path} belongs to uid ${st.uid}, gid ${st.gid}, not to the data directory's owner (uid ${owner.uid}, gid ${owner.gid})`);
    if (st.isDirectory()) for (const name of readdirSync(path)) check(join(path, name), rootAllowed);
  };
  for (const name of readdirSync(root)) check(join(root, name), name === 'conf');
  return owner;
}

/**
 * A postgres point recovered into a folder: the whole tree (data/, label/,
 * wal/) written by the restore pipeline with the point's owners, then made
 * ready to start by a child running as the data directory's owner
 * (recovered-cluster.ts): the label moved in, recovery configured, notes
 * in RECOVERY.txt.
 */
export async function runPostgresRecoveryJob(spec: RecoveryJobSpec, link: JobLink, hooks: PostgresJobHooks = {}): Promise<Record<string, unknown>> {
  const app = spec.app;
  if (!app || app.kind !== 'postgres') throw new CustosError('usage', `job ${spec.id} recovers a postgres point without its settings`);
  if (spec.items.length > 0) throw new CustosError('usage', 'a postgres point is recovered whole, not by items');
  checkRecoveryTarget(spec.target, spec.allowSystemTarget === true);
  // Refused before anything is written: a folder whose path a restore_command cannot hold, or one that is not new or empty.
  recoveryBlock(join(spec.target, 'wal'), { target: app.target, paused: app.paused });
  const made = makeRecoveryFolder(spec.target);
  try {
    return await recoverInto(spec, app, link, hooks);
  } catch (err) {
    // Nothing half-written is left in a folder this job made (a retry, or another recovery, then finds it new).
    if (made) rmSync(spec.target, { recursive: true, force: true });
    throw err;
  }
}

/** The restore, the checks of what it wrote, and the preparation as the owner. */
async function recoverInto(spec: RecoveryJobSpec, app: NonNullable<RecoveryJobSpec['app']>, link: JobLink, hooks: PostgresJobHooks): Promise<Record<string, unknown>> {
  link.log('info', `recovering ${app.describe} to ${spec.target}`);
  const keys = chunkKeys(spec.keys);
  const codec = new BlobCodec({ keys, compressionLevel: spec.compressionLevel });
  const source = new RemoteChunkSource(link);
  const result = await runRestore({
    manifest: wholePoint(link, codec, spec.point.pages, source),
    target: spec.target,
    source,
    keys,
    compressionLevel: spec.compressionLevel,
    items: [],
    conflict: 'overwrite',
    security: 'point',
    throttle: spec.throttle ?? [],
    progress: progressSink(link, 'recovering'),
    workers: hooks.workers ?? availableParallelism(),
  });
  judgeRecovery(link, result, { point: spec.point.id, given: [], items: [], target: spec.target });
  const owner = checkRecoveredTree(spec.target);
  const dataDirectory = await prepareAsOwner(spec.target, { target: app.target, paused: app.paused, segmentBytes: app.segmentBytes, owner, describe: app.describe });
  link.log('info', `ready to start: ${dataDirectory} (owner uid ${owner.uid}); how to start, inspect and promote it: ${join(spec.target, 'RECOVERY.txt')}`);
  return { files: result.files, dirs: result.dirs, others: result.others, bytes: result.bytes, target: spec.target, dataDirectory };
}
