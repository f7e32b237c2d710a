/**
 * One page of a live directory on this computer, for the server's
 * `list-dir` question (the group wizard picks members by browsing the
 * protected computer; docs/design/agent-protocol.md "Questions").
 *
 * Names are ordered by their bytes (no locale, the same on every agent).
 * Readdir gives no order, so a page needs every name of the directory to be
 * seen once, but not kept: the directory is read as a stream (opendir) and
 * only the `limit` smallest names after the cursor are held, in a max-heap;
 * memory is O(limit) whatever the size of the directory, time O(n log
 * limit). At most MAX_SCANNED_NAMES names are read for one page (beyond,
 * the question fails with a clear message: type the path instead). Only the
 * entries of the page are lstat'ed (a symbolic link is never followed); an
 * entry whose st_dev is not the directory's is a mount point (a btrfs
 * subvolume shows as one too).
 */
import { lstat, opendir, stat } from 'node:fs/promises';
import type { BigIntStats, Dirent } from 'node:fs';
import { CustosError } from '../../base/index.js';
import {
  cursorName,
  cursorOf,
  livePathProblem,
  MAX_LIST_ENTRIES,
  wireName,
  type DirEntry,
  type EntryType,
  type ListDirAnswer,
} from '../../protocol/index.js';

/** Names read for one page at most (some 2–5 s of readdir per million, within the server's 10 s): a bigger directory is not listed. */
export const MAX_SCANNED_NAMES = 2_000_000;
/** lstat calls in flight for one page. */
const STAT_CONCURRENCY = 16;

export interface ListDirOptions {
  /** Entries per page, 1 … 1000. */
  readonly limit: number;
  /** The cursor (base64 of a name's bytes) of the last entry of the previous page. */
  readonly after?: string | undefined;
  /** For tests: a smaller bound on the names read. */
  readonly maxScannedNames?: number;
}

interface Candidate {
  readonly name: Buffer;
  readonly dirent: Dirent<Buffer>;
}

/** Lists one page of the directory `path` (absolute, canonical). Errors are CustosErrors meant for the admin. */
export async function listDir(path: string, options: ListDirOptions): Promise<ListDirAnswer> {
  const problem = livePathProblem(path);
  if (problem !== null) throw new CustosError('usage', problem);
  if (!Number.isInteger(options.limit) || options.limit < 1 || options.limit > MAX_LIST_ENTRIES) throw new CustosError('usage', `limit must be from 1 to ${MAX_LIST_ENTRIES}`);
  const after = options.after === undefined ? null : cursorName(options.after);
  if (options.after !== undefined && after === null) throw new CustosError('usage', 'after is not the cursor of a name');

  const dir = await stat(path, { bigint: true }).catch((err: unknown) => { throw fsError(err, path); });
  if (!dir.isDirectory()) throw new CustosError('usage', `not a directory: ${path}`);
  const { page, more } = await smallestNames(path, after, options.limit, options.maxScannedNames ?? MAX_SCANNED_NAMES);
  const entries = await mapLimited(page, STAT_CONCURRENCY, (c) => entryOf(path, c, dir.dev));
  const last = page.at(-1);
  return { kind: 'list-dir', path, entries, next: more && last ? cursorOf(last.name) : null };
}

/** Reads the directory once; the `limit` smallest names after `after`, ascending, and whether there were more. */
async function smallestNames(path: string, after: Buffer | null, limit: number, maxScanned: number): Promise<{ page: Candidate[]; more: boolean }> {
  const heap = new MaxHeap<Candidate>((a, b) => Buffer.compare(a.name, b.name));
  let more = false;
  let scanned = 0;
  const d = await openBufferDir(path).catch((err: unknown) => { throw fsError(err, path); });
  try {
    for await (const dirent of d) {
      if (++scanned > maxScanned) {
        throw new CustosError('usage', `${path} holds more than ${maxScanned.toLocaleString('en-US')} entries: too many to list in name order; type the path instead`);
      }
      const name = dirent.name;
      if (after !== null && Buffer.compare(name, after) <= 0) continue;
      if (heap.size < limit) {
        heap.push({ name, dirent });
        continue;
      }
      more = true;
      if (Buffer.compare(name, heap.peek()!.name) < 0) heap.replaceTop({ name, dirent });
    }
  } catch (err) {
    throw err instanceof CustosError ? err : fsError(err, path);
  }
  // for await closes the directory, also when the loop throws.
  return { page: heap.drain().reverse(), more };
}

/** opendir with names as bytes (Node supports encoding 'buffer' here; its types do not say so). */
function openBufferDir(path: string): Promise<AsyncIterable<Dirent<Buffer>>> {
  return opendir(path, { encoding: 'buffer' as BufferEncoding, bufferSize: 1024 }) as unknown as Promise<AsyncIterable<Dirent<Buffer>>>;
}

async function entryOf(dirPath: string, c: Candidate, dirDev: bigint): Promise<DirEntry> {
  const full = Buffer.concat([Buffer.from(dirPath === '/' ? '/' : `${dirPath}/`, 'utf8'), c.name]);
  let st: BigIntStats | null = null;
  try {
    st = await lstat(full, { bigint: true });
  } catch {
    // Gone since readdir, or not searchable: what readdir said, size unknown.
  }
  const type = st ? typeOf(st) : typeOf(c.dirent);
  return {
    ...wireName(c.name),
    type,
    size: st && type === 'file' ? Number(st.size) : 0,
    ...(st && st.dev !== dirDev ? { mountPoint: true as const } : {}),
  };
}

function typeOf(s: { isDirectory(): boolean; isFile(): boolean; isSymbolicLink(): boolean }): EntryType {
  return s.isSymbolicLink() ? 'symlink' : s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'other';
}

/** A file system error as the admin reads it (the code says which, for the REST status). */
function fsError(err: unknown, path: string): CustosError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return new CustosError('not-found', `no such directory: ${path}`);
    case 'ENOTDIR':
      return new CustosError('usage', `not a directory: ${path}`);
    case 'EACCES':
    case 'EPERM':
      return new CustosError('denied', `permission denied: ${path}`);
    case 'ELOOP':
      return new CustosError('usage', `too many levels of symbolic links: ${path}`);
    default:
      return new CustosError('io', `cannot list ${path}: ${(err as Error)?.message ?? String(err)}`, { transient: code === 'EIO' || code === 'EAGAIN' || code === 'EBUSY' });
  }
}

async function mapLimited<T, R>(items: readonly T[], limit: number, f: (x: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** A binary max-heap (the largest item on top). */
class MaxHeap<T> {
  private readonly items: T[] = [];
  constructor(private readonly cmp: (a: T, b: T) => number) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(x: T): void {
    const a = this.items;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.cmp(a[i]!, a[p]!) <= 0) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }

  /** Replaces the largest item with x. */
  replaceTop(x: T): void {
    this.items[0] = x;
    this.down(0);
  }

  /** Empties the heap, largest first. */
  drain(): T[] {
    const out: T[] = [];
    const a = this.items;
    while (a.length > 0) {
      out.push(a[0]!);
      const last = a.pop()!;
      if (a.length > 0) {
        a[0] = last;
        this.down(0);
      }
    }
    return out;
  }

  private down(i: number): void {
    const a = this.items;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && this.cmp(a[l]!, a[m]!) > 0) m = l;
      if (r < a.length && this.cmp(a[r]!, a[m]!) > 0) m = r;
      if (m === i) return;
      [a[i], a[m]] = [a[m]!, a[i]!];
      i = m;
    }
  }
}
