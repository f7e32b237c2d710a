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

/**
 * Which manifest entries a restore of some items takes: an item and all
 * under it ('yes'), the directories above an item ('ancestor': made, but
 * nothing else of them), nothing else ('no'). Without items, everything.
 * Remembers which items were met, for the ones the point does not hold.
 */
export class ItemSelection {
  private readonly selected: Buffer[];
  private readonly found = new Set<number>();

  constructor(private readonly items: readonly string[]) {
    this.selected = items.map((i) => Buffer.from(i));
  }

  want(path: Buffer): 'yes' | 'ancestor' | 'no' {
    if (this.selected.length === 0) return 'yes';
    this.selected.forEach((s, i) => {
      if (s.equals(path)) this.found.add(i);
    });
    for (const s of this.selected) if (s.equals(path) || isUnder(path, s)) return 'yes';
    for (const s of this.selected) if (path.length === 0 || isUnder(s, path)) return 'ancestor';
    return 'no';
  }

  /** Items (as given) that no entry met. */
  missing(): string[] {
    return this.items.filter((_, i) => !this.found.has(i));
  }
}

/**
 * A large file's chunks cut into parts of about `partBytes` (each at least
 * one chunk), with the offset each starts at, and the total the chunks add
 * up to.
 */
export function cutParts(chunks: readonly ChunkRef[], partBytes: number): { parts: Array<{ chunks: ChunkRef[]; offset: number }>; total: number } {
  const parts: Array<{ chunks: ChunkRef[]; offset: number }> = [{ chunks: [], offset: 0 }];
  let inPart = 0;
  let offset = 0;
  for (const c of chunks) {
    if (inPart >= partBytes) {
      parts.push({ chunks: [], offset });
      inPart = 0;
    }
    parts.at(-1)!.chunks.push(c);
    inPart += c.length;
    offset += c.length;
  }
  return { parts, total: offset };
}

export async function runRestore(options: RestoreOptions): Promise<RestoreResult> {
  const run = new RestoreRun(options);
  try {
    await run.walk(options.manifest);
    await run.finish();
  } finally {
    await run.close();
  }
  return run.outcome();
}

/** One restore: its settings, what it has done so far, and a method per kind of item. */
class RestoreRun {
  private readonly conflict: ConflictMode;
  private readonly security: SecurityMode;
  private readonly progress: ProgressSink;
  private readonly restoreOwnership: boolean;
  private readonly metaPolicy: MetadataPolicy;
  /** New directories: private while the restore writes into them (security point: their mode is set at the end). */
  private readonly dirMode: number;
  private readonly idOf: ChunkIdOf;
  private readonly partBytes: number;
  private readonly owners = new OwnerNames();
  private readonly source: ChunkSource;
  private readonly target: Buffer;
  /** Directories this restore made (relative, latin1): nothing was in them before, so their files need no look at what is there. */
  private readonly madeDirs: Set<string>;
  private readonly selection: ItemSelection;
  private readonly pool: WriterPool<{ rel: Buffer; large?: LargeFile }>;

  private readonly result = { files: 0, dirs: 0, others: 0, identical: 0, copies: 0, skipped: 0, bytes: 0, damaged: false };
  private readonly errors: RestoreItemError[] = [];
  private readonly warnings: string[] = [];
  private readonly skippedItems: string[] = [];
  /** Directories checked to be real directories inside the target, as a stack along the walk. */
  private readonly verified: Buffer[] = [Buffer.alloc(0)];
  private readonly dirs: DirMeta[] = [];
  private readonly hardLinks: ManifestEntry[] = [];
  /** Special files made so far (their temporary names). */
  private nodes = 0;

  constructor(options: RestoreOptions) {
    this.conflict = options.conflict ?? 'overwrite';
    this.security = options.security ?? 'point';
    this.progress = options.progress ?? noProgress;
    this.restoreOwnership = this.security === 'point' && (options.restoreOwnership ?? process.getuid?.() === 0);
    this.metaPolicy = { security: this.security, ownership: this.restoreOwnership };
    this.dirMode = this.security === 'point' ? 0o700 : 0o777;
    const codec = new BlobCodec({ keys: options.keys, compressionLevel: options.compressionLevel });
    this.idOf = (data) => codec.chunkIdBytes(data);
    const bucket = new ThrottleBucket(options.throttle ?? [], options.clock ?? systemClock);
    this.partBytes = bucket.limited ? THROTTLED_PART_BYTES : PART_BYTES;
    this.source = options.source;
    this.selection = new ItemSelection(options.items ?? []);
    // Made and resolved a component at a time: no link is followed unless only root can have made it.
    this.target = Buffer.from(resolveTarget(resolve(options.target), { create: true }));
    this.madeDirs = new Set<string>(isEmptyDir(this.target) ? [''] : []);
    this.pool = new WriterPool<{ rel: Buffer; large?: LargeFile }>({
      workerData: { keys: options.keys, compressionLevel: options.compressionLevel, restoreOwnership: this.restoreOwnership, security: this.security },
      workers: options.workers,
      throttle: bucket,
      onReply: (reply, { rel, large }) => (large ? this.onPartDone(large, reply) : this.onFileDone(rel, reply)),
    });
  }

  /** Restores every selected entry of the manifest, in order (files go to the writers). */
  async walk(manifest: AsyncIterable<ManifestEntry>): Promise<void> {
    let last: Buffer | null = null;
    let n = 0;
    for await (const e of manifest) {
      checkRelativePath(e.path);
      if (last !== null && comparePaths(last, e.path) >= 0) {
        throw new IntegrityError(`manifest is out of order at ${JSON.stringify(e.path.toString('utf8'))} (damaged or tampered with)`);
      }
      last = e.path;
      await this.restoreEntry(e);
      if (++n % 256 === 0) this.reportProgress();
    }
  }

  /** Once every entry was walked: waits for the writers, then makes hard links and sets directory metadata. */
  async finish(): Promise<void> {
    await this.pool.drain();
    this.verified.length = 1;
    for (const e of this.hardLinks) {
      try {
        this.restoreHardLink(e);
      } catch (err) {
        this.fail(e.path, errorMessage(err));
      }
    }
    // Deepest first, so setting a directory's mtime is not undone by writing into it.
    for (let i = this.dirs.length - 1; i >= 0; i--) this.applyDirMeta(this.dirs[i]!);
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  outcome(): RestoreResult {
    this.reportProgress();
    return { ...this.result, skippedItems: this.skippedItems, errors: this.errors, warnings: this.warnings, missingItems: this.selection.missing() };
  }

  private reportProgress(): void {
    this.progress.update({ files: this.result.files, dirs: this.result.dirs, bytes: this.result.bytes, errors: this.errors.length });
  }

  private async restoreEntry(e: ManifestEntry): Promise<void> {
    const want = this.selection.want(e.path);
    if (want === 'no') return;
    if (e.path.length === 0) {
      if (e.type !== 'dir') throw new UnsafePathError('the root of a recovery point must be a directory');
      if (want === 'yes') this.dirs.push({ abs: this.target, entry: e, created: false });
      return;
    }
    if (want === 'ancestor' && e.type !== 'dir') return;
    if (!this.ensureParents(e.path)) {
      // Not written: a prefetching source need not hold its chunks.
      this.source.skip?.(e.chunks ?? []);
      return;
    }
    try {
      if (e.type === 'dir') this.restoreDir(e);
      else if (e.type === 'file') await this.restoreFile(e);
      else if (e.type === 'hardlink') this.hardLinks.push(e);
      else this.restoreOther(e);
    } catch (err) {
      if (err === this.pool.fatal || endsRestore(err)) throw err;
      this.fail(e.path, errorMessage(err));
    }
  }

  private fail(rel: Buffer, message: string): void {
    this.errors.push({ path: rel.toString('utf8') || '.', message });
  }

  private skipped(rel: Buffer): void {
    this.result.skipped++;
    this.skippedItems.push(rel.toString('utf8'));
  }

  private abs(rel: Buffer): Buffer {
    return rel.length === 0 ? this.target : Buffer.concat([this.target, Buffer.from('/'), rel]);
  }

  private madeHere(rel: Buffer): boolean {
    return this.madeDirs.has(parentOf(rel).toString('latin1'));
  }

  /** Makes sure every directory above `rel` exists as a real directory; false when refused. */
  private ensureParents(rel: Buffer): boolean {
    const verified = this.verified;
    const parent = parentOf(rel);
    while (verified.length > 1 && !(parent.equals(verified.at(-1)!) || isUnder(parent, verified.at(-1)!))) verified.pop();
    if (parent.equals(verified.at(-1)!)) return true;
    // Walk down from the deepest verified directory, one component at a time.
    let at = verified.at(-1)!;
    while (!at.equals(parent)) {
      const next = parent.indexOf(SLASH, at.length === 0 ? 0 : at.length + 1);
      const comp = next < 0 ? parent : parent.subarray(0, next);
      if (comp.length <= at.length) throw new UnsafePathError(`unsafe path in manifest: ${JSON.stringify(rel.toString('utf8'))}`);
      const st = lstatOrNull(this.abs(comp));
      if (st === null) {
        mkdirSync(this.abs(comp), { mode: this.dirMode });
        this.madeDirs.add(comp.toString('latin1'));
      } else if (!st.isDirectory()) {
        this.fail(rel, `refused: ${comp.toString('utf8')} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'} (would leave the target)`);
        return false;
      }
      verified.push(comp);
      at = comp;
    }
    return true;
  }

  /** Like ensureParents, but only checks (for hard link targets, which must already exist). */
  private parentsAreReal(rel: Buffer): boolean {
    for (let i = rel.indexOf(SLASH); i >= 0; i = rel.indexOf(SLASH, i + 1)) {
      const st = lstatOrNull(this.abs(rel.subarray(0, i)));
      if (st === null || !st.isDirectory()) return false;
    }
    return true;
  }

  /**
   * mkfifo and mknod take text paths, and a name that is not UTF-8 would not
   * survive the trip: the node is made under a plain temporary name in the
   * target and renamed to its real (checked, byte-exact) path.
   */
  private makeNode(p: Buffer, command: string[], after: string[]): void {
    const tmp = `${this.target.toString()}/.custos-node-${process.pid}-${this.nodes++}`;
    execFileSync(command[0]!, [...command.slice(1), tmp, ...after]);
    try {
      renameSync(tmp, p);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
  }

  private ownerOf(e: ManifestEntry): [number, number] {
    return [
      (e.user !== undefined ? this.owners.uidOf(e.user) : undefined) ?? e.uid,
      (e.group !== undefined ? this.owners.gidOf(e.group) : undefined) ?? e.gid,
    ];
  }

  private onFileDone(rel: Buffer, reply: RestoreWorkerReply): void {
    if (reply.kind === 'done') {
      if (reply.skipped) this.skipped(rel);
      else {
        this.result.files++;
        if (reply.copy) this.result.copies++;
        this.result.bytes += reply.bytes;
      }
      for (const warning of reply.warnings) this.warnings.push(`${rel.toString('utf8')}: ${warning}`);
    } else {
      if (reply.integrity) this.result.damaged = true;
      this.fail(rel, reply.message);
    }
  }

  private onPartDone(large: LargeFile, reply: RestoreWorkerReply): void {
    if (reply.kind === 'done') large.bytes += reply.bytes;
    else if (large.error === null) {
      large.error = reply.message;
      large.integrity = reply.integrity;
    }
    if (--large.remaining === 0) this.finishLargeFile(large);
  }

  /** Where each chunk is (or, from a remote source, its data), in order. */
  private async locateAll(refs: readonly ChunkRef[]): Promise<ChunkRead[]> {
    const chunks: ChunkRead[] = [];
    for (const c of refs) {
      const read = await this.source.locate(c.id);
      // Own small buffer: a view into Buffer's pool would send the whole pool slab to the worker.
      chunks.push({ ...read, id: new Uint8Array(read.id) });
    }
    return chunks;
  }

  /**
   * A file already at the target: identical (counted, its chunks never
   * fetched), or left alone by --conflict skip. Otherwise false: it is
   * written (overwrite replaces it, keep-both writes beside it).
   */
  private async fileIsSettled(e: ManifestEntry, p: Buffer, existing: Stats): Promise<boolean> {
    const fixMetadata = this.conflict === 'overwrite' && this.security === 'point';
    if (await identicalFile(p, existing, e, this.idOf, { fixMetadata, owner: this.restoreOwnership ? this.ownerOf(e) : null })) this.result.identical++;
    else if (this.conflict === 'skip') this.skipped(e.path);
    else return false;
    this.source.skip?.(e.chunks ?? []);
    return true;
  }

  private async restoreFile(e: ManifestEntry): Promise<void> {
    const p = this.abs(e.path);
    // In a directory this restore made nothing is there: no look, and the writer may create the file in place.
    const fresh = this.madeHere(e.path);
    const existing = fresh ? null : lstatOrNull(p);
    if (existing !== null && (await this.fileIsSettled(e, p, existing))) return;
    const [uid, gid] = this.ownerOf(e);
    // Security target: a replaced file keeps its mode and owner.
    const keep = this.security === 'target' && this.conflict === 'overwrite' && existing?.isFile() ? { mode: existing.mode, uid: existing.uid, gid: existing.gid } : undefined;
    if (e.error === undefined && e.size > this.partBytes && (e.chunks?.length ?? 0) > 1) return this.restoreLargeFile(e, uid, gid, keep);
    let chunks: ChunkRead[];
    try {
      chunks = await this.locateAll(e.chunks ?? []);
    } catch (err) {
      if (endsRestore(err)) throw err;
      this.result.damaged = true;
      return this.fail(e.path, errorMessage(err));
    }
    if (e.error !== undefined) this.warnings.push(`${e.path.toString('utf8')}: was not readable at backup time (${e.error}); restored empty`);
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
      conflict: this.conflict,
      ...(fresh ? { fresh: true } : {}),
      ...(keep ? { keep } : {}),
    };
    await this.pool.write(task, { rel: e.path });
  }

  /**
   * A large file is written by several workers at once: it is created here
   * (placement and conflict mode as for any file), each worker writes one
   * part in place, and when the last part is done its size and metadata are
   * set here. A failed part removes the file. The parts are cut from the
   * manifest's chunk lengths and their chunks located one part at a time, so
   * a remote source holds at most a few parts' data (WriterPool's bound).
   */
  private async restoreLargeFile(e: ManifestEntry, uid: number, gid: number, keep: MetadataPolicy['keep']): Promise<void> {
    const { parts, total } = cutParts(e.chunks!, this.partBytes);
    if (total !== e.size) {
      this.result.damaged = true;
      return this.fail(e.path, `chunks add up to ${total} bytes, the manifest says ${e.size}`);
    }
    const opened = openTemp(this.abs(e.path), creationMode(e.mode, this.security));
    if ('error' in opened) return this.fail(e.path, opened.error);
    closeSync(opened.fd);
    const meta: FileMetadata = { size: e.size, sparse: e.sparse === true, xattrs: e.xattrs ?? [], uid, gid, mode: e.mode, mtimeNs: e.mtimeNs };
    const large: LargeFile = { entry: e, path: this.abs(e.path), temp: opened.temp, keep, remaining: parts.length, bytes: 0, error: null, integrity: false, meta };
    for (let i = 0; i < parts.length; i++) {
      let chunks: ChunkRead[];
      try {
        chunks = await this.locateAll(parts[i]!.chunks);
      } catch (err) {
        // The parts not sent will never report: count them done, failed.
        large.error ??= errorMessage(err);
        large.integrity = true;
        large.remaining -= parts.length - i;
        if (large.remaining === 0) this.finishLargeFile(large);
        if (endsRestore(err)) throw err;
        return;
      }
      await this.pool.writePart({ ...large.meta, path: large.temp, chunks, conflict: this.conflict, part: { offset: parts[i]!.offset } }, { rel: e.path, large });
    }
  }

  /** The last part of a large file is done: set its metadata and give it its name, or remove it if a part failed. */
  private finishLargeFile(large: LargeFile): void {
    const e = large.entry;
    if (large.error === null && large.bytes !== e.size) large.error = `wrote ${large.bytes} bytes, the manifest says ${e.size}`;
    if (large.error !== null) {
      rmSync(large.temp, { force: true });
      if (large.integrity) this.result.damaged = true;
      return this.fail(e.path, large.error);
    }
    let fd = -1;
    try {
      fd = openSync(large.temp, constants.O_WRONLY | constants.O_NOFOLLOW);
      const written = setFileMetadata(fd, large.temp, large.meta, { ...this.metaPolicy, keep: large.keep });
      closeSync(fd);
      fd = -1;
      const committed = commitTemp(large.temp, large.path, this.conflict);
      if ('error' in committed) return this.fail(e.path, committed.error);
      if ('skip' in committed) return this.skipped(e.path);
      for (const w of written) this.warnings.push(`${e.path.toString('utf8')}: ${w}`);
      this.result.files++;
      if (committed.copy) this.result.copies++;
      this.result.bytes += large.bytes;
    } catch (err) {
      rmSync(large.temp, { force: true });
      this.fail(e.path, errorMessage(err));
    } finally {
      if (fd >= 0) closeQuietly(fd);
    }
  }

  private restoreDir(e: ManifestEntry): void {
    const p = this.abs(e.path);
    const st = lstatOrNull(p);
    if (st === null) mkdirSync(p, { mode: this.dirMode });
    else if (!st.isDirectory()) {
      if (this.conflict === 'overwrite' && !st.isSymbolicLink()) {
        const place = placeItem(p, this.conflict);
        if ('error' in place) return this.fail(e.path, place.error);
        mkdirSync(p, { mode: this.dirMode });
      } else {
        return this.fail(e.path, st.isSymbolicLink() ? 'refused: a symbolic link is in the way of a directory' : 'a file is in the way of a directory');
      }
    }
    this.verified.push(e.path);
    const created = st === null || !st.isDirectory();
    if (created) this.madeDirs.add(e.path.toString('latin1'));
    this.dirs.push({ abs: p, entry: e, created });
    this.result.dirs++;
  }

  private restoreOther(e: ManifestEntry): void {
    const existing = lstatOrNull(this.abs(e.path));
    if (existing !== null && identicalOther(this.abs(e.path), existing, e)) {
      this.result.identical++;
      return;
    }
    const place = placeItem(this.abs(e.path), this.conflict);
    if ('skip' in place) return this.skipped(e.path);
    if ('error' in place) return this.fail(e.path, place.error);
    const p = place.path;
    const [uid, gid] = this.ownerOf(e);
    const mtime = utimesSeconds(e.mtimeNs);
    switch (e.type) {
      case 'symlink':
        symlinkSync(e.target ?? Buffer.alloc(0), p);
        break;
      case 'fifo':
        this.makeNode(p, ['mkfifo', ...(this.security === 'point' ? ['-m', (e.mode & 0o7777).toString(8)] : [])], []);
        break;
      case 'char':
      case 'block': {
        if (!this.restoreOwnership) return this.fail(e.path, 'device files are restored only when running as root');
        const rdev = e.rdev ?? 0;
        const major = (rdev >> 8) & 0xfff;
        const minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
        this.makeNode(p, ['mknod', '-m', (e.mode & 0o7777).toString(8)], [e.type === 'char' ? 'c' : 'b', String(major), String(minor)]);
        break;
      }
      default:
        return this.fail(e.path, `${e.type} items cannot be restored`);
    }
    if (this.restoreOwnership) lchownSync(p, uid, gid);
    lutimesSync(p, mtime, mtime);
    this.result.others++;
  }

  private restoreHardLink(e: ManifestEntry): void {
    const target = e.target ?? Buffer.alloc(0);
    try {
      checkRelativePath(target);
    } catch (err) {
      return this.fail(e.path, errorMessage(err));
    }
    if (target.length === 0 || !this.parentsAreReal(target)) return this.fail(e.path, 'refused: hard link target is not a file restored inside the target');
    const st = lstatOrNull(this.abs(target));
    if (st === null || !st.isFile()) return this.fail(e.path, `hard link target ${target.toString('utf8')} was not restored`);
    if (!this.ensureParents(e.path)) return;
    const here = lstatOrNull(this.abs(e.path));
    if (here !== null && here.ino === st.ino && here.dev === st.dev) {
      this.result.identical++;
      return;
    }
    const place = placeItem(this.abs(e.path), this.conflict);
    if ('skip' in place) return this.skipped(e.path);
    if ('error' in place) return this.fail(e.path, place.error);
    linkSync(this.abs(target), place.path);
    this.result.others++;
  }

  private applyDirMeta({ abs: p, entry: e, created }: DirMeta): void {
    // Security target: an existing directory is left alone; a new one has what the target gave it, and the point's time.
    if (this.security === 'target' && !created) return;
    let fd: number;
    try {
      fd = openSync(p, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    } catch (err) {
      return this.fail(e.path, `cannot set directory metadata: ${errorMessage(err)}`);
    }
    try {
      const xattrs = this.security === 'point' ? e.xattrs ?? [] : (e.xattrs ?? []).filter(([name]) => !isSecurityXattr(name));
      const failed = writeXattrs(p, xattrs);
      if (failed.length > 0) this.warnings.push(`${e.path.toString('utf8') || '.'}: extended attributes not restored: ${failed.join(', ')}`);
      if (this.restoreOwnership) {
        const [uid, gid] = this.ownerOf(e);
        fchownSync(fd, uid, gid);
      }
      if (this.security === 'point') fchmodSync(fd, e.mode);
      const mtime = utimesSeconds(e.mtimeNs);
      futimesSync(fd, mtime, mtime);
    } catch (err) {
      this.fail(e.path, `cannot set directory metadata: ${errorMessage(err)}`);
    } finally {
      closeQuietly(fd);
    }
  }
}
