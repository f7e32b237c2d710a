/**
 * The restore pipeline: streams a manifest, creates directories and small
 * items itself, and hands files to worker threads that fetch, verify and
 * write their chunks in parallel. It never writes outside the target: every
 * path is checked to be relative without '.' or '..', every directory it
 * writes into is checked with lstat to be a real directory (a symlink in the
 * way is refused), files are opened with O_NOFOLLOW, and hard links may only
 * point at regular files restored inside the target.
 */
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lutimesSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { IntegrityError, UnsafePathError, errorMessage, noProgress, type ProgressSink } from '../../base/index.js';
import { checkRelativePath, comparePaths, type ChunkRef, type ManifestEntry, type ChunkKeys } from '../../format/index.js';
import { OwnerNames } from '../backup/owners.js';
import { writeXattrs } from '../backup/xattrs.js';
import { closeQuietly, lstatOrNull, openForRestore, placeItem, resolveTarget, setFileMetadata, utimesSeconds, type FileMetadata } from './fs-safe.js';
import type { ChunkRead, ConflictMode, RestoreFileTask, RestoreWorkerData, RestoreWorkerReply } from './messages.js';

/** Where the restore finds chunks; the pool is one, the server connection another. */
export interface ChunkSource {
  /** How a worker reads this chunk; throws when the source does not have it. */
  locate(id: Buffer): Promise<ChunkRead> | ChunkRead;
}

export interface RestoreOptions {
  readonly manifest: AsyncIterable<ManifestEntry>;
  readonly target: string;
  readonly source: ChunkSource;
  readonly keys: ChunkKeys | null;
  readonly compressionLevel: number;
  /** Paths relative to the protected directory; empty = everything. */
  readonly items?: readonly string[];
  readonly conflict?: ConflictMode;
  /** Restore owners (by name when it exists here, else by id); default: when running as root. */
  readonly restoreOwnership?: boolean;
  readonly progress?: ProgressSink;
  readonly workers?: number;
}

export interface RestoreItemError {
  readonly path: string;
  readonly message: string;
}

export interface RestoreResult {
  readonly files: number;
  readonly dirs: number;
  readonly others: number;
  readonly skipped: number;
  readonly bytes: number;
  readonly errors: RestoreItemError[];
  /** Some chunk failed its integrity check: the restore is incomplete. */
  readonly damaged: boolean;
  readonly warnings: string[];
  /** Requested items (as given in `items`) that the point does not hold: nothing was recovered for them. */
  readonly missingItems: string[];
}

const MAX_OUTSTANDING = 1024;
/** Chunk data from a remote source in tasks not yet done (a local source sends locations only). */
const MAX_BLOB_BYTES = 128 * 1024 * 1024;
const BATCH_FILES = 64;
const BATCH_BYTES = 8 * 1024 * 1024;
const SLASH = 0x2f;

function isUnder(path: Buffer, dir: Buffer): boolean {
  return path.length > dir.length && path[dir.length] === SLASH && path.subarray(0, dir.length).equals(dir);
}

function parentOf(path: Buffer): Buffer {
  const i = path.lastIndexOf(SLASH);
  return i < 0 ? Buffer.alloc(0) : path.subarray(0, i);
}

/** A large file whose parts are being written by several workers. */
interface LargeFile {
  readonly entry: ManifestEntry;
  /** Where it is being written (a keep-both name, maybe). */
  readonly path: Buffer;
  readonly meta: FileMetadata;
  remaining: number;
  bytes: number;
  error: string | null;
  integrity: boolean;
}

/** Files larger than this are written in parts of about this size by several workers at once. */
const PART_BYTES = 64 * 1024 * 1024;

interface DirMeta {
  readonly abs: Buffer;
  readonly entry: ManifestEntry;
}

export async function runRestore(options: RestoreOptions): Promise<RestoreResult> {
  const conflict = options.conflict ?? 'overwrite';
  const progress = options.progress ?? noProgress;
  const restoreOwnership = options.restoreOwnership ?? process.getuid?.() === 0;
  const items = options.items ?? [];
  const owners = new OwnerNames();
  // Made and resolved a component at a time: no link is followed unless only root can have made it.
  const target = Buffer.from(resolveTarget(resolve(options.target), { create: true }));
  const abs = (rel: Buffer): Buffer => (rel.length === 0 ? target : Buffer.concat([target, Buffer.from('/'), rel]));

  const result = { files: 0, dirs: 0, others: 0, skipped: 0, bytes: 0, damaged: false };
  const errors: RestoreItemError[] = [];
  const warnings: string[] = [];
  const fail = (rel: Buffer, message: string): void => {
    errors.push({ path: rel.toString('utf8') || '.', message });
  };

  // Directories checked to be real directories inside the target, as a stack along the walk.
  const verified: Buffer[] = [Buffer.alloc(0)];
  const dirs: DirMeta[] = [];
  const hardLinks: ManifestEntry[] = [];

  /** Makes sure every directory above `rel` exists as a real directory; false when refused. */
  const ensureParents = (rel: Buffer): boolean => {
    const parent = parentOf(rel);
    while (verified.length > 1 && !(parent.equals(verified.at(-1)!) || isUnder(parent, verified.at(-1)!))) verified.pop();
    if (parent.equals(verified.at(-1)!)) return true;
    // Walk down from the deepest verified directory, one component at a time.
    let at = verified.at(-1)!;
    while (!at.equals(parent)) {
      const next = parent.indexOf(SLASH, at.length === 0 ? 0 : at.length + 1);
      const comp = next < 0 ? parent : parent.subarray(0, next);
      if (comp.length <= at.length) throw new UnsafePathError(`unsafe path in manifest: ${JSON.stringify(rel.toString('utf8'))}`);
      const st = lstatOrNull(abs(comp));
      if (st === null) mkdirSync(abs(comp), { mode: 0o700 });
      else if (!st.isDirectory()) {
        fail(rel, `refused: ${comp.toString('utf8')} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'} (would leave the target)`);
        return false;
      }
      verified.push(comp);
      at = comp;
    }
    return true;
  };

  /** Like ensureParents, but only checks (for hard link targets, which must already exist). */
  const parentsAreReal = (rel: Buffer): boolean => {
    for (let i = rel.indexOf(SLASH); i >= 0; i = rel.indexOf(SLASH, i + 1)) {
      const st = lstatOrNull(abs(rel.subarray(0, i)));
      if (st === null || !st.isDirectory()) return false;
    }
    return true;
  };

  /**
   * mkfifo and mknod take text paths, and a name that is not UTF-8 would not
   * survive the trip: the node is made under a plain temporary name in the
   * target and renamed to its real (checked, byte-exact) path.
   */
  const makeNode = (p: Buffer, command: string[], after: string[]): void => {
    const tmp = `${target.toString()}/.custos-node-${process.pid}-${nextTask++}`;
    execFileSync(command[0]!, [...command.slice(1), tmp, ...after]);
    try {
      renameSync(tmp, p);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
  };

  const ownerOf = (e: ManifestEntry): [number, number] => [
    (e.user !== undefined ? owners.uidOf(e.user) : undefined) ?? e.uid,
    (e.group !== undefined ? owners.gidOf(e.group) : undefined) ?? e.gid,
  ];

  // Workers.
  const workerData: RestoreWorkerData = { keys: options.keys, compressionLevel: options.compressionLevel, restoreOwnership };
  // One worker per core, at least two so one can write while another waits on the disk.
  // (More were measured: 4 instead of 2 saved ~10% on tmpfs for ~60 MiB of RSS each.)
  const nWorkers = Math.max(1, options.workers ?? Math.max(2, availableParallelism()));
  const workers: Worker[] = [];
  const waiting = new Map<number, { rel: Buffer; large?: LargeFile; blobBytes: number }>();
  let outstanding = 0;
  /** Bytes of chunk data (from a remote source) in tasks sent to workers and not yet done. */
  let blobBytesOut = 0;
  let nextTask = 1;
  let wake: (() => void) | null = null;
  let fatal: unknown = null;
  const onReplies = (msgs: RestoreWorkerReply[]): void => {
    for (const msg of msgs) onReply(msg);
    wake?.();
  };
  const onReply = (msg: RestoreWorkerReply): void => {
    const w = waiting.get(msg.t);
    if (!w) return;
    waiting.delete(msg.t);
    outstanding--;
    blobBytesOut -= w.blobBytes;
    if (w.large) {
      const large = w.large;
      if (msg.kind === 'done') large.bytes += msg.bytes;
      else if (large.error === null) {
        large.error = msg.message;
        large.integrity = msg.integrity;
      }
      if (--large.remaining === 0) finishLargeFile(large);
      return;
    }
    if (msg.kind === 'done') {
      if (msg.skipped) result.skipped++;
      else {
        result.files++;
        result.bytes += msg.bytes;
      }
      for (const warning of msg.warnings) warnings.push(`${w.rel.toString('utf8')}: ${warning}`);
    } else {
      if (msg.integrity) result.damaged = true;
      fail(w.rel, msg.message);
    }
  };
  for (let i = 0; i < nWorkers; i++) {
    const w = new Worker(new URL('./file-worker.js', import.meta.url), { workerData });
    w.on('message', onReplies);
    w.on('error', (err) => {
      fatal ??= err;
      wake?.();
    });
    workers.push(w);
  }
  // Files go to the workers in batches, each worker in turn.
  let rr = 0;
  let batch: RestoreFileTask[] = [];
  let batchBytes = 0;
  const sendBatch = (): void => {
    if (batch.length === 0) return;
    workers[rr++ % nWorkers]!.postMessage(batch);
    batch = [];
    batchBytes = 0;
  };
  const full = (limit: number): boolean => outstanding > limit || blobBytesOut > MAX_BLOB_BYTES;
  const waitForRoom = async (limit: number): Promise<void> => {
    if (full(limit)) sendBatch();
    while (full(limit) && !fatal) await new Promise<void>((r) => (wake = r));
    wake = null;
    if (fatal) throw fatal;
  };

  /** Where each chunk is (or, from a remote source, its data), in order. */
  const locateAll = async (refs: readonly ChunkRef[]): Promise<ChunkRead[]> => {
    const chunks: ChunkRead[] = [];
    for (const c of refs) {
      const read = await options.source.locate(c.id);
      // Own small buffer: a view into Buffer's pool would send the whole pool slab to the worker.
      chunks.push({ ...read, id: new Uint8Array(read.id) });
    }
    return chunks;
  };

  /** Counts a task as sent (with the chunk data it carries) until its worker replies; returns its number. */
  const track = (rel: Buffer, chunks: readonly ChunkRead[], large?: LargeFile): number => {
    const t = nextTask++;
    outstanding++;
    const blobBytes = chunks.reduce((n, c) => n + (c.blob?.length ?? 0), 0);
    blobBytesOut += blobBytes;
    waiting.set(t, { rel, blobBytes, ...(large ? { large } : {}) });
    return t;
  };

  const restoreFile = async (e: ManifestEntry): Promise<void> => {
    const [uid, gid] = ownerOf(e);
    if (e.error === undefined && e.size > PART_BYTES && (e.chunks?.length ?? 0) > 1) return restoreLargeFile(e, uid, gid);
    let chunks: ChunkRead[];
    try {
      chunks = await locateAll(e.chunks ?? []);
    } catch (err) {
      result.damaged = true;
      return fail(e.path, errorMessage(err));
    }
    if (e.error !== undefined) warnings.push(`${e.path.toString('utf8')}: was not readable at backup time (${e.error}); restored empty`);
    const task: RestoreFileTask = {
      t: track(e.path, chunks),
      path: abs(e.path),
      size: e.error !== undefined ? 0 : e.size,
      mode: e.mode,
      uid,
      gid,
      mtimeNs: e.mtimeNs,
      sparse: e.sparse === true,
      xattrs: e.xattrs ?? [],
      chunks,
      conflict,
    };
    batch.push(task);
    batchBytes += task.size;
    if (batch.length >= BATCH_FILES || batchBytes >= BATCH_BYTES) sendBatch();
    await waitForRoom(MAX_OUTSTANDING);
  };

  /**
   * A large file is written by several workers at once: it is created here
   * (placement and conflict mode as for any file), each worker writes one
   * part in place, and when the last part is done its size and metadata are
   * set here. A failed part removes the file. The parts are cut from the
   * manifest's chunk lengths and their chunks located one part at a time, so
   * a remote source holds at most a few parts' data (MAX_BLOB_BYTES).
   */
  const restoreLargeFile = async (e: ManifestEntry, uid: number, gid: number): Promise<void> => {
    const parts: Array<{ chunks: ChunkRef[]; offset: number }> = [{ chunks: [], offset: 0 }];
    let partBytes = 0;
    let offset = 0;
    for (const c of e.chunks!) {
      if (partBytes >= PART_BYTES) {
        parts.push({ chunks: [], offset });
        partBytes = 0;
      }
      parts.at(-1)!.chunks.push(c);
      partBytes += c.length;
      offset += c.length;
    }
    if (offset !== e.size) {
      result.damaged = true;
      return fail(e.path, `chunks add up to ${offset} bytes, the manifest says ${e.size}`);
    }
    const opened = openForRestore(abs(e.path), conflict);
    if ('skip' in opened) {
      result.skipped++;
      return;
    }
    if ('error' in opened) return fail(e.path, opened.error);
    closeSync(opened.fd);
    const large: LargeFile = { entry: e, path: opened.path, remaining: parts.length, bytes: 0, error: null, integrity: false, meta: { size: e.size, sparse: e.sparse === true, xattrs: e.xattrs ?? [], uid, gid, mode: e.mode, mtimeNs: e.mtimeNs } };
    for (let i = 0; i < parts.length; i++) {
      let chunks: ChunkRead[];
      try {
        chunks = await locateAll(parts[i]!.chunks);
      } catch (err) {
        // The parts not sent will never report: count them done, failed.
        large.error ??= errorMessage(err);
        large.integrity = true;
        large.remaining -= parts.length - i;
        if (large.remaining === 0) finishLargeFile(large);
        return;
      }
      const t = track(e.path, chunks, large);
      workers[rr++ % nWorkers]!.postMessage([
        { ...large.meta, t, path: opened.path, chunks, conflict, part: { offset: parts[i]!.offset } } satisfies RestoreFileTask,
      ]);
      await waitForRoom(MAX_OUTSTANDING);
    }
  };

  /** The last part of a large file is done: set its metadata, or remove it if a part failed. */
  const finishLargeFile = (large: LargeFile): void => {
    const e = large.entry;
    if (large.error === null && large.bytes !== e.size) large.error = `wrote ${large.bytes} bytes, the manifest says ${e.size}`;
    if (large.error !== null) {
      rmSync(large.path, { force: true });
      if (large.integrity) result.damaged = true;
      return fail(e.path, large.error);
    }
    let fd = -1;
    try {
      fd = openSync(large.path, constants.O_WRONLY | constants.O_NOFOLLOW);
      for (const w of setFileMetadata(fd, large.path, large.meta, restoreOwnership)) warnings.push(`${e.path.toString('utf8')}: ${w}`);
      result.files++;
      result.bytes += large.bytes;
    } catch (err) {
      fail(e.path, errorMessage(err));
    } finally {
      if (fd >= 0) closeQuietly(fd);
    }
  };

  const restoreDir = (e: ManifestEntry): void => {
    const p = abs(e.path);
    const st = lstatOrNull(p);
    if (st === null) mkdirSync(p, { mode: 0o700 });
    else if (!st.isDirectory()) {
      if (conflict === 'overwrite' && !st.isSymbolicLink()) {
        const place = placeItem(p, conflict);
        if ('error' in place) return fail(e.path, place.error);
        mkdirSync(p, { mode: 0o700 });
      } else {
        return fail(e.path, st.isSymbolicLink() ? 'refused: a symbolic link is in the way of a directory' : 'a file is in the way of a directory');
      }
    }
    verified.push(e.path);
    dirs.push({ abs: p, entry: e });
    result.dirs++;
  };

  const restoreOther = (e: ManifestEntry): void => {
    const place = placeItem(abs(e.path), conflict);
    if ('skip' in place) {
      result.skipped++;
      return;
    }
    if ('error' in place) return fail(e.path, place.error);
    const p = place.path;
    const [uid, gid] = ownerOf(e);
    const mtime = utimesSeconds(e.mtimeNs);
    switch (e.type) {
      case 'symlink':
        symlinkSync(e.target ?? Buffer.alloc(0), p);
        break;
      case 'fifo':
        makeNode(p, ['mkfifo', '-m', (e.mode & 0o7777).toString(8)], []);
        break;
      case 'char':
      case 'block': {
        if (!restoreOwnership) return fail(e.path, 'device files are restored only when running as root');
        const rdev = e.rdev ?? 0;
        const major = (rdev >> 8) & 0xfff;
        const minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
        makeNode(p, ['mknod', '-m', (e.mode & 0o7777).toString(8)], [e.type === 'char' ? 'c' : 'b', String(major), String(minor)]);
        break;
      }
      default:
        return fail(e.path, `${e.type} items cannot be restored`);
    }
    if (restoreOwnership) lchownSync(p, uid, gid);
    lutimesSync(p, mtime, mtime);
    result.others++;
  };

  const restoreHardLink = (e: ManifestEntry): void => {
    const target = e.target ?? Buffer.alloc(0);
    try {
      checkRelativePath(target);
    } catch (err) {
      return fail(e.path, errorMessage(err));
    }
    if (target.length === 0 || !parentsAreReal(target)) return fail(e.path, 'refused: hard link target is not a file restored inside the target');
    const st = lstatOrNull(abs(target));
    if (st === null || !st.isFile()) return fail(e.path, `hard link target ${target.toString('utf8')} was not restored`);
    if (!ensureParents(e.path)) return;
    const place = placeItem(abs(e.path), conflict);
    if ('skip' in place) {
      result.skipped++;
      return;
    }
    if ('error' in place) return fail(e.path, place.error);
    linkSync(abs(target), place.path);
    result.others++;
  };

  const applyDirMeta = ({ abs: p, entry: e }: DirMeta): void => {
    let fd: number;
    try {
      fd = openSync(p, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    } catch (err) {
      return fail(e.path, `cannot set directory metadata: ${errorMessage(err)}`);
    }
    try {
      const failed = writeXattrs(p, e.xattrs ?? []);
      if (failed.length > 0) warnings.push(`${e.path.toString('utf8') || '.'}: extended attributes not restored: ${failed.join(', ')}`);
      if (restoreOwnership) {
        const [uid, gid] = ownerOf(e);
        fchownSync(fd, uid, gid);
      }
      fchmodSync(fd, e.mode);
      const mtime = utimesSeconds(e.mtimeNs);
      futimesSync(fd, mtime, mtime);
    } catch (err) {
      fail(e.path, `cannot set directory metadata: ${errorMessage(err)}`);
    } finally {
      closeQuietly(fd);
    }
  };

  const selected = items.map((i) => Buffer.from(i));
  const found = new Set<number>();
  const wanted = (path: Buffer): 'yes' | 'ancestor' | 'no' => {
    if (selected.length === 0) return 'yes';
    selected.forEach((s, i) => {
      if (s.equals(path)) found.add(i);
    });
    for (const s of selected) if (s.equals(path) || isUnder(path, s)) return 'yes';
    for (const s of selected) if (path.length === 0 || isUnder(s, path)) return 'ancestor';
    return 'no';
  };

  try {
    let last: Buffer | null = null;
    let n = 0;
    for await (const e of options.manifest) {
      checkRelativePath(e.path);
      if (last !== null && comparePaths(last, e.path) >= 0) {
        throw new IntegrityError(`manifest is out of order at ${JSON.stringify(e.path.toString('utf8'))} (damaged or tampered with)`);
      }
      last = e.path;
      const want = wanted(e.path);
      if (want === 'no') continue;
      if (e.path.length === 0) {
        if (e.type !== 'dir') throw new UnsafePathError('the root of a recovery point must be a directory');
        if (want === 'yes') dirs.push({ abs: target, entry: e });
        continue;
      }
      if (want === 'ancestor' && e.type !== 'dir') continue;
      if (!ensureParents(e.path)) continue;
      try {
        if (e.type === 'dir') restoreDir(e);
        else if (e.type === 'file') await restoreFile(e);
        else if (e.type === 'hardlink') hardLinks.push(e);
        else restoreOther(e);
      } catch (err) {
        if (err === fatal) throw err;
        fail(e.path, errorMessage(err));
      }
      if (++n % 256 === 0) progress.update({ files: result.files, dirs: result.dirs, bytes: result.bytes, errors: errors.length });
    }
    await waitForRoom(0);
    verified.length = 1;
    for (const e of hardLinks) {
      try {
        restoreHardLink(e);
      } catch (err) {
        fail(e.path, errorMessage(err));
      }
    }
    // Deepest first, so setting a directory's mtime is not undone by writing into it.
    for (let i = dirs.length - 1; i >= 0; i--) applyDirMeta(dirs[i]!);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  progress.update({ files: result.files, dirs: result.dirs, bytes: result.bytes, errors: errors.length });
  const missingItems = items.filter((_, i) => !found.has(i));
  return { ...result, errors, warnings, missingItems };
}
