/**
 * The manifest of a recovery point: every item of the protected tree in walk
 * order (depth-first, names sorted bytewise, so a directory comes right before
 * its contents), written as binary records cut into pages. Each page is stored
 * as a chunk, so manifests deduplicate and are read a page at a time: a tree
 * of a million files is never in memory at once. See pool-format.md, "Manifest".
 */
import { IntegrityError, UnsafePathError } from '../base/index.js';
import { ByteReader, ByteWriter } from './binary.js';

export const MANIFEST_PAGE_VERSION = 1;

export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo' | 'char' | 'block' | 'socket';
const TYPE_CODES: readonly EntryType[] = ['file', 'dir', 'symlink', 'hardlink', 'fifo', 'char', 'block', 'socket'];

export interface ChunkRef {
  /** 32 bytes. */
  readonly id: Buffer;
  readonly length: number;
}

export interface ManifestEntry {
  /** Relative path, components joined by '/', raw bytes (names need not be UTF-8). The root is ''. */
  readonly path: Buffer;
  readonly type: EntryType;
  /** Permission bits including setuid/setgid/sticky (mode & 0o7777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly user?: string | undefined;
  readonly group?: string | undefined;
  readonly mtimeNs: bigint;
  /** Change detection only: ctime and inode number as seen at backup. */
  readonly ctimeNs: bigint;
  readonly ino: bigint;
  /** Logical size for files; 0 otherwise. */
  readonly size: number;
  /** Symlink target, or for a hard link the path of the first entry it links to. */
  readonly target?: Buffer | undefined;
  readonly rdev?: number | undefined;
  /** Extended attributes, POSIX ACLs included (system.posix_acl_*). */
  readonly xattrs?: ReadonlyArray<readonly [string, Buffer]> | undefined;
  readonly chunks?: readonly ChunkRef[] | undefined;
  /** The file had holes; restore writes zero chunks as holes. */
  readonly sparse?: boolean | undefined;
  /** The file kept changing while it was read; content may be inconsistent. */
  readonly changedDuringRead?: boolean | undefined;
  /** Set when the item could not be read; content is absent. */
  readonly error?: string | undefined;
}

const P_USER = 1 << 0;
const P_GROUP = 1 << 1;
const P_TARGET = 1 << 2;
const P_RDEV = 1 << 3;
const P_XATTRS = 1 << 4;
const P_CHUNKS = 1 << 5;
const P_SPARSE = 1 << 6;
const P_CHANGED = 1 << 7;
const P_ERROR = 1 << 8;

export function encodeEntry(w: ByteWriter, e: ManifestEntry): void {
  let presence = 0;
  if (e.user !== undefined) presence |= P_USER;
  if (e.group !== undefined) presence |= P_GROUP;
  if (e.target !== undefined) presence |= P_TARGET;
  if (e.rdev !== undefined) presence |= P_RDEV;
  if (e.xattrs !== undefined && e.xattrs.length > 0) presence |= P_XATTRS;
  if (e.chunks !== undefined) presence |= P_CHUNKS;
  if (e.sparse) presence |= P_SPARSE;
  if (e.changedDuringRead) presence |= P_CHANGED;
  if (e.error !== undefined) presence |= P_ERROR;
  w.u8(TYPE_CODES.indexOf(e.type)).varint(presence).bytes(e.path);
  w.varint(e.mode).varint(e.uid).varint(e.gid).i64(e.mtimeNs).i64(e.ctimeNs).u64(e.ino).varint(e.size);
  if (presence & P_USER) w.str(e.user!);
  if (presence & P_GROUP) w.str(e.group!);
  if (presence & P_TARGET) w.bytes(e.target!);
  if (presence & P_RDEV) w.varint(e.rdev!);
  if (presence & P_XATTRS) {
    w.varint(e.xattrs!.length);
    for (const [name, value] of e.xattrs!) w.str(name).bytes(value);
  }
  if (presence & P_CHUNKS) {
    w.varint(e.chunks!.length);
    for (const c of e.chunks!) w.raw(c.id).varint(c.length);
  }
  if (presence & P_ERROR) w.str(e.error!);
}

export function decodeEntry(r: ByteReader): ManifestEntry {
  const type = TYPE_CODES[r.u8()];
  if (type === undefined) throw new IntegrityError('manifest: unknown entry type');
  const presence = r.varint();
  const path = Buffer.from(r.bytes());
  const mode = r.varint();
  const uid = r.varint();
  const gid = r.varint();
  const mtimeNs = r.i64();
  const ctimeNs = r.i64();
  const ino = r.u64();
  const size = r.varint();
  const e: { -readonly [K in keyof ManifestEntry]: ManifestEntry[K] } = { path, type, mode, uid, gid, mtimeNs, ctimeNs, ino, size };
  if (presence & P_USER) e.user = r.str();
  if (presence & P_GROUP) e.group = r.str();
  if (presence & P_TARGET) e.target = Buffer.from(r.bytes());
  if (presence & P_RDEV) e.rdev = r.varint();
  if (presence & P_XATTRS) {
    const n = r.varint();
    const xattrs: Array<readonly [string, Buffer]> = [];
    for (let i = 0; i < n; i++) xattrs.push([r.str(), Buffer.from(r.bytes())]);
    e.xattrs = xattrs;
  }
  if (presence & P_CHUNKS) {
    const n = r.varint();
    const chunks: ChunkRef[] = new Array(n);
    for (let i = 0; i < n; i++) chunks[i] = { id: Buffer.from(r.raw(32)), length: r.varint() };
    e.chunks = chunks;
  }
  if (presence & P_SPARSE) e.sparse = true;
  if (presence & P_CHANGED) e.changedDuringRead = true;
  if (presence & P_ERROR) e.error = r.str();
  return e;
}

/** Encodes a page: a version byte, then records each prefixed by its length. */
export function encodePage(entries: readonly ManifestEntry[]): Buffer {
  const w = new ByteWriter(64 * 1024);
  const rec = new ByteWriter(1024);
  w.u8(MANIFEST_PAGE_VERSION);
  for (const e of entries) {
    rec.reset();
    encodeEntry(rec, e);
    w.varint(rec.length).raw(rec.finish());
  }
  return w.finish();
}

export function decodePage(page: Buffer): ManifestEntry[] {
  const r = new ByteReader(page, 0, 'manifest page');
  const v = r.u8();
  if (v !== MANIFEST_PAGE_VERSION) throw new IntegrityError(`manifest page version ${v} is not supported`);
  const out: ManifestEntry[] = [];
  while (!r.done) {
    const len = r.varint();
    const end = r.pos + len;
    out.push(decodeEntry(r));
    if (r.pos !== end) throw new IntegrityError('manifest page: record length mismatch');
  }
  return out;
}

/**
 * Walk order: bytewise with '/' ranking below every other byte, which is the
 * depth-first order of a tree whose siblings are sorted by name.
 */
export function comparePaths(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a[i]!;
    let y = b[i]!;
    if (x === y) continue;
    if (x === 0x2f) x = 0;
    if (y === 0x2f) y = 0;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * Rejects a path that could leave a restore target: absolute, empty or '.'
 * or '..' components, NUL bytes. The root entry is the empty path.
 */
export function checkRelativePath(path: Uint8Array): void {
  if (path.length === 0) return;
  let start = 0;
  for (let i = 0; i <= path.length; i++) {
    if (i === path.length || path[i] === 0x2f) {
      const len = i - start;
      const bad =
        len === 0 ||
        (len === 1 && path[start] === 0x2e) ||
        (len === 2 && path[start] === 0x2e && path[start + 1] === 0x2e);
      if (bad) throw new UnsafePathError(`unsafe path in manifest: ${JSON.stringify(Buffer.from(path).toString('utf8'))}`);
      start = i + 1;
    } else if (path[i] === 0) {
      throw new UnsafePathError('unsafe path in manifest: contains a NUL byte');
    }
  }
}

/** Should a page end after this entry? Content-defined on the path, so unchanged stretches of a tree give identical pages. */
export function isPageBoundary(path: Uint8Array, pageBytes: number): boolean {
  if (pageBytes >= MAX_PAGE_BYTES) return true;
  if (pageBytes < MIN_PAGE_BYTES) return false;
  let h = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) h = Math.imul(h ^ path[i]!, 0x01000193);
  return ((h >>> 0) & (PAGE_BOUNDARY_MODULUS - 1)) === 0;
}
export const MIN_PAGE_BYTES = 64 * 1024;
export const MAX_PAGE_BYTES = 1024 * 1024;
export const PAGE_BOUNDARY_MODULUS = 256;

/** Builds manifest pages entry by entry, cutting them at content-defined boundaries. */
export class ManifestPageBuilder {
  private readonly page = new ByteWriter(MAX_PAGE_BYTES + 64 * 1024);
  private readonly rec = new ByteWriter(4096);
  private count = 0;
  private last: Buffer | null = null;

  constructor() {
    this.page.u8(MANIFEST_PAGE_VERSION);
  }

  /** Adds an entry (paths must strictly increase in walk order); returns a finished page, if one is. */
  add(e: ManifestEntry): { page: Buffer; entries: number } | null {
    if (this.last !== null && comparePaths(this.last, e.path) >= 0) {
      throw new Error(`manifest entries out of order: ${e.path.toString('utf8')}`);
    }
    this.last = e.path;
    this.rec.reset();
    encodeEntry(this.rec, e);
    this.page.varint(this.rec.length).raw(this.rec.finish());
    this.count++;
    return isPageBoundary(e.path, this.page.length) ? this.finish() : null;
  }

  finish(): { page: Buffer; entries: number } | null {
    if (this.count === 0) return null;
    const out = { page: this.page.finish(), entries: this.count };
    this.page.reset();
    this.page.u8(MANIFEST_PAGE_VERSION);
    this.count = 0;
    return out;
  }
}
