/**
 * A typed wrapper of our fanotify binding (native/fsnotify/fsnotify.c, see
 * native.ts): one fanotify group in file-handle mode with whole-file-system
 * marks. The binding resolves each event's file handle to the object's
 * device, inode, link count and mode before handing it over, so what arrives
 * here are FanotifyRecords, whichever path the change was made through.
 * Linux only, and only for a process with CAP_SYS_ADMIN and
 * CAP_DAC_READ_SEARCH (the agent runs as root).
 */
import { endianness } from 'node:os';
import { Notifier, type NativeFanotify } from './native.js';

// From <linux/fanotify.h>.
export const FAN_MODIFY = 0x00000002;
export const FAN_ATTRIB = 0x00000004;
export const FAN_Q_OVERFLOW = 0x00004000;

/** One event, as the binding resolved it. */
export type FanotifyRecord =
  | { readonly kind: 'object'; readonly dev: bigint; readonly ino: bigint; readonly nlink: number; readonly mode: number; readonly mask: number }
  /** The kernel's queue overflowed: events were dropped. */
  | { readonly kind: 'overflow' }
  /** An event whose object could not be resolved (`errno`): which object changed is unknown. */
  | { readonly kind: 'unresolved'; readonly errno: number; readonly mask: number };

/** u64 dev, u64 ino, u32 nlink, u32 mode, u32 mask, u32 flags, u64 reserved; host byte order. */
const RECORD = 40;
const FLAG_OVERFLOW = 1;
const FLAG_UNRESOLVED = 2;
const LE = endianness() === 'LE';

/** Parses one delivery of the binding; throws on a length that is not whole records. */
export function parseRecords(buf: Buffer): FanotifyRecord[] {
  if (buf.length % RECORD !== 0) throw new Error(`fanotify records: ${buf.length} bytes is not a whole number of ${RECORD}-byte records`);
  const out: FanotifyRecord[] = [];
  for (let off = 0; off < buf.length; off += RECORD) {
    const u64 = (at: number) => (LE ? buf.readBigUInt64LE(off + at) : buf.readBigUInt64BE(off + at));
    const u32 = (at: number) => (LE ? buf.readUInt32LE(off + at) : buf.readUInt32BE(off + at));
    const flags = u32(28);
    const mask = u32(24);
    if (flags & FLAG_OVERFLOW) out.push({ kind: 'overflow' });
    else if (flags & FLAG_UNRESOLVED) out.push({ kind: 'unresolved', errno: u32(16), mask });
    else out.push({ kind: 'object', dev: u64(0), ino: u64(8), nlink: u32(16), mode: u32(20), mask });
  }
  return out;
}

export interface FanotifyOptions {
  /** Called with each read()'s records, in the kernel's order. */
  readonly onRecords: (records: FanotifyRecord[]) => void;
  /** Called when the descriptor cannot be read (the instance is then unusable: close it). */
  readonly onError: (err: Error) => void;
}

/** One fanotify group. Methods throw Node-style system errors (`code` 'EPERM', 'EXDEV', ...). */
export class Fanotify extends Notifier<NativeFanotify> {
  constructor(options: FanotifyOptions) {
    super('Fanotify', (buf) => options.onRecords(parseRecords(buf)), options.onError);
  }

  /**
   * Reports `mask` events of every object of the file system that holds
   * `path` (FAN_MARK_FILESYSTEM; once per file system). Returns the file
   * system's fsid in hex.
   */
  markFileSystem(path: string | Buffer, mask: number): string {
    return this.native.mark(typeof path === 'string' ? Buffer.from(path) : path, mask >>> 0);
  }

  /** Hands over, before it returns, the events of every change made before the call. */
  drain(): void {
    if (!this.closed) this.native.drain();
  }
}
