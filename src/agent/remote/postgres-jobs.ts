/**
 * The agent's jobs for a postgres data source (docs/design/postgresql.md):
 * an express full into the server (a recovery point job), and the recovery
 * of such a point into a folder, made ready to start. The cluster is found
 * again at each job from its port, the way discovery finds it, and every
 * PostgreSQL session runs as the cluster's owner.
 */
import { lstatSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustosError, KnownIds } from '../../base/index.js';
import { BlobCodec, type ManifestEntry } from '../../format/index.js';
import type { BackupJobSpec, RecoveryJobSpec } from '../../protocol/index.js';
import { runBackup } from '../backup/backup.js';
import { runRestore } from '../restore/restore.js';
import { clusterOnPort, DEFAULT_SOCKET_DIRS } from '../apps/postgres/find-clusters.js';
import { expressFull } from '../apps/postgres/express-full.js';
import { prepareAsOwner, recoveryBlock } from '../apps/postgres/recovered-cluster.js';
import type { JobLink } from './job-link.js';
import { RemoteChunkSink, RemoteChunkSource } from './remote-chunks.js';
import { readAhead, streamEntries } from './point-manifest.js';
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
  });
  await sink.flush();
  const result = full.backup;
  // Files dropped while the walk ran (the only errors expressFull lets through) are dropped by replay too: the point is whole.
  for (const e of result.errors.slice(0, 100)) link.log('info', `${e.path}: gone while read (a dropped relation; WAL replay drops it too)`);
  const commit = await link.request({ op: 'commit', manifest: result.manifest, summary: { ...result.summary, errors: 0 }, partial: false, excludes: [], app: full.meta });
  return { ...commit, partial: false, errors: 0, summary: result.summary };
}

/**
 * Refuses a target that exists and is not an empty directory: a recovered
 * cluster is a new tree (nothing of another one may be mixed into it).
 */
function checkEmptyTarget(target: string): void {
  let st;
  try {
    st = lstatSync(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isDirectory()) throw new CustosError('exists', `${target} exists and is not a directory: recover the cluster into a new or empty folder`);
  if (readdirSync(target).length > 0) throw new CustosError('exists', `${target} is not empty: recover the cluster into a new or empty folder`);
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
  checkEmptyTarget(spec.target);
  link.log('info', `recovering ${app.describe} to ${spec.target}`);
  const keys = chunkKeys(spec.keys);
  const codec = new BlobCodec({ keys, compressionLevel: spec.compressionLevel });
  const source = new RemoteChunkSource(link);
  const manifest: AsyncIterable<ManifestEntry> = readAhead(streamEntries(link, codec, spec.point.pages), (e) => source.expect(e.chunks ?? []));
  const result = await runRestore({
    manifest,
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
  const data = statSync(join(spec.target, 'data'));
  if (data.uid === 0) throw new CustosError('usage', `the recovered data directory ${join(spec.target, 'data')} belongs to root: PostgreSQL runs only as the account that owns it`);
  const dataDirectory = await prepareAsOwner(spec.target, { target: app.target, paused: app.paused, segmentBytes: app.segmentBytes, owner: { uid: data.uid, gid: data.gid }, describe: app.describe });
  link.log('info', `ready to start: ${dataDirectory} (owner uid ${data.uid}); how to start, inspect and promote it: ${join(spec.target, 'RECOVERY.txt')}`);
  return { files: result.files, dirs: result.dirs, others: result.others, bytes: result.bytes, target: spec.target, dataDirectory };
}
