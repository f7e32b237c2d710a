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
import type { JobLink } from './job-link.js';

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

export class RemoteChunkSource implements ChunkSource {
  private readonly pending = new Map<string, Promise<Fetched>>();
  private cursor = 0;
  private aheadBytes = 0;
  /** Chunks of files found identical at the target, not yet passed by the prefetch: it steps over them. */
  private readonly skipped = new Map<string, number>();

  /** `order`: chunk ids (with their raw lengths) in the order the restore will ask for them, when known. */
  constructor(private readonly link: JobLink, private readonly order: ReadonlyArray<{ id: string; length: number }> = []) {}

  async locate(id: Buffer): Promise<ChunkRead> {
    // Prefetched chunks need no request: a cancelled job (or a lost connection) must still stop at its next file.
    if (this.link.cancelled) throw new CustosError('cancelled', 'the job was cancelled, or its connection to the server lost');
    const key = id.toString('hex');
    this.prefetch();
    let p = this.pending.get(key);
    if (!p) p = this.fetch([key]).get(key)!;
    const got = await p;
    if (this.pending.get(key) === p) {
      this.pending.delete(key);
      this.aheadBytes -= got.rawLength;
    }
    this.prefetch();
    return { id, rawLength: got.rawLength, blob: got.blob };
  }

  /** The restore will not ask for these (their file is at the target already): drop them from the prefetch. */
  skip(chunks: readonly ChunkRef[]): void {
    for (const c of chunks) {
      const key = c.id.toString('hex');
      if (this.pending.has(key)) {
        this.pending.delete(key);
        this.aheadBytes -= c.length;
      } else if (this.order.length > 0) {
        this.skipped.set(key, (this.skipped.get(key) ?? 0) + 1);
      }
    }
    this.prefetch();
  }

  private prefetch(): void {
    // Refill only once half the window is used up, so that requests stay large (a few ids each would cost the server a read apiece).
    if (this.aheadBytes > PREFETCH_BYTES / 2) return;
    const ids: string[] = [];
    while (this.cursor < this.order.length && this.aheadBytes < PREFETCH_BYTES) {
      const c = this.order[this.cursor++]!;
      const skips = this.skipped.get(c.id);
      if (skips !== undefined) {
        if (skips > 1) this.skipped.set(c.id, skips - 1);
        else this.skipped.delete(c.id);
        continue;
      }
      if (this.pending.has(c.id)) continue;
      ids.push(c.id);
      this.aheadBytes += c.length;
      if (ids.length >= FETCH_IDS) {
        this.register(this.fetch(ids.splice(0)));
      }
    }
    if (ids.length > 0) this.register(this.fetch(ids));
  }

  private register(m: Map<string, Promise<Fetched>>): void {
    for (const [k, p] of m) this.pending.set(k, p);
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
