/**
 * The backup pipeline's ChunkSink and the restore pipeline's ChunkSource
 * over the server connection. The sink asks the server which chunks of a
 * batch it lacks and sends only those (dedup across every computer the
 * server protects), keeping at most WINDOW bytes unacknowledged; the source
 * fetches blobs in batches, prefetching ahead in manifest order.
 */
import { CustosError } from '../../base/index.js';
import type { ChunkSink } from '../backup/backup.js';
import type { ChunkSource } from '../restore/restore.js';
import type { ChunkRead } from '../restore/messages.js';
import type { ChunkRef } from '../../format/index.js';
import { encodeChunkFrame } from '../../protocol/index.js';
import { ownCopy, type JobLink } from './job-link.js';

const BATCH_CHUNKS = 128;
const BATCH_BYTES = 8 * 1024 * 1024;
const WINDOW_BYTES = 48 * 1024 * 1024;

export class RemoteChunkSink implements ChunkSink {
  private readonly sent = new Set<string>();
  private batch: Array<{ id: Buffer; blob: Buffer; raw: number }> = [];
  private batchBytes = 0;
  private unacked = 0;
  private readonly inflight = new Set<Promise<void>>();
  private failure: unknown = null;
  private waiters: Array<() => void> = [];
  bytesAdded = 0;

  constructor(private readonly link: JobLink) {}

  has(idHex: string): boolean {
    return this.sent.has(idHex);
  }

  add(id: Buffer, blob: Buffer, rawLength: number): boolean {
    const key = id.toString('hex');
    if (this.sent.has(key)) return false;
    this.sent.add(key);
    this.batch.push({ id: Buffer.from(id), blob, raw: rawLength });
    this.batchBytes += blob.length;
    if (this.batch.length >= BATCH_CHUNKS || this.batchBytes >= BATCH_BYTES) this.sendBatch();
    return true;
  }

  private sendBatch(): void {
    if (this.batch.length === 0) return;
    const batch = this.batch;
    const bytes = this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
    this.unacked += bytes;
    const p = (async () => {
      const { missing } = (await this.link.request({ op: 'missing', ids: batch.map((c) => c.id.toString('hex')) })) as { missing: number[] };
      for (const i of missing) {
        const c = batch[i];
        if (!c) throw new CustosError('internal', 'server named a chunk outside the batch');
        await this.link.sendBinary(encodeChunkFrame(this.link.jobId, c.id, c.raw, c.blob));
        this.bytesAdded += c.blob.length;
      }
      await this.link.request({ op: 'stored' });
    })().then(
      () => undefined,
      (err: unknown) => {
        this.failure ??= err;
      },
    ).finally(() => {
      this.unacked -= bytes;
      this.inflight.delete(p);
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    });
    this.inflight.add(p);
  }

  async backpressure(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.batchBytes >= BATCH_BYTES / 2) this.sendBatch();
    while (this.unacked > WINDOW_BYTES && !this.failure) await new Promise<void>((r) => this.waiters.push(r));
    if (this.failure) throw this.failure;
  }

  async flush(): Promise<void> {
    this.sendBatch();
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
    if (this.failure) throw this.failure;
  }
}

const PREFETCH_BYTES = 32 * 1024 * 1024;
const FETCH_IDS = 256;

type Fetched = { rawLength: number; blob: Buffer };
/** A chunk fetched or being fetched ahead: `uses` locates expected of it (a chunk can repeat, within a file or across files). */
type Pending = { readonly got: Promise<Fetched>; readonly length: number; uses: number };

export class RemoteChunkSource implements ChunkSource {
  private readonly pending = new Map<string, Pending>();
  /** Chunks the restore will ask for, in order (expect), from `cursor` on not yet prefetched. */
  private order: Array<{ id: string; length: number }> = [];
  private cursor = 0;
  private aheadBytes = 0;
  /** Chunks of files found identical at the target, not yet passed by the prefetch: it steps over them. */
  private readonly skipped = new Map<string, number>();

  constructor(private readonly link: JobLink) {}

  /** The restore will ask for these chunks next, after those expected before (readAhead tells it as it reads the manifest). */
  expect(chunks: readonly ChunkRef[]): void {
    for (const c of chunks) this.order.push({ id: c.id.toString('hex'), length: c.length });
    this.prefetch();
  }

  async locate(id: Buffer): Promise<ChunkRead> {
    // Prefetched chunks need no request: a cancelled job (or a lost connection) must still stop at its next file.
    if (this.link.cancelled) throw new CustosError('cancelled', 'the job was cancelled, or its connection to the server lost');
    const key = id.toString('hex');
    this.prefetch();
    const ahead = this.pending.get(key);
    const got = await (ahead?.got ?? this.fetch([key]).get(key)!);
    // The restore hands the blob to a writer thread, which takes it over (transferred): a use that
    // is not the last gets a copy, so the blob is whole for the next.
    const blob = ahead !== undefined && ahead.uses > 1 ? ownCopy(got.blob) : got.blob;
    if (ahead !== undefined) this.used(key, ahead);
    this.prefetch();
    return { id, rawLength: got.rawLength, blob };
  }

  /** The restore will not ask for these (their file is at the target already): drop them from the prefetch. */
  skip(chunks: readonly ChunkRef[]): void {
    for (const c of chunks) {
      const key = c.id.toString('hex');
      const ahead = this.pending.get(key);
      if (ahead !== undefined) this.used(key, ahead);
      else if (this.cursor < this.order.length) this.skipped.set(key, (this.skipped.get(key) ?? 0) + 1);
    }
    this.prefetch();
  }

  private used(key: string, ahead: Pending): void {
    if (--ahead.uses > 0 || this.pending.get(key) !== ahead) return;
    this.pending.delete(key);
    this.aheadBytes -= ahead.length;
  }

  private prefetch(): void {
    // Refill only once half the window is used up, so that requests stay large (a few ids each would cost the server a read apiece).
    if (this.aheadBytes > PREFETCH_BYTES / 2) return;
    /** The next request: each id once, with its length and uses. */
    const batch = new Map<string, { length: number; uses: number }>();
    const send = () => {
      const fetched = this.fetch([...batch.keys()]);
      for (const [k, { length, uses }] of batch) this.pending.set(k, { got: fetched.get(k)!, length, uses });
      batch.clear();
    };
    while (this.cursor < this.order.length && this.aheadBytes < PREFETCH_BYTES) {
      const c = this.order[this.cursor++]!;
      const skips = this.skipped.get(c.id);
      if (skips !== undefined) {
        if (skips > 1) this.skipped.set(c.id, skips - 1);
        else this.skipped.delete(c.id);
        continue;
      }
      const ahead = this.pending.get(c.id) ?? batch.get(c.id);
      if (ahead !== undefined) {
        ahead.uses++;
        continue;
      }
      batch.set(c.id, { length: c.length, uses: 1 });
      this.aheadBytes += c.length;
      if (batch.size >= FETCH_IDS) send();
    }
    if (batch.size > 0) send();
    // What the cursor has passed is not needed again.
    if (this.cursor >= 4096 && this.cursor * 2 >= this.order.length) {
      this.order.splice(0, this.cursor);
      this.cursor = 0;
    }
  }

  private fetch(ids: string[]): Map<string, Promise<Fetched>> {
    const all = this.link.requestBlobs(ids);
    const out = new Map<string, Promise<Fetched>>();
    ids.forEach((id, i) => out.set(id, all.then((blobs) => {
      const b = blobs[i];
      if (!b) throw new CustosError('integrity', `the server did not send chunk ${id}`);
      return b;
    })));
    for (const p of out.values()) p.catch(() => undefined);
    return out;
  }
}
