/**
 * Worker thread of the backup pipeline: reads one file at a time, cuts it into
 * chunks, hashes them, and encodes (compress + encrypt) the chunks the pool
 * does not hold yet. A file that changes while it is read is read again, up to
 * MAX_ATTEMPTS times, then reported as changed during read.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type BigIntStats } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { KnownIds } from '../../base/index.js';
import { BlobCodec, findCut } from '../../format/index.js';
import type { BackupWorkerData, FileStat, FileTask, WorkerMessage } from './messages.js';
import { readXattrs } from './xattrs.js';

const MAX_ATTEMPTS = 3;
/** Post a batch of results once this many plaintext bytes have been chunked. */
const BATCH_BYTES = 16 * 1024 * 1024;

const data = workerData as BackupWorkerData;
const codec = new BlobCodec({ keys: data.keys, compressionLevel: data.compressionLevel });
const known = KnownIds.attach(data.known);
const inflight = new Int32Array(data.inflight);
const params = data.chunker;
const buffer = Buffer.allocUnsafeSlow(Math.max(2 * params.maxSize, 8 * 1024 * 1024));
const port = parentPort!;

function post(msg: WorkerMessage): void {
  port.postMessage(msg);
}

/** Waits while the main thread has too many encoded bytes it has not taken yet. */
function throttle(): void {
  while (Atomics.load(inflight, 0) > data.maxInflightBytes) Atomics.wait(inflight, 0, Atomics.load(inflight, 0), 20);
}

function toStat(s: BigIntStats): FileStat {
  return {
    mtimeNs: s.mtimeNs,
    ctimeNs: s.ctimeNs,
    ino: s.ino,
    size: Number(s.size),
    mode: Number(s.mode),
    uid: Number(s.uid),
    gid: Number(s.gid),
    blocks: Number(s.blocks),
  };
}

function sameContentStat(a: BigIntStats, b: BigIntStats): boolean {
  return a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.size === b.size;
}

function openFile(path: Uint8Array): number {
  const p = Buffer.from(path);
  const flags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
  try {
    return openSync(p, flags | constants.O_NOATIME);
  } catch (err) {
    // O_NOATIME is only allowed to the file's owner (or root).
    if ((err as NodeJS.ErrnoException).code === 'EPERM') return openSync(p, flags);
    throw err;
  }
}

/** Reads and chunks the whole file once; returns the bytes read. */
function readOnce(t: number, fd: number): number {
  let pos = 0; // file offset of buffer[0]
  let start = 0;
  let end = 0;
  let eof = false;
  let total = 0;
  let ids: Buffer[] = [];
  let lengths: number[] = [];
  let blobs: Array<Uint8Array | null> = [];
  let batchBytes = 0;
  let encodedBytes = 0;
  const seen = new Set<string>();

  const flush = (): void => {
    if (ids.length === 0) return;
    Atomics.add(inflight, 0, encodedBytes);
    post({ t, kind: 'chunks', ids: Buffer.concat(ids), lengths, blobs, bytes: encodedBytes });
    ids = [];
    lengths = [];
    blobs = [];
    batchBytes = 0;
    encodedBytes = 0;
    throttle();
  };

  for (;;) {
    if (!eof && end - start < params.maxSize) {
      if (start > 0) {
        buffer.copyWithin(0, start, end);
        pos += start;
        end -= start;
        start = 0;
      }
      while (end < buffer.length) {
        const n = readSync(fd, buffer, end, buffer.length - end, pos + end);
        if (n === 0) {
          eof = true;
          break;
        }
        end += n;
        total += n;
      }
    }
    if (start >= end) break;
    const len = findCut(buffer, start, end, params);
    const chunk = buffer.subarray(start, start + len);
    const id = codec.chunkIdBytes(chunk);
    const key = id.toString('latin1');
    let blob: Uint8Array | null = null;
    if (!seen.has(key) && !known.has(id)) {
      blob = codec.encodeChunk(id, chunk);
      encodedBytes += blob.length;
    }
    seen.add(key);
    ids.push(id);
    lengths.push(len);
    blobs.push(blob);
    batchBytes += len;
    start += len;
    if (batchBytes >= BATCH_BYTES) flush();
  }
  flush();
  return total;
}

function handle(task: FileTask): void {
  const { t } = task;
  let fd: number;
  try {
    fd = openFile(task.path);
  } catch (err) {
    post({ t, kind: 'error', message: (err as Error).message });
    return;
  }
  try {
    let bytesRead = 0;
    for (let attempt = 1; ; attempt++) {
      const before = fstatSync(fd, { bigint: true });
      if (!before.isFile()) {
        post({ t, kind: 'error', message: 'no longer a regular file' });
        return;
      }
      bytesRead += readOnce(t, fd);
      const after = fstatSync(fd, { bigint: true });
      const stable = sameContentStat(before, after);
      if (stable || attempt >= MAX_ATTEMPTS) {
        post({ t, kind: 'done', stat: toStat(after), xattrs: readXattrs(task.path), changedDuringRead: !stable, bytesRead });
        return;
      }
      post({ t, kind: 'restart' });
    }
  } catch (err) {
    post({ t, kind: 'error', message: (err as Error).message });
  } finally {
    closeSync(fd);
  }
}

port.on('message', (task: FileTask) => handle(task));
