/**
 * Recovery downloads: a recovery point (or items of it) streamed out of the
 * pool as a tar, tar.zst or zip archive, never staged on the server's disk.
 * The manifest is read a page at a time and each file's chunks a few at a
 * time (read, decrypted, checked against their ids), and the archive is
 * pulled by the HTTP response: when the client reads slowly, reading the
 * pool waits. What stays in memory is bounded by the stream buffers, a few
 * chunks, one manifest page and the hard links that need copying; a zip's
 * central directory moves to an unnamed file (in the pool's tmp/, unlinked
 * as soon as it is made) past 4 MiB.
 *
 * An item whose content cannot be read (a damaged chunk) is written
 * zero-filled and listed in the summary; a failure that leaves the archive
 * unusable (a damaged manifest page) ends the stream early with the summary
 * saying so. The summary is what the caller checks before keeping the file.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, pipeline } from 'node:stream';
import { CompressStream } from 'zstd-napi';
import { IntegrityError, UnsafePathError, errorMessage } from '../base/index.js';
import {
  TarWriter,
  ZipWriter,
  checkRelativePath,
  comparePaths,
  type ArchiveEntry,
  type ArchiveWriter,
  type CentralDirectoryStore,
  type ManifestEntry,
  type RecoveryPointRecord,
} from '../format/index.js';
import type { Pool } from '../pool/index.js';
import type { ArchiveFormat, DownloadSummary } from '../protocol/rest/index.js';

export const ARCHIVE_MEDIA_TYPES: Record<ArchiveFormat, string> = { tar: 'application/x-tar', 'tar.zst': 'application/zstd', zip: 'application/zip' };

export interface DownloadOptions {
  readonly pool: Pool;
  readonly point: RecoveryPointRecord;
  /** Manifest paths (normalizeItem); empty: the whole point. */
  readonly items: readonly Buffer[];
  readonly format: ArchiveFormat;
  /** Told about a download that ended early (the server's log). */
  readonly log?: (message: string) => void;
  /** Where a zip's central directory goes when it grows (default: the pool's tmp/). */
  readonly spillDir?: string;
}

export interface Download {
  readonly body: Readable;
  summary(): DownloadSummary;
}

/** Chunks read ahead of the one being sent. */
const READ_AHEAD = 4;
/** Bytes the archive stream buffers before it waits for the client. */
const STREAM_BUFFER = 1024 * 1024;
const LISTED = 20;
const ZEROS = Buffer.alloc(1024 * 1024);

/** Starts a download: the stream is produced as the caller reads it. The point stays pinned (gc leaves its chunks) until the stream closes. */
export function startDownload(o: DownloadOptions): Download {
  const state = new DownloadState(o.point.id);
  const unpin = o.pool.activity.pin(o.point);
  const source = Readable.from(archiveBytes(o, state), { objectMode: false, highWaterMark: STREAM_BUFFER });
  source.once('close', unpin);
  const body = o.format === 'tar.zst' ? pipeline(source, new CompressStream({ compressionLevel: 3 }), () => undefined) : source;
  return { body, summary: () => state.summary() };
}

/** What has been written so far, and what went wrong. */
class DownloadState {
  files = 0;
  dirs = 0;
  others = 0;
  bytes = 0;
  leftOut = 0;
  complete = false;
  error: string | null = null;
  readonly warnings: string[] = [];
  readonly errors: Array<{ path: string; message: string }> = [];
  private warningCount = 0;
  private errorCount = 0;

  constructor(private readonly point: string) {}

  warn(path: Buffer, message: string): void {
    if (this.warningCount++ < LISTED) this.warnings.push(`${path.toString('utf8') || '.'}: ${message}`);
  }

  fail(path: Buffer, message: string): void {
    if (this.errorCount++ < LISTED) this.errors.push({ path: path.toString('utf8') || '.', message });
  }

  count(e: ArchiveEntry): void {
    if (e.type === 'file') {
      this.files++;
      this.bytes += e.size;
    } else if (e.type === 'dir') this.dirs++;
    else this.others++;
  }

  summary(): DownloadSummary {
    const cut = (s: string) => (s.length > 300 ? `${s.slice(0, 300)}…` : s);
    return {
      complete: this.complete,
      point: this.point,
      files: this.files,
      dirs: this.dirs,
      others: this.others,
      bytes: this.bytes,
      leftOut: this.leftOut,
      warnings: this.warnings.map(cut),
      warningCount: this.warningCount,
      errors: this.errors.map((e) => ({ path: cut(e.path), message: cut(e.message) })),
      errorCount: this.errorCount,
      error: this.error,
    };
  }
}

/** The bytes of the archive; a failure that makes it unusable ends it early (state.error) instead of throwing. */
async function* archiveBytes(o: DownloadOptions, state: DownloadState): AsyncGenerator<Buffer> {
  const writer: ArchiveWriter = o.format === 'zip' ? new ZipWriter({ central: new SpillingCentralDirectory(o.spillDir ?? join(o.pool.dir, 'tmp')) }) : new TarWriter();
  const selection = new ItemSelection(o.items);
  const copies: ManifestEntry[] = [];
  const put = (e: ManifestEntry, as: ArchiveEntry = archiveEntry(e)) => {
    state.count(as);
    return writer.entry(as, as.type === 'file' ? fileContent(o.pool, e, as.size, state) : undefined);
  };
  try {
    for await (const e of inWalkOrder(o.pool.manifest(o.point, o.items))) {
      const want = selection.wanted(e.path);
      if (want === 'no' || (want === 'ancestor' && e.type !== 'dir')) continue;
      if (e.path.length === 0) {
        if (e.type !== 'dir') throw new UnsafePathError('the root of a recovery point must be a directory');
        // The root's metadata (tar: './'); zip has no entry for it.
        if (want === 'yes' && o.format !== 'zip') yield* put(e);
        continue;
      }
      if (e.type === 'socket' || (e.type !== 'hardlink' && writer.unsupported.has(e.type))) {
        state.leftOut++;
        state.warn(e.path, `left out: a ${o.format} archive cannot hold a ${e.type}`);
      } else if (e.type === 'hardlink') {
        // tar links to the first path when that is in the archive; otherwise (and in zip) the link becomes a copy.
        if (!writer.unsupported.has('hardlink') && e.target && isLinkable(e.target) && selection.wanted(e.target) === 'yes') yield* put(e);
        else copies.push(e);
      } else {
        yield* put(e);
      }
    }
    if (copies.length > 0) yield* hardLinkCopies(o, copies, put, state);
    yield* writer.finish();
    state.complete = true;
  } catch (err) {
    state.error = errorMessage(err);
    o.log?.(`download of recovery point ${o.point.id} ended early: ${state.error}`);
  } finally {
    writer.close();
  }
}

/**
 * A zip's central directory: in memory up to `memoryBytes`, then in a file
 * that has no name (made in `dir` and unlinked at once, so nothing is left
 * behind whatever happens to the server), read back at the end.
 */
export class SpillingCentralDirectory implements CentralDirectoryStore {
  private memory: Buffer[] = [];
  private memoryUsed = 0;
  private fd = -1;
  private fileBytes = 0;

  constructor(private readonly dir: string, private readonly memoryBytes = 4 * 1024 * 1024) {}

  append(record: Buffer): void {
    this.memory.push(record);
    this.memoryUsed += record.length;
    if (this.memoryUsed >= this.memoryBytes) this.spill();
  }

  *read(): Generator<Buffer> {
    if (this.fd >= 0) {
      const piece = Buffer.allocUnsafe(1024 * 1024);
      for (let at = 0; at < this.fileBytes; ) {
        const n = readSync(this.fd, piece, 0, Math.min(piece.length, this.fileBytes - at), at);
        if (n === 0) throw new Error('the central directory file is shorter than written');
        at += n;
        yield Buffer.from(piece.subarray(0, n));
      }
    }
    yield* this.memory;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    this.memory = [];
  }

  private spill(): void {
    if (this.fd < 0) {
      const path = join(this.dir, `download-central-${randomBytes(8).toString('hex')}`);
      this.fd = openSync(path, 'wx+', 0o600);
      unlinkSync(path);
    }
    const data = Buffer.concat(this.memory);
    for (let done = 0; done < data.length; ) done += writeSync(this.fd, data, done, data.length - done, this.fileBytes + done);
    this.fileBytes += data.length;
    this.memory = [];
    this.memoryUsed = 0;
  }
}

/** The manifest, checked as the restore checks it: safe relative paths, strictly in walk order. */
async function* inWalkOrder(manifest: AsyncIterable<ManifestEntry>): AsyncGenerator<ManifestEntry> {
  let last: Buffer | null = null;
  for await (const e of manifest) {
    checkRelativePath(e.path);
    if (last !== null && comparePaths(last, e.path) >= 0) {
      throw new IntegrityError(`manifest is out of order at ${JSON.stringify(e.path.toString('utf8'))} (damaged or tampered with)`);
    }
    last = e.path;
    yield e;
  }
}

function isLinkable(target: Buffer): boolean {
  try {
    checkRelativePath(target);
    return target.length > 0;
  } catch {
    return false;
  }
}

/**
 * Hard links that are written as copies of the file they link to: one more
 * pass over the manifest finds those files (a hard link's target comes
 * before it in walk order, but is not known to be one until the link is met).
 */
async function* hardLinkCopies(
  o: DownloadOptions,
  links: readonly ManifestEntry[],
  put: (e: ManifestEntry, as: ArchiveEntry) => AsyncGenerator<Buffer>,
  state: DownloadState,
): AsyncGenerator<Buffer> {
  const byTarget = new Map<string, ManifestEntry[]>();
  for (const l of links) {
    const key = (l.target ?? Buffer.alloc(0)).toString('hex');
    byTarget.set(key, [...(byTarget.get(key) ?? []), l]);
  }
  for await (const e of inWalkOrder(o.pool.manifest(o.point))) {
    const found = byTarget.get(e.path.toString('hex'));
    if (!found || e.type !== 'file') continue;
    byTarget.delete(e.path.toString('hex'));
    for (const l of found) yield* put(e, { ...archiveEntry(e), path: l.path });
    if (byTarget.size === 0) break;
  }
  for (const left of byTarget.values()) {
    for (const l of left) {
      state.leftOut++;
      state.warn(l.path, `left out: hard link to ${(l.target ?? Buffer.alloc(0)).toString('utf8')}, which is not a file of the point`);
    }
  }
}

function archiveEntry(e: ManifestEntry): ArchiveEntry {
  return {
    path: e.path,
    type: e.type as ArchiveEntry['type'],
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    user: e.user,
    group: e.group,
    mtimeNs: e.mtimeNs,
    size: e.type === 'file' && e.error === undefined ? e.size : 0,
    target: e.target,
    rdev: e.rdev,
    xattrs: e.xattrs,
  };
}

/**
 * A file's content from the pool, a few chunks read ahead. A chunk that
 * cannot be read or does not check out ends the real content: the rest of
 * the file is zeros (the archive's header already promised `size` bytes)
 * and the item is listed as an error.
 */
async function* fileContent(pool: Pool, e: ManifestEntry, size: number, state: DownloadState): AsyncGenerator<Buffer> {
  if (e.error !== undefined) state.warn(e.path, `was not readable at backup time (${e.error}); written empty`);
  const chunks = size > 0 ? (e.chunks ?? []) : [];
  let done = 0;
  try {
    const ahead: Array<Promise<Buffer>> = [];
    let next = 0;
    const fill = () => {
      while (ahead.length < READ_AHEAD && next < chunks.length) {
        const p = pool.readChunk(chunks[next++]!.id);
        p.catch(() => undefined); // awaited below; a read left behind when the client goes away must not be an unhandled rejection
        ahead.push(p);
      }
    };
    for (let i = 0; i < chunks.length; i++) {
      fill();
      const data = await ahead.shift()!;
      if (data.length !== chunks[i]!.length || done + data.length > size) throw new IntegrityError(`chunk ${i} is ${data.length} bytes, the manifest says ${chunks[i]!.length}`);
      done += data.length;
      yield data;
    }
    if (done !== size) throw new IntegrityError(`chunks add up to ${done} bytes, the manifest says ${size}`);
  } catch (err) {
    state.fail(e.path, `${errorMessage(err)}; the rest of the file is zeros in the archive`);
    while (done < size) {
      const n = Math.min(ZEROS.length, size - done);
      done += n;
      yield ZEROS.subarray(0, n);
    }
  }
}

/** Which manifest paths a download holds: the items, what is under them, and their parent directories. */
export class ItemSelection {
  private readonly found = new Set<number>();
  constructor(private readonly items: readonly Buffer[]) {}

  wanted(path: Buffer): 'yes' | 'ancestor' | 'no' {
    if (this.items.length === 0) return 'yes';
    let answer: 'yes' | 'ancestor' | 'no' = 'no';
    this.items.forEach((item, i) => {
      if (item.equals(path)) this.found.add(i);
      if (item.equals(path) || isUnder(path, item)) answer = 'yes';
      else if (answer === 'no' && (path.length === 0 || isUnder(item, path))) answer = 'ancestor';
    });
    return answer;
  }
}

function isUnder(path: Buffer, dir: Buffer): boolean {
  return path.length > dir.length && path[dir.length] === 0x2f && path.subarray(0, dir.length).equals(dir);
}

/** The items a point does not hold (reads the manifest until every item is found). */
export async function missingItems(pool: Pool, point: RecoveryPointRecord, items: readonly Buffer[]): Promise<Buffer[]> {
  const missing = new Map(items.map((i) => [i.toString('hex'), i]));
  if (missing.size === 0) return [];
  for await (const e of pool.manifest(point, items)) {
    missing.delete(e.path.toString('hex'));
    if (missing.size === 0) break;
  }
  return [...missing.values()];
}
