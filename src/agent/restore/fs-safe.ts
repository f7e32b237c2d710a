/**
 * File-system steps of a restore that must never follow a symlink out of the
 * target: every directory we write into has been checked with lstat to be a
 * real directory, and files are opened with O_NOFOLLOW.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, fchmodSync, fchownSync, ftruncateSync, futimesSync, linkSync, lstatSync, mkdirSync, openSync, readlinkSync, renameSync, rmSync, unlinkSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { writeXattrs } from '../backup/xattrs.js';
import { CustosError, UnsafePathError, isErrno } from '../../base/index.js';
import type { ConflictMode, SecurityMode } from './messages.js';

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

/** A new file, never through a link, never over anything. */
export const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const SLASH = 0x2f;

/**
 * The name a file is written under before it takes its real name: in the
 * same directory (so the rename is atomic), hidden, and the same for the
 * same file every time, so that a restore that was killed leaves at most
 * one such file per file it was writing, which the next run replaces.
 */
export function tempNameFor(path: Buffer): Buffer {
  const slash = path.lastIndexOf(SLASH);
  const name = path.subarray(slash + 1);
  const tag = createHash('sha256').update(name).digest('hex').slice(0, 16);
  return Buffer.concat([path.subarray(0, slash + 1), Buffer.from(`.custos-tmp-${tag}`)]);
}

/**
 * Opens a new file under tempNameFor(path) without following a symlink; a
 * leftover of an earlier, interrupted restore (anything but a directory) is
 * removed first. `mode` is the creation mode (the umask and a default ACL
 * of the directory apply to it).
 */
export function openTemp(path: Buffer, mode: number): { fd: number; temp: Buffer } | { error: string } {
  const temp = tempNameFor(path);
  try {
    return { fd: openSync(temp, CREATE, mode), temp }; // the common case: no leftover
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw err;
  }
  if (lstatOrNull(temp)?.isDirectory()) return { error: `a directory is in the way of the temporary file ${temp.toString('utf8')}` };
  unlinkSync(temp);
  return { fd: openSync(temp, CREATE, mode), temp };
}

export type Committed = { readonly path: Buffer; readonly copy: boolean } | { readonly skip: true } | { readonly error: string };

/**
 * Gives a completely written temporary file its real name, per the conflict
 * mode: overwrite renames it over whatever file, link or special file is
 * there (atomically: a reader sees the old file or the new one, never part
 * of one); skip and keep-both never replace anything (a hard link fails if
 * the name is taken, then keep-both tries the next free name). The
 * temporary name is gone afterwards, whatever the outcome.
 */
export function commitTemp(temp: Buffer, path: Buffer, conflict: ConflictMode): Committed {
  let renamed = false;
  try {
    if (conflict === 'overwrite') {
      try {
        renameSync(temp, path);
      } catch (err) {
        if (isErrno(err, 'EISDIR') || isErrno(err, 'ENOTEMPTY') || isErrno(err, 'EEXIST')) return { error: 'a directory is in the way' };
        throw err;
      }
      renamed = true;
      return { path, copy: false };
    }
    for (let candidate = path, copy = false; ; candidate = keepBothName(path), copy = true) {
      const placed = linkOrRename(temp, candidate);
      if (placed === 'renamed') renamed = true;
      if (placed !== 'taken') return { path: candidate, copy };
      if (conflict === 'skip') return { skip: true };
    }
  } finally {
    if (!renamed) rmSync(temp, { force: true });
  }
}

/** Links `temp` to the free name `to` ('taken' when it is not); where hard links are not supported, renames when `to` is free. */
function linkOrRename(temp: Buffer, to: Buffer): 'linked' | 'renamed' | 'taken' {
  try {
    linkSync(temp, to);
    return 'linked';
  } catch (err) {
    if (isErrno(err, 'EEXIST')) return 'taken';
    if (!isErrno(err, 'EPERM') && !isErrno(err, 'ENOTSUP') && !isErrno(err, 'EOPNOTSUPP')) throw err;
  }
  if (lstatOrNull(to) !== null) return 'taken';
  renameSync(temp, to);
  return 'renamed';
}

/** The creation mode of a new file: the point's mode (security point; set again by fchmod), else read/write for all and the point's execute bits, less the umask and default ACL. */
export function creationMode(mode: number, security: SecurityMode): number {
  return security === 'point' ? 0o600 : 0o666 | (mode & 0o111);
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

/** Extended attributes that carry security (ACLs, SELinux and other labels): with --security target they come from the target, not the point. */
export function isSecurityXattr(name: string): boolean {
  return name.startsWith('system.posix_acl_') || name.startsWith('security.');
}

/** How a written file's metadata is set: the point's security (owners when allowed), or the target's (keeping an overwritten file's mode and owner). */
export interface MetadataPolicy {
  readonly security: SecurityMode;
  /** Owners are set (security point, running as root). */
  readonly ownership: boolean;
  /** Security target, overwriting a file: its mode and owner, kept. */
  readonly keep?: { readonly mode: number; readonly uid: number; readonly gid: number } | undefined;
}

/** Sets a written file's size (sparse files may end in a hole) and metadata; returns warnings. */
export function setFileMetadata(fd: number, path: Uint8Array, meta: FileMetadata, policy: MetadataPolicy): string[] {
  if (meta.sparse) ftruncateSync(fd, meta.size);
  const warnings: string[] = [];
  const xattrs = policy.security === 'point' ? meta.xattrs : meta.xattrs.filter(([name]) => !isSecurityXattr(name));
  const failed = writeXattrs(path, xattrs);
  if (failed.length > 0) warnings.push(`extended attributes not restored: ${failed.join(', ')}`);
  if (policy.security === 'point') {
    if (policy.ownership) fchownSync(fd, meta.uid, meta.gid); // before chmod: chown clears setuid bits
    fchmodSync(fd, meta.mode);
  } else if (policy.keep) {
    try {
      fchownSync(fd, policy.keep.uid, policy.keep.gid);
    } catch {
      // not root: the file stays the writing process's
    }
    fchmodSync(fd, policy.keep.mode & 0o7777);
  }
  const mtime = utimesSeconds(meta.mtimeNs);
  futimesSync(fd, mtime, mtime);
  return warnings;
}
