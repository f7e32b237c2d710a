/**
 * File-system steps of a restore that must never follow a symlink out of the
 * target: every directory we write into has been checked with lstat to be a
 * real directory, and files are opened with O_NOFOLLOW.
 */
import { closeSync, constants, lstatSync, openSync, unlinkSync, type Stats } from 'node:fs';
import { isErrno } from '../../base/index.js';
import type { ConflictMode } from './messages.js';

export function lstatOrNull(path: Buffer): Stats | null {
  try {
    return lstatSync(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw err;
  }
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
