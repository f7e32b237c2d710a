/**
 * Is the item at the target already the one in the recovery point? A file
 * is when it is a regular file of the point's size whose bytes, cut at the
 * point's chunk boundaries, hash to the point's chunk ids (keyed like the
 * pool's ids): exact, without the chunker, and read only when the size
 * matches — never decided on times alone. Such a file is neither fetched
 * nor written again (so an interrupted recovery resumes where it stopped),
 * and keep-both makes no copy of it. Links and special files are when they
 * are the same kind of item (a symbolic link: with the same target).
 */
import { constants, fchmodSync, fchownSync, fstatSync, futimesSync, openSync, readlinkSync, readSync, type Stats } from 'node:fs';
import type { ManifestEntry } from '../../format/index.js';
import { closeQuietly, utimesSeconds } from './fs-safe.js';

/** Computes a chunk id the way the pool does (SHA-256, or HMAC with the pool's id key). */
export type ChunkIdOf = (data: Uint8Array) => Buffer;

const OPEN = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** The bytes the restore would write for this entry (an item unreadable at backup time is restored empty). */
function expectedChunks(e: ManifestEntry): { size: number; chunks: NonNullable<ManifestEntry['chunks']> } {
  return e.error !== undefined ? { size: 0, chunks: [] } : { size: e.size, chunks: e.chunks ?? [] };
}

/** Reads exactly `length` bytes at `position` into `buf`; false at an early end of file. */
function readFully(fd: number, buf: Buffer, length: number, position: number): boolean {
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) return false;
    got += n;
  }
  return true;
}

/** Bytes read between two turns of the event loop: a large file is compared without stalling the pipeline's transfers. */
const YIELD_BYTES = 8 * 1024 * 1024;
const turn = () => new Promise<void>((r) => setImmediate(r));

/** Whether the open file's content is the entry's, chunk by chunk. */
async function sameChunks(fd: number, e: ManifestEntry, idOf: ChunkIdOf): Promise<boolean> {
  const { chunks } = expectedChunks(e);
  let buf = Buffer.allocUnsafe(0);
  let pos = 0;
  let sinceTurn = 0;
  for (const c of chunks) {
    if (buf.length < c.length) buf = Buffer.allocUnsafe(c.length);
    if (!readFully(fd, buf, c.length, pos)) return false;
    if (!idOf(buf.subarray(0, c.length)).equals(c.id)) return false;
    pos += c.length;
    sinceTurn += c.length;
    if (sinceTurn >= YIELD_BYTES) {
      sinceTurn = 0;
      await turn();
    }
  }
  return readSync(fd, Buffer.alloc(1), 0, 1, pos) === 0;
}

export interface IdenticalCheck {
  /** Put the point's mode, owner (when `owner` is set) and modification time back where they differ (overwrite, security point). */
  readonly fixMetadata: boolean;
  /** The point's owner as ids on this computer; null: owners are not restored. */
  readonly owner: readonly [number, number] | null;
}

/**
 * Whether the existing item `st` at `path` is the entry's file, by content.
 * With `fixMetadata`, an identical file that has one link (so nothing
 * outside the target shares it) gets the point's mode, owner and time
 * back where they differ. (Synchronous reads, several times faster than
 * promises for small files; a large one gives the event loop a turn every
 * few MiB.)
 */
export async function identicalFile(path: Buffer, st: Stats, e: ManifestEntry, idOf: ChunkIdOf, check: IdenticalCheck): Promise<boolean> {
  if (!st.isFile() || st.size !== expectedChunks(e).size) return false;
  let fd: number;
  try {
    fd = openSync(path, OPEN);
  } catch {
    return false; // gone, or now a link: written as any other file
  }
  try {
    const now = fstatSync(fd);
    if (!now.isFile() || now.ino !== st.ino || now.dev !== st.dev || !(await sameChunks(fd, e, idOf))) return false;
    if (check.fixMetadata && now.nlink === 1) fixMetadata(fd, now, e, check.owner);
    return true;
  } finally {
    closeQuietly(fd);
  }
}

function fixMetadata(fd: number, st: Stats, e: ManifestEntry, owner: readonly [number, number] | null): void {
  const chown = owner !== null && (st.uid !== owner[0] || st.gid !== owner[1]);
  if (chown) fchownSync(fd, owner[0], owner[1]);
  if ((st.mode & 0o7777) !== e.mode || chown) fchmodSync(fd, e.mode); // chown clears setuid bits
  const mtime = utimesSeconds(e.mtimeNs);
  if (Math.floor(st.mtimeMs * 1000) !== Math.floor(mtime * 1e6)) futimesSync(fd, mtime, mtime);
}

/** Whether an existing link or special file is already the entry (same kind; a symbolic link with the same target). */
export function identicalOther(path: Buffer, st: Stats, e: ManifestEntry): boolean {
  switch (e.type) {
    case 'symlink':
      if (!st.isSymbolicLink()) return false;
      try {
        return readlinkSync(path, { encoding: 'buffer' }).equals(e.target ?? Buffer.alloc(0));
      } catch {
        return false;
      }
    case 'fifo':
      return st.isFIFO();
    case 'char':
      return st.isCharacterDevice() && st.rdev === (e.rdev ?? 0);
    case 'block':
      return st.isBlockDevice() && st.rdev === (e.rdev ?? 0);
    default:
      return false;
  }
}
