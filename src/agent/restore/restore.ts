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
  opendirSync,
  openSync,
  renameSync,
  rmSync,
  symlinkSync,
  type Stats,
} from 'node:fs';
import { resolve } from 'node:path';
import { CustosError, IntegrityError, UnsafePathError, errorMessage, noProgress, systemClock, type Clock, type ProgressSink } from '../../base/index.js';
import { BlobCodec, checkRelativePath, comparePaths, type ChunkRef, type ManifestEntry, type ChunkKeys } from '../../format/index.js';
import { ThrottleBucket, type ThrottleRule } from '../../protection/index.js';
import { OwnerNames } from '../backup/owners.js';
import { writeXattrs } from '../backup/xattrs.js';
import { closeQuietly, commitTemp, creationMode, isSecurityXattr, lstatOrNull, openTemp, placeItem, resolveTarget, setFileMetadata, utimesSeconds, type FileMetadata, type MetadataPolicy } from './fs-safe.js';
import { identicalFile, identicalOther, type ChunkIdOf } from './identical.js';
import { WriterPool } from './writer-pool.js';
import type { ChunkRead, ConflictMode, RestoreFileTask, RestoreWorkerReply, SecurityMode } from './messages.js';

/** Where the restore finds chunks; the pool is one, the server connection another. */
export interface ChunkSource {
  /** How a worker reads this chunk; throws when the source does not have it. */
  locate(id: Buffer): Promise<ChunkRead> | ChunkRead;
  /** These chunks will not be asked for (their file is already at the target): a prefetching source drops them. */
  skip?(chunks: readonly ChunkRef[]): void;
}

export interface RestoreOptions {
  readonly manifest: AsyncIterable<ManifestEntry>;
  readonly target: string;
  readonly source: ChunkSource;
  readonly keys: ChunkKeys | null;
  readonly compressionLevel: number;
  /** Paths relative to the protected directory; empty = everything. */
  readonly items?: readonly string[];
  /** What to do when an item exists at the target and differs from the point's (an identical one is left alone whatever the mode); default overwrite. */
  readonly conflict?: ConflictMode;
  /** Whose security new items get: the point's (default) or the target's (existing items left alone). */
  readonly security?: SecurityMode;
  /** Bytes written per second, at most (--throttle); the clock decides which windowed rate is in force. */
  readonly throttle?: readonly ThrottleRule[];
  readonly clock?: Clock;
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
  /** Files written (new, replaced, or keep-both copies). */
  readonly files: number;
  readonly dirs: number;
  readonly others: number;
  /** Files, links and special files already identical at the target: not written again. */
  readonly identical: number;
  /** Of `files`: written beside a differing existing file (keep-both), as NAME.restored, NAME.restored-2, … */
  readonly copies: number;
  /** Items left out because a different one exists at the target (--conflict skip). */
  readonly skipped: number;
  /** Their paths (relative to the target). */
  readonly skippedItems: string[];
  readonly bytes: number;
  readonly errors: RestoreItemError[];
  /** Some chunk failed its integrity check: the restore is incomplete. */
  readonly damaged: boolean;
  readonly warnings: string[];
  /** Requested items (as given in `items`) that the point does not hold: nothing was recovered for them. */
  readonly missingItems: string[];
}

const SLASH = 0x2f;

function isUnder(path: Buffer, dir: Buffer): boolean {
  return path.length > dir.length && path[dir.length] === SLASH && path.subarray(0, dir.length).equals(dir);
}

/** Whether a directory has no entries (reads one at most). */
function isEmptyDir(path: Buffer): boolean {
  const dir = opendirSync(path.toString());
  try {
    return dir.readSync() === null;
  } finally {
    dir.closeSync();
  }
}

function parentOf(path: Buffer): Buffer {
  const i = path.lastIndexOf(SLASH);
  return i < 0 ? Buffer.alloc(0) : path.subarray(0, i);
}

/** A large file whose parts are being written by several workers. */
interface LargeFile {
  readonly entry: ManifestEntry;
  /** Its real name, which it takes when complete (or a keep-both name beside it). */
  readonly path: Buffer;
  /** Where its parts are being written (fs-safe tempNameFor). */
  readonly temp: Buffer;
  readonly meta: FileMetadata;
  readonly keep: MetadataPolicy['keep'];
  remaining: number;
  bytes: number;
  error: string | null;
  integrity: boolean;
}

/** Files larger than this are written in parts of about this size by several workers at once. */
const PART_BYTES = 64 * 1024 * 1024;
/** The same under --throttle: smaller parts keep the writing even. */
const THROTTLED_PART_BYTES = 1024 * 1024;

interface DirMeta {
  readonly abs: Buffer;
  readonly entry: ManifestEntry;
  /** Made by this restore (with security target, only those get a time, and nothing else). */
  readonly created: boolean;
}


/**
 * A chunk source error that ends the whole restore rather than one file:
 * the job was cancelled, or the connection to the server is gone (a
 * transient error). Going on would only fail every file left; the job is
 * retried instead, and the retry finds what was written.
 */
export function endsRestore(err: unknown): boolean {
  return err instanceof CustosError && (err.code === 'cancelled' || err.transient);
}

export async function runRestore(options: RestoreOptions): Promise<RestoreResult> {
  const conflict = options.conflict ?? 'overwrite';
  const security = options.security ?? 'point';
  const progress = options.progress ?? noProgress;
  const restoreOwnership = security === 'point' && (options.restoreOwnership ?? process.getuid?.() === 0);
  const metaPolicy: MetadataPolicy = { security, ownership: restoreOwnership };
  /** New directories: private while the restore writes into them (security point: their mode is set at the end). */
  const dirMode = security === 'point' ? 0o700 : 0o777;
  const codec = new BlobCodec({ keys: options.keys, compressionLevel: options.compressionLevel });
  const idOf: ChunkIdOf = (data) => codec.chunkIdBytes(data);
  const bucket = new ThrottleBucket(options.throttle ?? [], options.clock ?? systemClock);
  const partBytes = bucket.limited ? THROTTLED_PART_BYTES : PART_BYTES;
  const items = options.items ?? [];
  const owners = new OwnerNames();
  // Made and resolved a component at a time: no link is followed unless only root can have made it.
  const target = Buffer.from(resolveTarget(resolve(options.target), { create: true }));
  /** Directories this restore made (relative, latin1): nothing was in them before, so their files need no look at what is there. */
  const madeDirs = new Set<string>(isEmptyDir(target) ? [''] : []);
  const madeHere = (rel: Buffer): boolean => madeDirs.has(parentOf(rel).toString('latin1'));
  const abs = (rel: Buffer): Buffer => (rel.length === 0 ? target : Buffer.concat([target, Buffer.from('/'), rel]));

  const result = { files: 0, dirs: 0, others: 0, identical: 0, copies: 0, skipped: 0, bytes: 0, damaged: false };
  const errors: RestoreItemError[] = [];
  const warnings: string[] = [];
  const skippedItems: string[] = [];
  const fail = (rel: Buffer, message: string): void => {
    errors.push({ path: rel.toString('utf8') || '.', message });
  };
  const skipped = (rel: Buffer): void => {
    result.skipped++;
    skippedItems.push(rel.toString('utf8'));
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
      if (st === null) {
        mkdirSync(abs(comp), { mode: dirMode });
        madeDirs.add(comp.toString('latin1'));
      }
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
  let nodes = 0;
  const makeNode = (p: Buffer, command: string[], after: string[]): void => {
    const tmp = `${target.toString()}/.custos-node-${process.pid}-${nodes++}`;
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

  const pool = new WriterPool<{ rel: Buffer; large?: LargeFile }>({
    workerData: { keys: options.keys, compressionLevel: options.compressionLevel, restoreOwnership, security },
    workers: options.workers,
    throttle: bucket,
    onReply: (reply, { rel, large }) => (large ? onPartDone(large, reply) : onFileDone(rel, reply)),
  });

  const onFileDone = (rel: Buffer, reply: RestoreWorkerReply): void => {
    if (reply.kind === 'done') {
      if (reply.skipped) skipped(rel);
      else {
        result.files++;
        if (reply.copy) result.copies++;
        result.bytes += reply.bytes;
      }
      for (const warning of reply.warnings) warnings.push(`${rel.toString('utf8')}: ${warning}`);
    } else {
      if (reply.integrity) result.damaged = true;
      fail(rel, reply.message);
    }
  };

  const onPartDone = (large: LargeFile, reply: RestoreWorkerReply): void => {
    if (reply.kind === 'done') large.bytes += reply.bytes;
    else if (large.error === null) {
      large.error = reply.message;
      large.integrity = reply.integrity;
    }
    if (--large.remaining === 0) finishLargeFile(large);
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

  /**
   * A file already at the target: identical (counted, its chunks never
   * fetched), or left alone by --conflict skip. Otherwise false: it is
   * written (overwrite replaces it, keep-both writes beside it).
   */
  const fileIsSettled = async (e: ManifestEntry, p: Buffer, existing: Stats): Promise<boolean> => {
    const fixMetadata = conflict === 'overwrite' && security === 'point';
    if (await identicalFile(p, existing, e, idOf, { fixMetadata, owner: restoreOwnership ? ownerOf(e) : null })) result.identical++;
    else if (conflict === 'skip') skipped(e.path);
    else return false;
    options.source.skip?.(e.chunks ?? []);
    return true;
  };

  const restoreFile = async (e: ManifestEntry): Promise<void> => {
    const p = abs(e.path);
    const existing = madeHere(e.path) ? null : lstatOrNull(p);
    if (existing !== null && (await fileIsSettled(e, p, existing))) return;
    const [uid, gid] = ownerOf(e);
    // Security target: a replaced file keeps its mode and owner.
    const keep = security === 'target' && conflict === 'overwrite' && existing?.isFile() ? { mode: existing.mode, uid: existing.uid, gid: existing.gid } : undefined;
    if (e.error === undefined && e.size > partBytes && (e.chunks?.length ?? 0) > 1) return restoreLargeFile(e, uid, gid, keep);
    let chunks: ChunkRead[];
    try {
      chunks = await locateAll(e.chunks ?? []);
    } catch (err) {
      if (endsRestore(err)) throw err;
      result.damaged = true;
      return fail(e.path, errorMessage(err));
    }
    if (e.error !== undefined) warnings.push(`${e.path.toString('utf8')}: was not readable at backup time (${e.error}); restored empty`);
    const task: Omit<RestoreFileTask, 't'> = {
      path: p,
      size: e.error !== undefined ? 0 : e.size,
      mode: e.mode,
      uid,
      gid,
      mtimeNs: e.mtimeNs,
      sparse: e.sparse === true,
      xattrs: e.xattrs ?? [],
      chunks,
      conflict,
      ...(existing === null && madeHere(e.path) ? { fresh: true } : {}),
      ...(keep ? { keep } : {}),
    };
    await pool.write(task, { rel: e.path });
  };

  /**
   * A large file is written by several workers at once: it is created here
   * (placement and conflict mode as for any file), each worker writes one
   * part in place, and when the last part is done its size and metadata are
   * set here. A failed part removes the file. The parts are cut from the
   * manifest's chunk lengths and their chunks located one part at a time, so
   * a remote source holds at most a few parts' data (WriterPool's bound).
   */
  const restoreLargeFile = async (e: ManifestEntry, uid: number, gid: number, keep: MetadataPolicy['keep']): Promise<void> => {
    const parts: Array<{ chunks: ChunkRef[]; offset: number }> = [{ chunks: [], offset: 0 }];
    let inPart = 0;
    let offset = 0;
    for (const c of e.chunks!) {
      if (inPart >= partBytes) {
        parts.push({ chunks: [], offset });
        inPart = 0;
      }
      parts.at(-1)!.chunks.push(c);
      inPart += c.length;
      offset += c.length;
    }
    if (offset !== e.size) {
      result.damaged = true;
      return fail(e.path, `chunks add up to ${offset} bytes, the manifest says ${e.size}`);
    }
    const opened = openTemp(abs(e.path), creationMode(e.mode, security));
    if ('error' in opened) return fail(e.path, opened.error);
    closeSync(opened.fd);
    const meta: FileMetadata = { size: e.size, sparse: e.sparse === true, xattrs: e.xattrs ?? [], uid, gid, mode: e.mode, mtimeNs: e.mtimeNs };
    const large: LargeFile = { entry: e, path: abs(e.path), temp: opened.temp, keep, remaining: parts.length, bytes: 0, error: null, integrity: false, meta };
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
        if (endsRestore(err)) throw err;
        return;
      }
      await pool.writePart({ ...large.meta, path: large.temp, chunks, conflict, part: { offset: parts[i]!.offset } }, { rel: e.path, large });
    }
  };

  /** The last part of a large file is done: set its metadata and give it its name, or remove it if a part failed. */
  const finishLargeFile = (large: LargeFile): void => {
    const e = large.entry;
    if (large.error === null && large.bytes !== e.size) large.error = `wrote ${large.bytes} bytes, the manifest says ${e.size}`;
    if (large.error !== null) {
      rmSync(large.temp, { force: true });
      if (large.integrity) result.damaged = true;
      return fail(e.path, large.error);
    }
    let fd = -1;
    try {
      fd = openSync(large.temp, constants.O_WRONLY | constants.O_NOFOLLOW);
      const written = setFileMetadata(fd, large.temp, large.meta, { ...metaPolicy, keep: large.keep });
      closeSync(fd);
      fd = -1;
      const committed = commitTemp(large.temp, large.path, conflict);
      if ('error' in committed) return fail(e.path, committed.error);
      if ('skip' in committed) return skipped(e.path);
      for (const w of written) warnings.push(`${e.path.toString('utf8')}: ${w}`);
      result.files++;
      if (committed.copy) result.copies++;
      result.bytes += large.bytes;
    } catch (err) {
      rmSync(large.temp, { force: true });
      fail(e.path, errorMessage(err));
    } finally {
      if (fd >= 0) closeQuietly(fd);
    }
  };

  const restoreDir = (e: ManifestEntry): void => {
    const p = abs(e.path);
    const st = lstatOrNull(p);
    if (st === null) mkdirSync(p, { mode: dirMode });
    else if (!st.isDirectory()) {
      if (conflict === 'overwrite' && !st.isSymbolicLink()) {
        const place = placeItem(p, conflict);
        if ('error' in place) return fail(e.path, place.error);
        mkdirSync(p, { mode: dirMode });
      } else {
        return fail(e.path, st.isSymbolicLink() ? 'refused: a symbolic link is in the way of a directory' : 'a file is in the way of a directory');
      }
    }
    verified.push(e.path);
    const created = st === null || !st.isDirectory();
    if (created) madeDirs.add(e.path.toString('latin1'));
    dirs.push({ abs: p, entry: e, created });
    result.dirs++;
  };

  const restoreOther = (e: ManifestEntry): void => {
    const existing = lstatOrNull(abs(e.path));
    if (existing !== null && identicalOther(abs(e.path), existing, e)) {
      result.identical++;
      return;
    }
    const place = placeItem(abs(e.path), conflict);
    if ('skip' in place) return skipped(e.path);
    if ('error' in place) return fail(e.path, place.error);
    const p = place.path;
    const [uid, gid] = ownerOf(e);
    const mtime = utimesSeconds(e.mtimeNs);
    switch (e.type) {
      case 'symlink':
        symlinkSync(e.target ?? Buffer.alloc(0), p);
        break;
      case 'fifo':
        makeNode(p, ['mkfifo', ...(security === 'point' ? ['-m', (e.mode & 0o7777).toString(8)] : [])], []);
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
    const here = lstatOrNull(abs(e.path));
    if (here !== null && here.ino === st.ino && here.dev === st.dev) {
      result.identical++;
      return;
    }
    const place = placeItem(abs(e.path), conflict);
    if ('skip' in place) return skipped(e.path);
    if ('error' in place) return fail(e.path, place.error);
    linkSync(abs(target), place.path);
    result.others++;
  };

  const applyDirMeta = ({ abs: p, entry: e, created }: DirMeta): void => {
    // Security target: an existing directory is left alone; a new one has what the target gave it, and the point's time.
    if (security === 'target' && !created) return;
    let fd: number;
    try {
      fd = openSync(p, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    } catch (err) {
      return fail(e.path, `cannot set directory metadata: ${errorMessage(err)}`);
    }
    try {
      const xattrs = security === 'point' ? e.xattrs ?? [] : (e.xattrs ?? []).filter(([name]) => !isSecurityXattr(name));
      const failed = writeXattrs(p, xattrs);
      if (failed.length > 0) warnings.push(`${e.path.toString('utf8') || '.'}: extended attributes not restored: ${failed.join(', ')}`);
      if (restoreOwnership) {
        const [uid, gid] = ownerOf(e);
        fchownSync(fd, uid, gid);
      }
      if (security === 'point') fchmodSync(fd, e.mode);
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
        if (want === 'yes') dirs.push({ abs: target, entry: e, created: false });
        continue;
      }
      if (want === 'ancestor' && e.type !== 'dir') continue;
      if (!ensureParents(e.path)) {
        // Not written: a prefetching source need not hold its chunks.
        options.source.skip?.(e.chunks ?? []);
        continue;
      }
      try {
        if (e.type === 'dir') restoreDir(e);
        else if (e.type === 'file') await restoreFile(e);
        else if (e.type === 'hardlink') hardLinks.push(e);
        else restoreOther(e);
      } catch (err) {
        if (err === pool.fatal || endsRestore(err)) throw err;
        fail(e.path, errorMessage(err));
      }
      if (++n % 256 === 0) progress.update({ files: result.files, dirs: result.dirs, bytes: result.bytes, errors: errors.length });
    }
    await pool.drain();
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
    await pool.close();
  }
  progress.update({ files: result.files, dirs: result.dirs, bytes: result.bytes, errors: errors.length });
  const missingItems = items.filter((_, i) => !found.has(i));
  return { ...result, skippedItems, errors, warnings, missingItems };
}
