/**
 * The restore pipeline's file-writing worker threads, and the flow of work
 * to them: whole files go in batches (one message per file would cost more
 * than writing a small file), parts of a large file one at a time, each
 * worker in turn. The pool bounds what is in flight (tasks, and chunk data
 * from a remote source), holds the writer to --throttle (bytes are taken
 * from the bucket before the task that writes them is sent), and hands each
 * reply back with the tag its task was sent with. A worker that dies makes
 * every later call throw its error (`fatal`).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ThrottleBucket } from '../../protection/index.js';
import type { ChunkRead, RestoreFileTask, RestoreWorkerData, RestoreWorkerReply } from './messages.js';

/** Tasks sent and not yet answered, at most (beyond: the pipeline waits). */
export const MAX_OUTSTANDING = 1024;
/** Chunk data from a remote source in tasks not yet done (a local source sends locations only). */
const MAX_BLOB_BYTES = 32 * 1024 * 1024;
const BATCH_FILES = 64;
const BATCH_BYTES = 8 * 1024 * 1024;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The chunk data of these tasks that the worker can take over instead of a
 * copy: blobs in an ArrayBuffer of their own (a remote source's; a view
 * into a shared slab is cloned as before). The sender must not use them
 * afterwards: RemoteChunkSource gives each use of a repeated chunk but the
 * last a copy.
 */
function transferable(tasks: readonly RestoreFileTask[]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const t of tasks) {
    for (const c of t.chunks) {
      const b = c.blob;
      if (b && b.byteOffset === 0 && b.buffer instanceof ArrayBuffer && b.byteLength === b.buffer.byteLength && b.byteLength > 0) out.add(b.buffer);
    }
  }
  return [...out];
}

export interface WriterPoolOptions<T> {
  readonly workerData: RestoreWorkerData;
  /** Worker threads; default one per core, at least two (one writes while another waits on the disk). */
  readonly workers?: number | undefined;
  readonly throttle: ThrottleBucket;
  /** Each reply, with the tag its task was sent with (called on the pipeline's thread). */
  readonly onReply: (reply: RestoreWorkerReply, tag: T) => void;
}

export class WriterPool<T> {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<number, { tag: T; blobBytes: number }>();
  private outstanding = 0;
  private blobBytesOut = 0;
  private nextTask = 1;
  private wake: (() => void) | null = null;
  private rr = 0;
  private batch: RestoreFileTask[] = [];
  private batchBytes = 0;
  /** The error of a worker that died; every later call throws it. */
  fatal: unknown = null;

  constructor(private readonly options: WriterPoolOptions<T>) {
    // (More workers were measured: 4 instead of 2 saved ~10% on tmpfs for ~60 MiB of RSS each.)
    const n = Math.max(1, options.workers ?? Math.max(2, availableParallelism()));
    for (let i = 0; i < n; i++) {
      const w = new Worker(new URL('./file-worker.js', import.meta.url), { workerData: options.workerData });
      w.on('message', (replies: RestoreWorkerReply[]) => {
        for (const reply of replies) this.answered(reply);
        this.wake?.();
      });
      w.on('error', (err) => {
        this.fatal ??= err;
        this.wake?.();
      });
      this.workers.push(w);
    }
  }

  /** Queues a whole file (`t` is set here); waits while too much is in flight or the throttle says so. */
  async write(task: Omit<RestoreFileTask, 't'>, tag: T): Promise<void> {
    await this.pace(task.size);
    const full: RestoreFileTask = { ...task, t: this.track(task.chunks, tag) };
    this.batch.push(full);
    this.batchBytes += task.size;
    if (this.batch.length >= BATCH_FILES || this.batchBytes >= BATCH_BYTES) this.sendBatch();
    await this.waitForRoom(MAX_OUTSTANDING);
  }

  /** Sends one part of a large file at once (`t` is set here). */
  async writePart(task: Omit<RestoreFileTask, 't'>, tag: T): Promise<void> {
    await this.pace(task.chunks.reduce((n, c) => n + c.rawLength, 0));
    const full = [{ ...task, t: this.track(task.chunks, tag) }];
    this.workers[this.rr++ % this.workers.length]!.postMessage(full, transferable(full));
    await this.waitForRoom(MAX_OUTSTANDING);
  }

  /** Waits until every task sent has been answered. */
  drain(): Promise<void> {
    return this.waitForRoom(0);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  /** Counts a task as sent (with the chunk data it carries) until its worker replies; returns its number. */
  private track(chunks: readonly ChunkRead[], tag: T): number {
    const t = this.nextTask++;
    this.outstanding++;
    const blobBytes = chunks.reduce((n, c) => n + (c.blob?.length ?? 0), 0);
    this.blobBytesOut += blobBytes;
    this.waiting.set(t, { tag, blobBytes });
    return t;
  }

  private answered(reply: RestoreWorkerReply): void {
    const w = this.waiting.get(reply.t);
    if (!w) return;
    this.waiting.delete(reply.t);
    this.outstanding--;
    this.blobBytesOut -= w.blobBytes;
    this.options.onReply(reply, w.tag);
  }

  private sendBatch(): void {
    if (this.batch.length === 0) return;
    this.workers[this.rr++ % this.workers.length]!.postMessage(this.batch, transferable(this.batch));
    this.batch = [];
    this.batchBytes = 0;
  }

  private full(limit: number): boolean {
    return this.outstanding > limit || this.blobBytesOut > MAX_BLOB_BYTES;
  }

  private async waitForRoom(limit: number): Promise<void> {
    if (this.full(limit)) this.sendBatch();
    while (this.full(limit) && !this.fatal) await new Promise<void>((r) => (this.wake = r));
    this.wake = null;
    if (this.fatal) throw this.fatal;
  }

  private async pace(bytes: number): Promise<void> {
    const wait = this.options.throttle.take(bytes);
    if (wait <= 0) return;
    this.sendBatch();
    await sleep(wait);
  }
}
