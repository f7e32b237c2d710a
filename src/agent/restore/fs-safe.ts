/**
 * File-system steps of a restore that must never follow a symlink out of the
 * target: every directory we write into has been checked with lstat to be a
 * real directory, and files are opened with O_NOFOLLOW.
 */
import { closeSync, constants, fchmodSync, fchownSync, ftruncateSync, futimesSync, lstatSync, mkdirSync, openSync, readlinkSync, unlinkSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { writeXattrs } from '../backup/xattrs.js';
import { CustosError, UnsafePathError, isErrno } from '../../base/index.js';
import type { ConflictMode } from './messages.js';

export function lstatOrNull(path: Buffer): Stats | null {
  try {
    return lstatSync(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw err;
  }
}

/** A recovery target that is, or lies below, something other than a directory: refused before anything is written. */
export function notADirectory(target: string, at: string, last: boolean): CustosError {
  const where = last ? (at === target.replace(/\/+$/, '') ? 'is' : `(${at}) is`) : `lies below ${at}, which is`;
  return new CustosError('bad-target', `recovery target ${target} ${where} not a directory: give a directory, or a path that does not exist yet`);
}

/** Symbolic links followed while resolving one target path, at most (as the kernel's ELOOP limit). */
const MAX_LINK_HOPS = 40;

/**
 * A symbolic link in a target path is followed only when nobody but root can
 * have placed it or can change it: the link is owned by root and so is the
 * directory holding it, which nobody else may write to (no group or other
 * write bit). `/var/run → /run` passes; a link a user made in their home
 * directory, or any link in /tmp, does not.
 */
export function isTrustedLink(link: Stats, holder: Stats): boolean {
  return link.uid === 0 && holder.uid === 0 && (holder.mode & 0o022) === 0;
}

/**
 * Resolves a recovery target on this computer without following links it
 * cannot trust: walks the path from '/' a component at a time with lstat;
 * a symbolic link is followed only when isTrustedLink says so (anything
 * else is refused), a component that is neither a directory nor such a link
 * is refused. Missing components are created one at a time as directories
 * (`create`) or, without `create`, appended as written. Returns the path
 * with every link resolved: what the restore writes into.
 */
export function resolveTarget(path: string, options: { create: boolean }): string {
  if (!path.startsWith('/')) throw new CustosError('usage', `recovery target ${path} is not an absolute path`);
  const pending = path.split('/');
  let resolved = '/';
  let hops = 0;
  while (pending.length > 0) {
    const c = pending.shift()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      resolved = dirname(resolved);
      continue;
    }
    const next = resolved === '/' ? `/${c}` : `${resolved}/${c}`;
    let st = lstatOrNull(Buffer.from(next));
    if (st === null) {
      if (!options.create) {
        resolved = next;
        continue;
      }
      try {
        mkdirSync(next);
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw err;
      }
      st = lstatSync(next); // whatever is there now (made by us, or by someone faster) is checked below
    }
    if (st.isSymbolicLink()) {
      if (!isTrustedLink(st, lstatSync(resolved))) {
        throw new UnsafePathError(`refused: recovery target ${path}: ${next} is a symbolic link not owned by root in a directory only root can write to; give the real path`);
      }
      if (++hops > MAX_LINK_HOPS) throw new UnsafePathError(`refused: recovery target ${path}: too many symbolic links`);
      const to = readlinkSync(next, 'utf8');
      if (to.startsWith('/')) resolved = '/';
      pending.unshift(...to.split('/'));
      continue;
    }
    if (!st.isDirectory()) throw notADirectory(path, next, pending.every((p) => p === '' || p === '.'));
    resolved = next;
  }
  return resolved;
}

/** A free name beside `path` for keep-both: "name.restored", "name.restored-2", … */
export function keepBothName(path: Buffer): Buffer {
  for (let i = 1; ; i++) {
    const candidate = Buffer.concat([path, Buffer.from(i === 1 ? '.restored' : `.restored-${i}`)]);
    if (lstatOrNull(candidate) === null) return candidate;
  }
}

export type Placement = { readonly path: Buffer } | { readonly skip: true } | { readonly error: string };

/**
 * Decides where a non-directory item goes given what is already there.
 * overwrite: a file, link or special file in the way is removed; a directory is not.
 */
export function placeItem(path: Buffer, conflict: ConflictMode): Placement {
  const existing = lstatOrNull(path);
  if (existing === null) return { path };
  if (conflict === 'skip') return { skip: true };
  if (conflict === 'keep-both') return { path: keepBothName(path) };
  if (existing.isDirectory()) return { error: 'a directory is in the way' };
  unlinkSync(path);
  return { path };
}

const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Opens a new file for writing without following a symlink, replacing per the conflict mode. */
export function openForRestore(path: Buffer, conflict: ConflictMode): { fd: number; path: Buffer } | { skip: true } | { error: string } {
  try {
    return { fd: openSync(path, CREATE, 0o600), path }; // the common case: nothing there yet
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw err;
  }
  const place = placeItem(path, conflict);
  if (!('path' in place)) return place;
  return { fd: openSync(place.path, CREATE, 0o600), path: place.path };
}

export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

export interface FileMetadata {
  readonly size: number;
  readonly sparse: boolean;
  readonly xattrs: ReadonlyArray<readonly [string, Uint8Array]>;
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
  readonly mtimeNs: bigint;
}

/**
 * A manifest time (nanoseconds) as the seconds that futimes/lutimes take.
 * Node hands them to libuv as a double, which keeps microseconds and
 * truncates the rest: Number(ns) / 1e9 is off by up to ~0.5 µs (the double
 * cannot hold 19 digits), enough to land in the next or previous microsecond
 * and, near a boundary, the next millisecond. Half a microsecond added to the
 * exact microsecond count keeps the truncation on the right microsecond
 * (times after 1970; earlier ones as close as libuv allows).
 */
export function utimesSeconds(mtimeNs: bigint): number {
  return (Number(mtimeNs / 1000n) + 0.5) / 1e6;
}

/** Sets a written file's size (sparse files may end in a hole) and metadata; returns warnings. */
export function setFileMetadata(fd: number, path: Uint8Array, meta: FileMetadata, restoreOwnership: boolean): string[] {
  if (meta.sparse) ftruncateSync(fd, meta.size);
  const warnings: string[] = [];
  const failed = writeXattrs(path, meta.xattrs);
  if (failed.length > 0) warnings.push(`extended attributes not restored: ${failed.join(', ')}`);
  if (restoreOwnership) fchownSync(fd, meta.uid, meta.gid); // before chmod: chown clears setuid bits
  fchmodSync(fd, meta.mode);
  const mtime = utimesSeconds(meta.mtimeNs);
  futimesSync(fd, mtime, mtime);
  return warnings;
}
