/**
 * The agent's jobs for a postgres data source (docs/design/postgresql.md):
 * an express full into the server (a recovery point job), and the recovery
 * of such a point into a folder, made ready to start. The cluster is found
 * again at each job from its port, the way discovery finds it, and every
 * PostgreSQL session runs as the cluster's owner.
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { CustosError, KnownIds, type ChunkId } from '../../base/index.js';
import { BlobCodec, comparePaths, ManifestPageBuilder, type AppPointMeta, type ChunkRef, type ManifestEntry, type ManifestPageRef, type PointSummary } from '../../format/index.js';
import { formatLsn, parseLsn } from '../../format/postgres/wal-names.js';
import type { BackupJobSpec, RecoveryJobSpec } from '../../protocol/index.js';
import { runBackup, storeChunk } from '../backup/backup.js';
import { runRestore } from '../restore/restore.js';
import { clusterOnPort, idName, shown, socketDirsWith, stoppedClusterOnPort } from '../apps/postgres/find-clusters.js';
import { portInUse, postmasterRunsIn, startInstance } from '../apps/postgres/new-instance.js';
import { carryStartOptions, findOriginal, originalPlaces, startOriginal, startRecovered, stopOriginal, swapIn } from '../apps/postgres/original.js';
import { readWalTail } from '../apps/postgres/wal-tail.js';
import { expressFull } from '../apps/postgres/express-full.js';
import { prepareAsOwner, recoveryBlock } from '../apps/postgres/recovered-cluster.js';
import { advanceSlot, logSync, type Marker } from '../apps/postgres/log-sync.js';
import type { OwnerTarget } from '../apps/postgres/connect.js';
import type { JobLink } from './job-link.js';
import { RemoteChunkSink, RemoteChunkSource } from './remote-chunks.js';
import { resolveTarget } from '../restore/fs-safe.js';
import { fetchPages, wholePoint } from './point-manifest.js';
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
  if (spec.kind === 'sync' && app.previous) return runLogSyncJob(spec, link, hooks);
  if (spec.kind !== 'recovery-point' && spec.kind !== 'consistency-check') throw new CustosError('usage', `a ${spec.kind} job of a postgres data source is not built yet: its points are express fulls and log synchronizations`);
  const cluster = await clusterOnPort(app.port, { socketDirs: socketDirsWith(hooks.pgSocketDirs) });
  // A consistency check's part here: an express full, which reads every file of the cluster (the server has checked the WAL chain of its points).
  if (spec.kind === 'consistency-check') link.log('info', 'consistency check: an express full reads the whole cluster again and protects it from here on');
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
    slot: app.slot,
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
  if (full.meta.logMode === 'logs') await moveSlot(cluster.target, app.slot, full.meta.stopLsn, full.meta.walSegmentSize, link);
  return { ...commit, partial: false, errors: 0, summary: result.summary, ...(full.logModeWhy !== null ? { logModeWhy: shown(full.logModeWhy, 1000) } : {}) };
}

/** After a commit: the slot lets go of the WAL the pool now holds (a failure only keeps more WAL: logged, not fatal). */
async function moveSlot(target: OwnerTarget, slot: string, end: string, segmentBytes: number, link: JobLink): Promise<void> {
  try {
    const to = await advanceSlot(target, slot, parseLsn(end)!, segmentBytes);
    if (to) link.log('info', `replication slot ${slot} moved to ${to}: PostgreSQL may recycle the WAL before it`);
  } catch (err) {
    link.log('warning', `replication slot ${slot} not moved (${err instanceof Error ? err.message : String(err)}): PostgreSQL keeps the WAL until the next synchronization moves it`);
  }
}

/** WAL segments are cut into blocks of this size (a partial last segment shares its first blocks with the whole one later). */
const WAL_BLOCK = 1024 * 1024;

/**
 * A log synchronization (a sync job of a postgres data source whose log is
 * ours): the marker and the WAL through it (log-sync.ts), then a log point:
 * the previous point's manifest with its WAL entries from the resumed
 * segment on replaced by the spool's, committed with the log point's
 * metadata; then the slot moves on.
 */
async function runLogSyncJob(spec: BackupJobSpec, link: JobLink, hooks: PostgresJobHooks): Promise<Record<string, unknown>> {
  const started = Date.now();
  const app = spec.app!;
  const prev = app.previous!;
  if (!spec.previous) throw new CustosError('usage', `job ${spec.id} synchronizes a log without the previous point's manifest`);
  const socketDirs = socketDirsWith(hooks.pgSocketDirs);
  let cluster: Awaited<ReturnType<typeof clusterOnPort>>;
  try {
    cluster = await clusterOnPort(app.port, { socketDirs });
  } catch (err) {
    // For a recovery to the latest, a cluster that does not run still has its pg_wal.
    if (!app.tail) throw err;
    link.log('info', `the cluster does not run (${err instanceof Error ? err.message : String(err)}): reading what its pg_wal holds past the newest point`);
    return runTailJob(spec, link, socketDirs, started);
  }
  const stageDir = mkdtempSync(join(tmpdir(), `custos-job-${spec.id}-`));
  try {
    const prevEnd = parseLsn(prev.app.walEnd ?? prev.app.stopLsn)!;
    const sync = await logSync({
      target: cluster.target, dataDirectory: cluster.dataDirectory, slot: app.slot, systemIdentifier: prev.app.systemIdentifier, timeline: prev.app.timeline,
      segmentBytes: prev.app.walSegmentSize, previousEnd: prevEnd, markerName: `custos-job-${spec.id}`, spoolDir: join(stageDir, 'wal'),
      log: (level, message) => link.log(level, message),
    });
    const done = await commitLogPoint(spec, link, await previousEntries(spec, link), { ...sync, walEnd: sync.walEnd, spoolDir: join(stageDir, 'wal') }, started);
    await moveSlot(cluster.target, app.slot, formatLsn(sync.walEnd), prev.app.walSegmentSize, link);
    return done;
  } finally {
    rmSync(stageDir, { recursive: true, force: true });
  }
}

/**
 * A tail point (a sync job of a recovery to the latest, its cluster not
 * running): the WAL its pg_wal holds past the newest point, read as root
 * and page by page checked (wal-tail.ts), committed as a log point without a
 * marker. The stopped cluster must be the one protected, owned by the owner
 * of the newest point's data directory.
 */
async function runTailJob(spec: BackupJobSpec, link: JobLink, socketDirs: readonly string[], started: number): Promise<Record<string, unknown>> {
  const prev = spec.app!.previous!;
  const previous = await previousEntries(spec, link);
  const dataDir = previous.find((e) => e.type === 'dir' && e.path.toString('latin1') === 'data');
  if (!dataDir) throw new CustosError('format', 'the newest point has no data/ directory: it is not a postgres point');
  const cluster = await stoppedClusterOnPort(spec.app!.port, prev.app.systemIdentifier, dataDir.uid, { socketDirs });
  const stageDir = mkdtempSync(join(tmpdir(), `custos-job-${spec.id}-`));
  try {
    const spoolDir = join(stageDir, 'wal');
    mkdirSync(spoolDir, { mode: 0o700 });
    const tail = readWalTail({
      dataDirectory: cluster.dataDirectory, systemIdentifier: prev.app.systemIdentifier, timeline: prev.app.timeline, segmentBytes: prev.app.walSegmentSize, ownerUid: dataDir.uid,
      previousEnd: parseLsn(prev.app.walEnd ?? prev.app.stopLsn)!, spoolDir,
    });
    if (tail === null) throw new CustosError('not-found', `${cluster.dataDirectory}/pg_wal holds nothing past the newest point: the latest is the newest point`);
    link.log('info', `read ${tail.segments.length} segment(s) of WAL from ${cluster.dataDirectory}/pg_wal through ${formatLsn(tail.walEnd)}; it stops there: ${tail.stoppedBecause}`);
    return await commitLogPoint(spec, link, previous, { marker: null, walEnd: tail.walEnd, segments: tail.segments, spoolDir }, started);
  } finally {
    rmSync(stageDir, { recursive: true, force: true });
  }
}

/** The newest point's manifest entries (a log point extends them). */
async function previousEntries(spec: BackupJobSpec, link: JobLink): Promise<ManifestEntry[]> {
  const codec = new BlobCodec({ keys: chunkKeys(spec.keys), compressionLevel: spec.compressionLevel });
  return (await fetchPages(link, codec, spec.previous!.pages)).flat();
}

/** A log point from the spool's segments (a synchronization's, with its marker; a tail's, without), committed. */
async function commitLogPoint(
  spec: BackupJobSpec,
  link: JobLink,
  previous: readonly ManifestEntry[],
  wal: { readonly marker: Marker | null; readonly walEnd: bigint; readonly segments: readonly string[]; readonly spoolDir: string },
  started: number,
): Promise<Record<string, unknown>> {
  const prev = spec.app!.previous!;
  const codec = new BlobCodec({ keys: chunkKeys(spec.keys), compressionLevel: spec.compressionLevel });
  const sink = new RemoteChunkSink(link);
  const built = await logPointManifest(previous, wal.segments, wal.spoolDir, codec, sink);
  await sink.flush();
  const meta: AppPointMeta = {
    ...prev.app, point: 'log', logMode: 'logs', base: prev.app.point === 'full' ? prev.point : prev.app.base!, walEnd: formatLsn(wal.walEnd), marker: wal.marker,
    walSegments: [prev.app.walSegments[0], wal.segments.at(-1)!],
  };
  const summary: PointSummary = { ...built.summary, bytesAdded: sink.bytesAdded, durationMs: Date.now() - started };
  const commit = await link.request({ op: 'commit', manifest: built.manifest, summary, partial: false, excludes: [], app: meta });
  return { ...commit, partial: false, errors: 0, summary };
}

/**
 * The log point's manifest: the previous point's entries, its WAL files
 * from the first spooled segment on replaced by the spool's (cut in 1 MiB
 * blocks, sent to the sink), in path order, cut into pages as the backup
 * pipeline cuts them.
 */
async function logPointManifest(previous: readonly ManifestEntry[], segments: readonly string[], spoolDir: string, codec: BlobCodec, sink: RemoteChunkSink): Promise<{ manifest: ManifestPageRef[]; summary: PointSummary }> {
  const walDir = previous.find((e) => e.path.toString('latin1') === 'wal' && e.type === 'dir');
  if (!walDir) throw new CustosError('format', 'the previous point has no wal/ directory: it is not a postgres point');
  const replaced = new Set(segments.map((n) => `wal/${n}`));
  const kept = previous.filter((e) => !replaced.has(e.path.toString('latin1')));
  const added: ManifestEntry[] = [];
  let bytesRead = 0;
  for (const name of segments) {
    const data = readFileSync(join(spoolDir, name));
    bytesRead += data.length;
    const chunks: ChunkRef[] = [];
    for (let off = 0; off < data.length; off += WAL_BLOCK) {
      const block = data.subarray(off, Math.min(off + WAL_BLOCK, data.length));
      chunks.push({ id: storeChunk(codec, sink, block), length: block.length });
      await sink.backpressure();
    }
    const now = BigInt(Date.now()) * 1_000_000n;
    added.push({ path: Buffer.from(`wal/${name}`, 'latin1'), type: 'file', mode: 0o600, uid: walDir.uid, gid: walDir.gid, user: walDir.user, group: walDir.group, mtimeNs: now, ctimeNs: now, ino: 0n, size: data.length, chunks });
  }
  const entries = [...kept, ...added].sort((a, b) => comparePaths(a.path, b.path));
  const builder = new ManifestPageBuilder();
  const manifest: ManifestPageRef[] = [];
  const store = (p: { page: Buffer; entries: number } | null): void => {
    if (p) manifest.push({ id: storeChunk(codec, sink, p.page).toString('hex') as ChunkId, length: p.page.length, entries: p.entries });
  };
  let files = 0;
  let dirs = 0;
  let logicalBytes = 0;
  for (const e of entries) {
    if (e.type === 'file') {
      files++;
      logicalBytes += e.size;
    } else if (e.type === 'dir') dirs++;
    store(builder.add(e));
  }
  store(builder.finish());
  return {
    manifest,
    summary: { filesNew: added.length, filesChanged: 0, filesUnchanged: files - added.length, dirs, others: entries.length - files - dirs, errors: 0, changedDuringRead: 0, bytesRead, bytesAdded: 0, logicalBytes, durationMs: 0 },
  };
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
  if (app.original) return runOriginalRecovery(spec, app, app.original, link, hooks);
  checkRecoveryTarget(spec.target, spec.allowSystemTarget === true);
  // Refused before anything is written: a folder whose path a restore_command cannot hold, or one that is not new or empty.
  recoveryBlock(join(spec.target, 'wal'), { target: app.target, paused: app.paused });
  if (app.instance) {
    const busy = await portInUse(app.instance.port, socketDirsWith(hooks.pgSocketDirs));
    if (busy !== null) throw new CustosError('exists', `port ${app.instance.port} is taken (${busy}): choose another port for the new instance`);
  }
  const made = makeRecoveryFolder(spec.target);
  try {
    return await recoverInto(spec, app, link, hooks);
  } catch (err) {
    // Nothing half-written is left in a folder this job made (a retry, or another recovery, then finds it new) — unless a cluster still runs from it.
    if (made && !postmasterRunsIn(join(spec.target, 'data'))) rmSync(spec.target, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Over the cluster itself (original.ts): checked, stopped, the point
 * restored and prepared beside its data directory, the data directory
 * kept aside and the recovered one put in its place, started again and
 * waited for.
 */
async function runOriginalRecovery(
  spec: RecoveryJobSpec, app: NonNullable<RecoveryJobSpec['app']>, original: { port: number; systemIdentifier: string }, link: JobLink, hooks: PostgresJobHooks,
): Promise<Record<string, unknown>> {
  const codec = new BlobCodec({ keys: chunkKeys(spec.keys), compressionLevel: spec.compressionLevel });
  // The point's data directory owner: the cluster replaced must be that account's.
  const dataEntry = (await fetchPages(link, codec, spec.point.pages.slice(0, 1))).flat().find((e) => e.type === 'dir' && e.path.toString('latin1') === 'data');
  if (!dataEntry) throw new CustosError('format', 'the point has no data/ directory in its first page: it is not a postgres point');
  const c = await findOriginal(original.port, original.systemIdentifier, dataEntry.uid, { socketDirs: socketDirsWith(hooks.pgSocketDirs) });
  const places = originalPlaces(c.dataDirectory, spec.id);
  recoveryBlock(join(places.staging, 'wal'), { target: app.target, paused: app.paused });
  if (existsSync(places.keptAside) || existsSync(places.staging)) throw new CustosError('exists', `${places.keptAside} or ${places.staging} exists: move it away first`);
  const user = await idName(c.owner.uid);
  if (user.startsWith('uid ')) throw new CustosError('usage', `the owner of ${c.dataDirectory} (uid ${c.owner.uid}) has no account name to start it as`);
  link.log('info', `recovering ${app.describe} over the cluster in ${c.dataDirectory} (${c.running ? 'running: stopped first' : 'not running'}; managed by ${c.manager.kind})`);
  const logFile = join(places.staging, 'postgresql.log');
  let swapped = false;
  try {
    if (c.running) stopOriginal(c);
    makeRecoveryFolder(places.staging);
    const restored = await recoverInto({ ...spec, target: places.staging }, { ...app, original: undefined, instance: undefined }, link, hooks, { configuration: false });
    swapIn(c, places);
    swapped = true;
    link.log('info', `${c.dataDirectory} kept aside as ${places.keptAside}; the recovered data directory is in its place (its WAL and notes in ${places.staging})`);
    if (c.manager.kind === 'pg_ctl' && !carryStartOptions(c, places.keptAside)) link.log('warning', `no usable postmaster.opts in ${places.keptAside}: the cluster starts with its configuration's settings only`);
    const started = await startRecovered(c, logFile, { port: original.port, user, paused: app.paused, log: (level, message) => link.log(level, message), cancelled: () => link.cancelled });
    link.log('info', `the cluster on port ${original.port} is ${started.state}; the old data directory stays in ${places.keptAside} until you delete it`);
    return { ...restored, dataDirectory: c.dataDirectory, instance: { port: original.port, state: started.state, socketDir: started.socketDir } };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    if (!swapped) {
      rmSync(places.staging, { recursive: true, force: true });
      if (c.running) {
        try {
          startOriginal(c, join(dirname(c.dataDirectory), `${basename(c.dataDirectory)}.custos-restart-${spec.id}.log`));
          link.log('warning', `the recovery failed before the data directory was touched; the cluster was started again as it was`);
        } catch (e) {
          link.log('error', `the cluster could not be started again: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      throw err;
    }
    // The recovered cluster may have started: it is stopped, so the undo below finds nothing running.
    try {
      stopOriginal(c, 'immediate');
    } catch (e) {
      link.log('error', `the recovered cluster could not be stopped: ${e instanceof Error ? e.message : String(e)}`);
    }
    const state = postmasterRunsIn(c.dataDirectory) ? 'A cluster still runs in it (stop it first)' : 'The cluster is stopped';
    throw new CustosError(err instanceof CustosError ? err.code : 'io', `${why}. ${state}; its old data directory is ${places.keptAside}: to go back, mv ${c.dataDirectory} ${c.dataDirectory}.failed && mv ${places.keptAside} ${c.dataDirectory}, and start it`);
  }
}

/** The restore, the checks of what it wrote, and the preparation as the owner. */
async function recoverInto(
  spec: RecoveryJobSpec, app: NonNullable<RecoveryJobSpec['app']>, link: JobLink, hooks: PostgresJobHooks, options: { configuration?: boolean } = {},
): Promise<Record<string, unknown>> {
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
  const port = app.instance?.port;
  const dataDirectory = await prepareAsOwner(spec.target, {
    target: app.target, paused: app.paused, segmentBytes: app.segmentBytes, owner, describe: app.describe, ...(port ? { port } : {}), ...(options.configuration === false ? { configuration: false } : {}),
  });
  const counts = { files: result.files, dirs: result.dirs, others: result.others, bytes: result.bytes, target: spec.target, dataDirectory };
  if (port === undefined) {
    link.log('info', `ready to start: ${dataDirectory} (owner uid ${owner.uid}); how to start, inspect and promote it: ${join(spec.target, 'RECOVERY.txt')}`);
    return counts;
  }
  const user = await idName(owner.uid);
  if (user.startsWith('uid ')) throw new CustosError('usage', `the owner of the recovered cluster (uid ${owner.uid}) has no account name on this computer to start it as`);
  const started = await startInstance({
    root: spec.target, dataDirectory, port, owner: { ...owner, user }, paused: app.paused, log: (level, message) => link.log(level, message), cancelled: () => link.cancelled,
  });
  link.log('info', `the new instance on port ${port} is ${started.state} (pid ${started.pid}, socket in ${started.socketDir}); ${join(spec.target, 'RECOVERY.txt')} says how to stop it`);
  return { ...counts, instance: { port, state: started.state, socketDir: started.socketDir } };
}
