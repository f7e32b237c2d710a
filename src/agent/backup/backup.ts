/**
 * The backup pipeline: walk → (unchanged? reuse the previous point's chunk
 * list) → worker threads read, chunk, hash, compress and encrypt → the sink
 * stores new chunks → manifest pages in walk order. Memory stays bounded
 * whatever the file count: at most MAX_PENDING items are between the walker
 * and the manifest, workers stop when MAX_INFLIGHT_BYTES of encoded data wait
 * for the sink, and the sink applies its own backpressure.
 *
 * Given the paths a change journal saw change since the previous point, the
 * walk looks only at those (walkChanges) and copies everything else from the
 * previous manifest; the manifest comes out as a full walk would make it.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import picomatch from 'picomatch';
import { UserError, noProgress, type ChunkId, type KnownIds, type ProgressSink } from '../../base/index.js';
import {
  BlobCodec,
  ManifestPageBuilder,
  type ChunkRef,
  type ChunkerParams,
  type EntryType,
  type ManifestEntry,
  type ManifestPageRef,
  type PointSummary,
  type ChunkKeys,
} from '../../format/index.js';
import { isFixedBlockSize, SEGMENT_BYTES, type BackupWorkerData, type ChunkBatch, type FileStat, type FileTask, type WorkerMessage } from './messages.js';
import { OwnerNames } from './owners.js';
import {
  PreviousCursor,
  newWalkStats,
  planChangeWalk,
  walk,
  walkChanges,
  type ChangeIndex,
  type ChangeSet,
  type WalkItem,
  type WalkStats,
} from './walker.js';
import { readXattrs } from './xattrs.js';
import { readlinkSync, statSync, type BigIntStats } from 'node:fs';
import { resolve } from 'node:path';

export type { ChangeSet, WalkStats } from './walker.js';

/** Where the pipeline puts chunks; the pool's ChunkWriter is one, the agent's network sender another. */
/** Sends `data` to the sink as one chunk unless the pool (`known`) or the sink has it; its id. */
export function storeChunk(codec: BlobCodec, sink: ChunkSink, data: Buffer, known?: KnownIds): Buffer {
  const id = codec.chunkIdBytes(data);
  if (!known?.has(id) && !sink.has(id.toString('hex'))) sink.add(id, codec.encodeChunk(id, data), data.length);
  return id;
}

export interface ChunkSink {
  /** True when the sink already holds the chunk (hex id). */
  has(idHex: string): boolean;
  /** Stores an encoded chunk unless already held; synchronous, buffered. */
  add(id: Buffer, blob: Buffer, rawLength: number): boolean;
  /** Resolves when the sink can take more. */
  backpressure(): Promise<void>;
  /** Makes everything added durable; the point may reference it afterwards. */
  flush(): Promise<void>;
  /** Encoded bytes stored so far (for progress and the summary). */
  readonly bytesAdded: number;
}

export interface BackupOptions {
  /** Directory to protect. */
  readonly source: string;
  readonly sink: ChunkSink;
  readonly keys: ChunkKeys | null;
  readonly compressionLevel: number;
  readonly chunker: ChunkerParams;
  /** Chunks already stored, shared with the workers. */
  readonly known: KnownIds;
  /** The previous recovery point's manifest of the same source, to skip unchanged files. */
  readonly previous?: AsyncIterable<ManifestEntry> | null;
  /**
   * What may have changed since `previous` was taken (from a change journal).
   * With `previous`, only changed paths, their ancestors and changed subtrees
   * are looked at; everything else is copied from `previous` as it is. Must
   * cover every change since `previous` (a journal valid since then), and
   * `excludes` must be those `previous` was taken with. Without `previous`, or
   * when a changed file has other hard links, the whole tree is walked
   * (`changesIgnored` says why).
   */
  readonly changes?: ChangeSet | null;
  /** Globs; a pattern without '/' matches the name anywhere (`*.mp3`), one with '/' the path from the source. */
  readonly excludes?: readonly string[];
  readonly progress?: ProgressSink;
  readonly workers?: number;
  /** Sees every entry of the new manifest, in order, as it is added (the change journal's audit). */
  readonly onEntry?: (e: ManifestEntry) => void;
  /**
   * Files to cut into fixed blocks instead of content-defined chunks, and the
   * block size (isFixedBlockSize): a database's relation files, whose pages
   * change in place (docs/design/postgresql.md §4.2). Absent, or null for a
   * path: content-defined.
   */
  readonly fixedBlocks?: (rel: Buffer) => number | null;
  /**
   * The items to back up, in the manifest's order, instead of a walk of
   * `source` (an application's trees under one virtual root). `drained`
   * resolves once every item yielded so far has been read and is in the
   * manifest: an application ends its backup mode only then.
   */
  readonly items?: (drained: () => Promise<void>) => AsyncIterable<WalkItem>;
  /** Sees every item the walk stat'ed (the change journal's inode index). */
  readonly onStat?: (rel: Buffer, st: BigIntStats) => void;
}

export interface ItemError {
  readonly path: string;
  readonly message: string;
}

export interface BackupResult {
  readonly manifest: ManifestPageRef[];
  readonly summary: PointSummary;
  readonly partial: boolean;
  readonly errors: ItemError[];
  readonly changedDuringRead: string[];
  /** What the walk cost (lstat and readdir calls, entries copied from the previous point). */
  readonly walk: WalkStats;
  /** Why `changes` was given but not used (the whole tree was walked); null otherwise. */
  readonly changesIgnored: string | null;
}

const MAX_PENDING = 2048;
/** Files are sent to a worker in batches of up to this many files or bytes. */
const TASK_BATCH_FILES = 64;
const TASK_BATCH_BYTES = 8 * 1024 * 1024;
const MAX_INFLIGHT_BYTES = 24 * 1024 * 1024;
const YIELD_EVERY = 256;

interface Slot {
  entry: ManifestEntry | null;
  /** Resolves when `entry` is set. */
  done?: Promise<void>;
}

/** One file being read; a large file is read as several segments at once. */
interface FileJob {
  readonly slot: Slot;
  readonly base: Omit<ManifestEntry, 'size' | 'chunks'>;
  readonly resolve: () => void;
  /** Chunks of each segment, in order. */
  readonly segments: ChunkRef[][];
  pending: number;
  stat: FileStat | null;
  xattrs: ReadonlyArray<readonly [string, Uint8Array]>;
  changed: boolean;
  error: string | null;
}

/** One segment of a file, as sent to a worker. */
interface TaskRef {
  readonly job: FileJob;
  readonly segment: number;
  worker: number;
}

function entryType(st: BigIntStats): EntryType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  return 'socket';
}

export function makeExcluder(patterns: readonly string[]): (rel: Buffer, isDir: boolean) => boolean {
  if (patterns.length === 0) return () => false;
  for (const p of patterns) {
    if (p.trim() === '') throw new UserError('usage', 'an --exclude pattern is empty');
  }
  const matchers = patterns.map((p) => picomatch(p.replace(/^\/+/, ''), { dot: true, basename: !p.includes('/') }));
  return (rel) => {
    const s = rel.toString('utf8');
    return matchers.some((m) => m(s));
  };
}

export async function runBackup(options: BackupOptions): Promise<BackupResult> {
  const started = Date.now();
  const root = resolve(options.source);
  let rootStat;
  try {
    rootStat = statSync(root);
  } catch (err) {
    throw new UserError('not-found', `cannot read ${root}: ${(err as Error).message}`);
  }
  if (!rootStat.isDirectory()) throw new UserError('usage', `${root} is not a directory (a backup protects a directory tree)`);

  const progress = options.progress ?? noProgress;
  const sink = options.sink;
  const codec = new BlobCodec({ keys: options.keys, compressionLevel: options.compressionLevel });
  const owners = new OwnerNames();
  const exclude = makeExcluder(options.excludes ?? []);
  const previous = new PreviousCursor(options.previous);
  const walkStats = newWalkStats();
  let changeIndex: ChangeIndex | null = null;
  let changesIgnored: string | null = null;
  if (options.changes) {
    if (!options.previous) changesIgnored = 'no previous recovery point: every item was looked at';
    else {
      const plan = planChangeWalk(Buffer.from(root), options.changes, walkStats);
      if ('index' in plan) changeIndex = plan.index;
      else changesIgnored = plan.fallback;
    }
  }
  const pages = new ManifestPageBuilder();
  const manifest: ManifestPageRef[] = [];
  const errors: ItemError[] = [];
  const changedDuringRead: string[] = [];
  const counts = { filesNew: 0, filesChanged: 0, filesUnchanged: 0, dirs: 0, others: 0, bytesRead: 0, logicalBytes: 0 };
  const hardLinks = new Map<string, Buffer>();

  const inflight = new SharedArrayBuffer(4);
  const inflightView = new Int32Array(inflight);
  const workerData: BackupWorkerData = {
    keys: options.keys,
    compressionLevel: options.compressionLevel,
    chunker: options.chunker,
    known: options.known.buffer,
    inflight,
    maxInflightBytes: MAX_INFLIGHT_BYTES,
  };
  const nWorkers = Math.max(1, options.workers ?? availableParallelism());
  const workers: Worker[] = [];
  const outstanding: number[] = [];
  const tasks = new Map<number, TaskRef>();
  let nextTask = 1;
  let fatal: unknown = null;

  const onMessages = (msgs: WorkerMessage | WorkerMessage[]): void => {
    if (Array.isArray(msgs)) for (const m of msgs) onMessage(m);
    else onMessage(msgs);
  };
  const onMessage = (msg: WorkerMessage): void => {
    const task = tasks.get(msg.t);
    if (!task) return;
    const job = task.job;
    switch (msg.kind) {
      case 'chunks':
        takeBatch(job.segments[task.segment]!, msg.batch);
        break;
      case 'restart':
        job.segments[task.segment] = [];
        break;
      case 'done': {
        if (msg.batch) takeBatch(job.segments[task.segment]!, msg.batch);
        counts.bytesRead += msg.bytesRead;
        // Segments that saw different versions of the file make it changed during read too.
        const s = msg.stat;
        if (job.stat && (job.stat.mtimeNs !== s.mtimeNs || job.stat.ctimeNs !== s.ctimeNs || job.stat.size !== s.size)) job.changed = true;
        if (!job.stat || s.ctimeNs >= job.stat.ctimeNs) job.stat = s;
        if (task.segment === 0) job.xattrs = msg.xattrs;
        job.changed ||= msg.changedDuringRead;
        finishTask(msg.t, task);
        break;
      }
      case 'error':
        job.error ??= msg.message;
        finishTask(msg.t, task);
        break;
    }
  };
  const completeJob = (job: FileJob): void => {
    const path = job.base.path.toString('utf8');
    if (job.error !== null || job.stat === null) {
      errors.push({ path, message: job.error ?? 'not read' });
      job.slot.entry = { ...job.base, size: 0, error: job.error ?? 'not read' };
      job.resolve();
      return;
    }
    const s = job.stat;
    const chunks = job.segments.flat();
    // The size is what was read: a file that kept changing may have grown or shrunk after its last stat.
    const size = chunks.reduce((n, c) => n + c.length, 0);
    counts.logicalBytes += size;
    if (job.changed) changedDuringRead.push(path);
    job.slot.entry = {
      ...job.base,
      mode: s.mode & 0o7777,
      uid: s.uid,
      gid: s.gid,
      user: owners.user(s.uid),
      group: owners.group(s.gid),
      mtimeNs: s.mtimeNs,
      ctimeNs: s.ctimeNs,
      ino: s.ino,
      size,
      chunks,
      xattrs: job.xattrs.map(([n, v]) => [n, Buffer.from(v)] as const),
      sparse: s.blocks * 512 < s.size ? true : undefined,
      changedDuringRead: job.changed || undefined,
    };
    job.resolve();
  };
  const takeBatch = (into: ChunkRef[], batch: ChunkBatch): void => {
    const data = Buffer.from(batch.data);
    let off = batch.count * 32;
    for (let i = 0; i < batch.count; i++) {
      const id = data.subarray(i * 32, i * 32 + 32);
      const encoded = batch.encoded[i]!;
      if (encoded > 0) {
        sink.add(id, data.subarray(off, off + encoded), batch.lengths[i]!);
        off += encoded;
      }
      // A copy: the manifest must not keep the whole batch buffer alive.
      into.push({ id: Buffer.from(id), length: batch.lengths[i]! });
    }
    // Let the workers go on only once the sink has taken the data.
    sink.backpressure().then(
      () => Atomics.sub(inflightView, 0, batch.bytes),
      (err: unknown) => {
        fatal ??= err;
        Atomics.sub(inflightView, 0, batch.bytes);
      },
    );
  };
  const finishTask = (t: number, task: TaskRef): void => {
    tasks.delete(t);
    outstanding[task.worker]!--;
    if (--task.job.pending === 0) completeJob(task.job);
  };

  // Started on the first file to read: an unchanged tree needs none.
  const startWorkers = (): void => {
    for (let i = 0; i < nWorkers; i++) {
      const w = new Worker(new URL('./file-worker.js', import.meta.url), { workerData });
      w.on('message', onMessages);
      w.on('error', (err) => {
        fatal ??= err;
        for (const task of tasks.values()) task.job.resolve();
      });
      workers.push(w);
      outstanding.push(0);
    }
  };

  const queue: Slot[] = [];
  let head = 0;
  const emit = (e: ManifestEntry): void => {
    options.onEntry?.(e);
    const page = pages.add(e);
    if (page) storePage(page);
  };
  const storePage = (p: { page: Buffer; entries: number }): void => {
    // An unchanged stretch of the tree gives a page the pool already has.
    const id = storeChunk(codec, sink, p.page, options.known);
    manifest.push({ id: id.toString('hex') as ChunkId, length: p.page.length, entries: p.entries });
  };
  const drain = (): void => {
    while (head < queue.length && queue[head]!.entry !== null) {
      emit(queue[head]!.entry!);
      queue[head] = undefined as unknown as Slot;
      head++;
    }
    if (head > 1024 && head * 2 > queue.length) {
      queue.splice(0, head);
      head = 0;
    }
  };

  const dispatch = (item: WalkItem, base: Omit<ManifestEntry, 'size' | 'chunks'>): Slot => {
    const slot: Slot = { entry: null };
    const size = Number(item.st.size);
    const count = Math.max(1, Math.ceil(size / SEGMENT_BYTES));
    let resolveJob = (): void => {};
    slot.done = new Promise<void>((r) => (resolveJob = r));
    const job: FileJob = { slot, base, resolve: resolveJob, segments: [], pending: count, stat: null, xattrs: [], changed: false, error: null };
    // A copy with its own small ArrayBuffer: a view into Buffer's shared pool would clone the whole pool slab.
    const path = new Uint8Array(item.abs);
    const block = options.fixedBlocks?.(item.rel) ?? null;
    if (block !== null && !isFixedBlockSize(block)) throw new UserError('usage', `${block} bytes is not a block size (a power of two from 4 KiB to 1 MiB)`);
    const cut = block === null ? {} : { block };
    for (let segment = 0; segment < count; segment++) {
      const t = nextTask++;
      job.segments.push([]);
      tasks.set(t, { job, segment, worker: -1 });
      // The last segment reads to the end of the file, however long it has become.
      pendingTasks.push(count === 1 ? { t, path, ...cut } : { t, path, ...cut, offset: segment * SEGMENT_BYTES, length: segment === count - 1 ? undefined : SEGMENT_BYTES });
      pendingBytes += Math.min(SEGMENT_BYTES, size - segment * SEGMENT_BYTES);
      if (pendingTasks.length >= TASK_BATCH_FILES || pendingBytes >= TASK_BATCH_BYTES) flushTasks();
    }
    return slot;
  };
  let pendingTasks: FileTask[] = [];
  let pendingBytes = 0;
  /** Sends the pending files to the least busy worker. */
  const flushTasks = (): void => {
    if (pendingTasks.length === 0) return;
    if (workers.length === 0) startWorkers();
    let worker = 0;
    for (let i = 1; i < nWorkers; i++) if (outstanding[i]! < outstanding[worker]!) worker = i;
    for (const task of pendingTasks) tasks.get(task.t)!.worker = worker;
    outstanding[worker]! += pendingTasks.length;
    workers[worker]!.postMessage(pendingTasks);
    pendingTasks = [];
    pendingBytes = 0;
  };

  /** Whether a previous entry may be copied as it is by the walk guided by changes. */
  const canReuse = (e: ManifestEntry): boolean => {
    if (e.error !== undefined) return false;
    if (e.type !== 'file') return true;
    return !e.changedDuringRead && (e.chunks ?? []).every((c) => options.known.has(c.id));
  };
  const reuse = (e: ManifestEntry): Slot => {
    if (e.type === 'file') {
      counts.filesUnchanged++;
      counts.logicalBytes += e.size;
    } else if (e.type === 'dir') counts.dirs++;
    else counts.others++;
    return { entry: e };
  };

  const describe = (item: WalkItem, prev: ManifestEntry | null): Slot => {
    const st = item.st;
    options.onStat?.(item.rel, st);
    const type = entryType(st);
    const uid = Number(st.uid);
    const gid = Number(st.gid);
    const base = {
      path: item.rel,
      type,
      mode: Number(st.mode) & 0o7777,
      uid,
      gid,
      user: owners.user(uid),
      group: owners.group(gid),
      mtimeNs: st.mtimeNs,
      ctimeNs: st.ctimeNs,
      ino: st.ino,
    };
    if (type === 'dir') {
      counts.dirs++;
      if (item.error) errors.push({ path: item.rel.toString('utf8') || '.', message: item.error });
      return { entry: { ...base, size: 0, xattrs: readXattrs(item.abs), error: item.error } };
    }
    if (type !== 'file') {
      counts.others++;
      const target = type === 'symlink' ? readlinkSync(item.abs, { encoding: 'buffer' }) : undefined;
      const rdev = type === 'char' || type === 'block' ? Number(st.rdev) : undefined;
      return { entry: { ...base, size: 0, target, rdev } };
    }
    if (st.nlink > 1n) {
      const key = `${st.dev}:${st.ino}`;
      const first = hardLinks.get(key);
      if (first) {
        counts.others++;
        return { entry: { ...base, type: 'hardlink', size: 0, target: first } };
      }
      hardLinks.set(key, item.rel);
    }
    const size = Number(st.size);
    const unchanged =
      prev !== null &&
      prev.type === 'file' &&
      prev.error === undefined &&
      !prev.changedDuringRead &&
      prev.size === size &&
      prev.mtimeNs === st.mtimeNs &&
      prev.ctimeNs === st.ctimeNs &&
      prev.ino === st.ino &&
      (prev.chunks ?? []).every((c) => options.known.has(c.id));
    if (unchanged) {
      counts.filesUnchanged++;
      counts.logicalBytes += size;
      return { entry: { ...prev, ...base, size, chunks: prev.chunks ?? [] } };
    }
    if (prev !== null && prev.type === 'file') counts.filesChanged++;
    else counts.filesNew++;
    return dispatch(item, base);
  };

  const report = (): void => {
    progress.update({
      files: counts.filesNew + counts.filesChanged + counts.filesUnchanged,
      dirs: counts.dirs,
      bytesRead: counts.bytesRead,
      bytesAdded: sink.bytesAdded,
      errors: errors.length,
    });
  };

  /** Waits until every item queued so far is read and in the manifest. */
  const drainAll = async (): Promise<void> => {
    flushTasks();
    while (head < queue.length) {
      await queue[head]!.done;
      if (fatal) throw fatal;
      drain();
    }
  };

  let n = 0;
  /** Lets workers and the sink run, and waits while MAX_PENDING items are between the walk and the manifest. */
  const settle = async (yieldNow: boolean): Promise<void> => {
    if (yieldNow) {
      flushTasks();
      await new Promise((r) => setImmediate(r));
      drain();
      report();
    }
    while (queue.length - head >= MAX_PENDING) {
      flushTasks();
      await queue[head]!.done;
      if (fatal) throw fatal;
      drain();
      await sink.backpressure();
    }
  };
  /** Queues one item's slot; returns a promise to await only when the walk must pause. */
  const push = (slot: Slot): Promise<void> | null => {
    queue.push(slot);
    drain();
    const yieldNow = ++n % YIELD_EVERY === 0;
    return yieldNow || queue.length - head >= MAX_PENDING ? settle(yieldNow) : null;
  };

  try {
    if (options.items) {
      for await (const item of options.items(drainAll)) {
        if (fatal) throw fatal;
        const pause = push(describe(item, await previous.find(item.rel)));
        if (pause) await pause;
      }
    } else if (changeIndex) {
      const items = walkChanges({ root: Buffer.from(root), exclude, index: changeIndex, previous, canReuse, stats: walkStats });
      for await (const w of items) {
        if (fatal) throw fatal;
        const pause = push(w.kind === 'reuse' ? reuse(w.entry) : describe(w.item, w.prev));
        if (pause) await pause;
      }
    } else {
      for (const item of walk(Buffer.from(root), exclude, walkStats)) {
        if (fatal) throw fatal;
        const pause = push(describe(item, await previous.find(item.rel)));
        if (pause) await pause;
      }
    }
    await drainAll();
    const last = pages.finish();
    if (last) storePage(last);
    report();
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }

  return {
    manifest,
    errors,
    changedDuringRead,
    walk: walkStats,
    changesIgnored,
    partial: errors.length > 0,
    summary: {
      ...counts,
      errors: errors.length,
      changedDuringRead: changedDuringRead.length,
      bytesAdded: sink.bytesAdded,
      durationMs: Date.now() - started,
    },
  };
}
