/**
 * A typed wrapper of our inotify binding (native/fsnotify/fsnotify.c, see
 * native.ts): one inotify instance, watches added and removed by path bytes,
 * and the raw event records parsed into InotifyEvent values. Linux only.
 *
 * The binding reads the descriptor whenever it is readable, so events arrive
 * in the kernel's order, once per read(); the callback runs as a top-level
 * callback (a throw is an uncaught exception, so callers catch their own).
 */
import { endianness } from 'node:os';
import { Notifier, type NativeInotify } from './native.js';

// Masks and flags from <sys/inotify.h> (the same on every Linux architecture).
export const IN_ACCESS = 0x00000001;
export const IN_MODIFY = 0x00000002;
export const IN_ATTRIB = 0x00000004;
export const IN_CLOSE_WRITE = 0x00000008;
export const IN_CLOSE_NOWRITE = 0x00000010;
export const IN_OPEN = 0x00000020;
export const IN_MOVED_FROM = 0x00000040;
export const IN_MOVED_TO = 0x00000080;
export const IN_CREATE = 0x00000100;
export const IN_DELETE = 0x00000200;
export const IN_DELETE_SELF = 0x00000400;
export const IN_MOVE_SELF = 0x00000800;
export const IN_UNMOUNT = 0x00002000;
export const IN_Q_OVERFLOW = 0x00004000;
export const IN_IGNORED = 0x00008000;
export const IN_ONLYDIR = 0x01000000;
export const IN_DONT_FOLLOW = 0x02000000;
export const IN_EXCL_UNLINK = 0x04000000;
export const IN_MASK_ADD = 0x20000000;
export const IN_ISDIR = 0x40000000;
export const IN_ONESHOT = 0x80000000;

/** One `struct inotify_event`. */
export interface InotifyEvent {
  /** The watch it belongs to; -1 for IN_Q_OVERFLOW. */
  readonly wd: number;
  readonly mask: number;
  /** Pairs an IN_MOVED_FROM with its IN_MOVED_TO (0 otherwise). */
  readonly cookie: number;
  /** The entry's name in the watched directory (raw bytes), or null for an event on the watched directory itself. */
  readonly name: Buffer | null;
}

/** struct inotify_event: int wd; uint32 mask; uint32 cookie; uint32 len; char name[len] (NUL padded). */
const HEADER = 16;
const LE = endianness() === 'LE';

/** Parses the records of one read(); throws on a truncated record (the kernel never returns one). */
export function parseEvents(buf: Buffer): InotifyEvent[] {
  const events: InotifyEvent[] = [];
  let off = 0;
  while (off < buf.length) {
    if (off + HEADER > buf.length) throw new Error(`truncated inotify record at ${off} of ${buf.length}`);
    const wd = LE ? buf.readInt32LE(off) : buf.readInt32BE(off);
    const mask = LE ? buf.readUInt32LE(off + 4) : buf.readUInt32BE(off + 4);
    const cookie = LE ? buf.readUInt32LE(off + 8) : buf.readUInt32BE(off + 8);
    const len = LE ? buf.readUInt32LE(off + 12) : buf.readUInt32BE(off + 12);
    const end = off + HEADER + len;
    if (end > buf.length) throw new Error(`truncated inotify record at ${off} of ${buf.length}`);
    let name: Buffer | null = null;
    if (len > 0) {
      const nul = buf.indexOf(0, off + HEADER);
      // A copy, so a kept name does not pin the whole 64 KiB read.
      name = Buffer.from(buf.subarray(off + HEADER, nul < 0 || nul > end ? end : nul));
    }
    events.push({ wd, mask, cookie, name });
    off = end;
  }
  return events;
}

export interface InotifyOptions {
  /** Called with each read()'s events, in the kernel's order. */
  readonly onEvents: (events: InotifyEvent[]) => void;
  /** Called when the descriptor cannot be read (the instance is then unusable: close it). */
  readonly onError: (err: Error) => void;
}

/** One inotify instance. Methods throw Node-style system errors (`code` 'ENOSPC', 'ENOENT', ...). */
export class Inotify extends Notifier<NativeInotify> {
  constructor(options: InotifyOptions) {
    super('Inotify', (buf) => options.onEvents(parseEvents(buf)), options.onError);
  }

  /** inotify_add_watch(2): the watch descriptor (the same one again for an inode already watched). */
  addWatch(path: string | Buffer, mask: number): number {
    return this.native.addWatch(typeof path === 'string' ? Buffer.from(path) : path, mask >>> 0);
  }

  /** inotify_rm_watch(2); an IN_IGNORED event for `wd` follows. */
  rmWatch(wd: number): void {
    this.native.rmWatch(wd);
  }
}
