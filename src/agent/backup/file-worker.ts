/**
 * Worker thread of the backup pipeline: reads files (or 64 MiB segments of a
 * large one) one at a time, cuts them into chunks, hashes them, and encodes (compress + encrypt) the chunks the pool
 * does not hold yet. A file that changes while it is read is read again, up to
 * MAX_ATTEMPTS times, then reported as changed during read.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type BigIntStats } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { KnownIds } from '../../base/index.js';
import { BlobCodec, findCut } from '../../format/index.js';
import type { BackupWorkerData, ChunkBatch, FileStat, FileTask, WorkerMessage } from './messages.js';
import { readXattrs } from './xattrs.js';

const MAX_ATTEMPTS = 3;
/** Post a batch of results once this many plaintext bytes have been chunked. */
const BATCH_BYTES = 4 * 1024 * 1024;

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

/** Collects chunk results into one transferable buffer per batch. */
class BatchBuilder {
  private ids: Buffer[] = [];
  private blobs: Array<Buffer | null> = [];
  private lengths: number[] = [];
  private encodedBytes = 0;
  plainBytes = 0;

  get count(): number {
    return this.ids.length;
  }

  add(id: Buffer, length: number, blob: Buffer | null): void {
    this.ids.push(id);
    this.lengths.push(length);
    this.blobs.push(blob);
    this.plainBytes += length;
    if (blob) this.encodedBytes += blob.length;
  }

  /** Builds the batch and resets; the caller transfers `data`. */
  take(): ChunkBatch | null {
    const count = this.ids.length;
    if (count === 0) return null;
    const data = new ArrayBuffer(count * 32 + this.encodedBytes);
    const view = new Uint8Array(data);
    const encoded = new Uint32Array(count);
    let off = count * 32;
    for (let i = 0; i < count; i++) {
      view.set(this.ids[i]!, i * 32);
      const blob = this.blobs[i];
      if (blob) {
        view.set(blob, off);
        off += blob.length;
        encoded[i] = blob.length;
      }
    }
    const batch: ChunkBatch = { data, count, lengths: Uint32Array.from(this.lengths), encoded, bytes: this.encodedBytes };
    this.ids = [];
    this.blobs = [];
    this.lengths = [];
    this.encodedBytes = 0;
    this.plainBytes = 0;
    return batch;
  }
}

function postBatch(t: number, batch: ChunkBatch): void {
  Atomics.add(inflight, 0, batch.bytes);
  port.postMessage({ t, kind: 'chunks', batch } satisfies WorkerMessage, [batch.data]);
  throttle();
}

/**
 * Reads and chunks the whole file once. Full batches are posted as they fill;
 * the last one is left in `out` for the 'done' message. Returns the bytes read.
 */
function readOnce(t: number, fd: number, out: BatchBuilder, from: number, limit: number, block: number | undefined): number {
  let pos = from; // file offset of buffer[0]
  let start = 0;
  let end = 0;
  let eof = false;
  let total = 0;
  const seen = new Set<string>();
  for (;;) {
    if (!eof && end - start < params.maxSize) {
      if (start > 0) {
        buffer.copyWithin(0, start, end);
        pos += start;
        end -= start;
        start = 0;
      }
      while (end < buffer.length) {
        const want = Math.min(buffer.length - end, limit - (pos + end));
        const n = want > 0 ? readSync(fd, buffer, end, want, pos + end) : 0;
        if (n === 0) {
          eof = true;
          break;
        }
        end += n;
        total += n;
      }
    }
    if (start >= end) break;
    // Fixed blocks start at multiples of the block size: `from` is one (a segment starts at a multiple of SEGMENT_BYTES).
    const len = block !== undefined ? Math.min(block, end - start) : findCut(buffer, start, end, params);
    const chunk = buffer.subarray(start, start + len);
    const id = codec.chunkIdBytes(chunk);
    const key = id.toString('latin1');
    const blob = !seen.has(key) && !known.has(id) ? codec.encodeChunk(id, chunk) : null;
    seen.add(key);
    out.add(id, len, blob);
    start += len;
    if (out.plainBytes >= BATCH_BYTES) postBatch(t, out.take()!);
  }
  return total;
}

/** Final results of the tasks of the current message, answered together. */
let results: WorkerMessage[] = [];
let transfers: ArrayBuffer[] = [];

function finish(msg: WorkerMessage, transfer?: ArrayBuffer): void {
  results.push(msg);
  if (transfer) transfers.push(transfer);
}

function handle(task: FileTask): void {
  const { t } = task;
  let fd: number;
  try {
    fd = openFile(task.path);
  } catch (err) {
    finish({ t, kind: 'error', message: (err as Error).message });
    return;
  }
  try {
    let bytesRead = 0;
    const out = new BatchBuilder();
    for (let attempt = 1; ; attempt++) {
      const before = fstatSync(fd, { bigint: true });
      if (!before.isFile()) {
        finish({ t, kind: 'error', message: 'no longer a regular file' });
        return;
      }
      const from = task.offset ?? 0;
      bytesRead += readOnce(t, fd, out, from, task.length === undefined ? Infinity : from + task.length, task.block);
      const after = fstatSync(fd, { bigint: true });
      const stable = sameContentStat(before, after);
      if (stable || attempt >= MAX_ATTEMPTS) {
        const batch = out.take();
        const msg: WorkerMessage = { t, kind: 'done', batch, stat: toStat(after), xattrs: task.offset ? [] : readXattrs(task.path), changedDuringRead: !stable, bytesRead };
        if (batch) Atomics.add(inflight, 0, batch.bytes);
        finish(msg, batch?.data);
        return;
      }
      out.take(); // drop what this attempt chunked; its blobs were never sent
      post({ t, kind: 'restart' });
    }
  } catch (err) {
    finish({ t, kind: 'error', message: (err as Error).message });
  } finally {
    closeSync(fd);
  }
}

// Tasks come in batches (one message per small file would cost more than reading it);
// partial results of large files are posted as they come, final results once per batch.
port.on('message', (tasks: FileTask[]) => {
  for (const task of tasks) handle(task);
  const out = results;
  const moved = transfers;
  results = [];
  transfers = [];
  port.postMessage(out, moved);
});
