/**
 * Small files of a cluster's account, read by the agent as root: never
 * through a link (O_NOFOLLOW), never blocking on a FIFO (O_NONBLOCK), only
 * regular files, only so many bytes — the account could have put anything
 * at those names.
 */
import { closeSync, constants, fstatSync, openSync, readSync, writeSync, fchownSync } from 'node:fs';
import { CustosError } from '../../../base/index.js';

/** A small regular file (at most `max` bytes; `tail`: its last `max` bytes instead of refusing a longer one). */
export function readSmallFileSync(path: string, max: number, options: { readonly tail?: boolean; readonly ownerUid?: number } = {}): Buffer {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new CustosError('format', `${path} is not a regular file`);
    if (options.ownerUid !== undefined && st.uid !== options.ownerUid) throw new CustosError('format', `${path} belongs to uid ${st.uid}, not ${options.ownerUid}`);
    if (st.size > max && !options.tail) throw new CustosError('format', `${path} is ${st.size} bytes, more than ${max}`);
    const from = Math.max(0, st.size - max);
    const buf = Buffer.alloc(Math.min(max, st.size));
    const n = readSync(fd, buf, 0, buf.length, from);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** Writes a new file (never through a link, never over one that exists) and gives it to uid/gid through the same descriptor. */
export function writeNewFileAs(path: string, data: Buffer, mode: number, uid: number, gid: number): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    writeSync(fd, data);
    fchownSync(fd, uid, gid);
  } finally {
    closeSync(fd);
  }
}
