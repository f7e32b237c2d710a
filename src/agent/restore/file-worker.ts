/**
 * Worker thread of the restore pipeline: fetches a file's chunks, checks each
 * against its id (a damaged chunk fails the file loudly), writes them at their
 * offsets — leaving holes for zero chunks of sparse files — and restores the
 * file's metadata through its descriptor.
 */
import { closeSync, constants, rmSync, openSync, readSync, writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { CustosError, IntegrityError } from '../../base/index.js';
import { BlobCodec } from '../../format/index.js';
import type { ChunkRead, RestoreFileTask, RestoreWorkerData, RestoreWorkerReply } from './messages.js';
import { closeQuietly, commitTemp, CREATE, creationMode, openTemp, setFileMetadata } from './fs-safe.js';

const data = workerData as RestoreWorkerData;
const codec = new BlobCodec({ keys: data.keys, compressionLevel: data.compressionLevel });
const port = parentPort!;

/** Open pack files, least recently used first. */
const MAX_OPEN = 64;
const files = new Map<string, number>();

function fdFor(file: string): number {
  let fd = files.get(file);
  if (fd !== undefined) {
    files.delete(file);
    files.set(file, fd);
    return fd;
  }
  if (files.size >= MAX_OPEN) {
    const [oldest, oldFd] = files.entries().next().value as [string, number];
    files.delete(oldest);
    closeSync(oldFd);
  }
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new CustosError('not-found', `pack file ${file} is missing (${(err as Error).message})`);
  }
  files.set(file, fd);
  return fd;
}

/** Encoded chunks are read into this one buffer (decoding copies them out): less garbage per chunk. */
let scratch = Buffer.allocUnsafeSlow(1024 * 1024);

/** A chunk's plaintext, a view into a buffer reused by the next fetch: use it before then. */
function fetch(c: ChunkRead): Buffer {
  const id = Buffer.from(c.id.buffer, c.id.byteOffset, c.id.byteLength);
  let blob: Buffer;
  if (c.blob) {
    blob = Buffer.from(c.blob.buffer, c.blob.byteOffset, c.blob.byteLength);
  } else {
    if (scratch.length < c.length!) scratch = Buffer.allocUnsafeSlow(Math.max(c.length!, scratch.length * 2));
    blob = scratch.subarray(0, c.length!);
    const n = readSync(fdFor(c.file!), blob, 0, c.length!, c.offset!);
    if (n !== c.length) throw new IntegrityError(`chunk ${id.toString('hex')}: pack file is truncated`);
  }
  // Checked against its id and the manifest's length; a view into the codec's buffer, written out before the next chunk is read.
  return codec.decodeChunkShared(id, blob, c.rawLength);
}

/** Holes are made a filesystem block at a time. */
const BLOCK = 4096;
const ZERO = Buffer.alloc(BLOCK);

function isZero(b: Buffer, from: number, to: number): boolean {
  return b.subarray(from, to).equals(ZERO.subarray(0, to - from));
}

function writeAll(fd: number, b: Buffer, from: number, to: number, position: number): void {
  let off = from;
  while (off < to) off += writeSync(fd, b, off, to - off, position + off - from);
}

/** Writes only the blocks that are not all zeros; the rest stay holes (ftruncate sets the size). */
function writeSparse(fd: number, b: Buffer, pos: number): void {
  const blockEnd = (i: number) => Math.min(b.length, i + BLOCK - ((pos + i) % BLOCK));
  let i = 0;
  while (i < b.length) {
    let j = blockEnd(i);
    if (isZero(b, i, j)) {
      i = j;
      continue;
    }
    while (j < b.length) {
      const k = blockEnd(j);
      if (isZero(b, j, k)) break;
      j = k;
    }
    writeAll(fd, b, i, j, pos + i);
    i = j;
  }
}

function writeChunks(fd: number, task: RestoreFileTask, from: number): number {
  let pos = from;
  for (const c of task.chunks) {
    const bytes = fetch(c);
    if (task.sparse) writeSparse(fd, bytes, pos);
    else writeAll(fd, bytes, 0, bytes.length, pos);
    pos += bytes.length;
  }
  return pos - from;
}

/** The answer for a task that failed with `err` (an integrity error marks the restore damaged). */
function failed(t: number, err: unknown): RestoreWorkerReply {
  return { t, kind: 'error', message: (err as Error).message, integrity: err instanceof IntegrityError };
}

/** A whole file's content and metadata, written through `fd` (`path` names it for the extended attributes); returns its warnings. */
function writeWholeFile(fd: number, path: Uint8Array, task: RestoreFileTask): string[] {
  const pos = writeChunks(fd, task, 0);
  if (pos !== task.size) throw new IntegrityError(`chunks add up to ${pos} bytes, the manifest says ${task.size}`);
  return setFileMetadata(fd, path, task, { security: data.security, ownership: data.restoreOwnership, keep: task.keep });
}

/** One part of a large file: the file exists; write the chunks at their place. */
function restorePart(task: RestoreFileTask, offset: number): RestoreWorkerReply {
  const { t } = task;
  let fd = -1;
  try {
    fd = openSync(Buffer.from(task.path), constants.O_WRONLY | constants.O_NOFOLLOW);
    return { t, kind: 'done', bytes: writeChunks(fd, task, offset), skipped: false, copy: false, warnings: [] };
  } catch (err) {
    return failed(t, err);
  } finally {
    if (fd >= 0) closeQuietly(fd);
  }
}

/**
 * A whole file in a directory this restore made (task.fresh): written under
 * its real name, created exclusively; null when the name is taken after
 * all (then it goes the temporary way).
 */
function restoreFresh(task: RestoreFileTask, path: Buffer): RestoreWorkerReply | null {
  const { t } = task;
  let fd: number;
  try {
    fd = openSync(path, CREATE, creationMode(task.mode, data.security));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return null;
    return failed(t, err);
  }
  try {
    const warnings = writeWholeFile(fd, path, task);
    closeSync(fd);
    return { t, kind: 'done', bytes: task.size, skipped: false, copy: false, warnings };
  } catch (err) {
    closeQuietly(fd);
    rmSync(path, { force: true });
    return failed(t, err);
  }
}

/**
 * A whole file: written under its temporary name, its metadata set, then
 * given its real name (commitTemp): a killed restore never leaves part of a
 * file under the real name of one that was there, and the next run replaces
 * the temporary one. In a directory the restore made, restoreFresh.
 */
function restoreFile(task: RestoreFileTask): RestoreWorkerReply {
  if (task.part) return restorePart(task, task.part.offset);
  if (task.fresh) {
    const done = restoreFresh(task, Buffer.from(task.path));
    if (done !== null) return done;
  }
  const { t } = task;
  const path = Buffer.from(task.path);
  let fd = -1;
  let temp: Buffer | null = null;
  try {
    const opened = openTemp(path, creationMode(task.mode, data.security));
    if ('error' in opened) return { t, kind: 'error', message: opened.error, integrity: false };
    fd = opened.fd;
    temp = opened.temp;
    const warnings = writeWholeFile(fd, temp, task);
    closeSync(fd);
    fd = -1;
    const committed = commitTemp(temp, path, task.conflict);
    temp = null;
    if ('error' in committed) return { t, kind: 'error', message: committed.error, integrity: false };
    if ('skip' in committed) return { t, kind: 'done', bytes: 0, skipped: true, copy: false, warnings: [] };
    return { t, kind: 'done', bytes: task.size, skipped: false, copy: committed.copy, warnings };
  } catch (err) {
    if (fd >= 0) closeQuietly(fd);
    fd = -1;
    if (temp) rmSync(temp, { force: true });
    return failed(t, err);
  } finally {
    if (fd >= 0) closeQuietly(fd);
  }
}

// Files come in batches and are answered in batches: one message per file would cost more than writing a small file.
port.on('message', (tasks: RestoreFileTask[]) => port.postMessage(tasks.map(restoreFile)));
