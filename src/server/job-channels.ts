/**
 * The server's half of jobs that run on an agent. A backup channel takes the
 * agent's chunks into the pool (verifying each against its id, so no agent
 * can plant data under another's chunk id) and commits the recovery point:
 * chunks durable first, then the point object, then the catalog row. A
 * recovery channel serves the blobs of one recovery point, and only those.
 */
import { randomBytes } from 'node:crypto';
import { CustosError, type RecoveryPointId } from '../base/index.js';
import { POINT_VERSION, type ManifestPageRef, type RecoveryPointRecord } from '../format/index.js';
import { encodeBlobFrame, fromWireError, type AgentRequest, type CommitRequest, type JobProgress, type WireError } from '../protocol/index.js';
import type { ChunkWriter, Pool } from '../pool/index.js';
import { packName } from '../pool/index.js';
import type { AgentSession, JobChannel } from './agent-hub.js';

const MAX_IDS_PER_REQUEST = 4096;
/** sendBlobs reads blobs of one pack together when at most this far apart... */
const SPAN_GAP_BYTES = 256 * 1024;
/** ...and at most this much at once. */
const SPAN_BYTES = 8 * 1024 * 1024;

export interface ChannelEvents {
  progress(p: JobProgress): void;
  log(level: 'info' | 'warning' | 'error', message: string): void;
}

/** Settles once: with the agent's result, or with the error that ended the job. */
abstract class BaseChannel implements JobChannel {
  readonly finished: Promise<Record<string, unknown>>;
  private settle!: { resolve(v: Record<string, unknown>): void; reject(e: unknown): void };
  protected ended = false;

  constructor(protected readonly events: ChannelEvents) {
    this.finished = new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    this.finished.catch(() => undefined);
  }

  abstract request(body: AgentRequest, session: AgentSession, req: number): Promise<Record<string, unknown>>;

  chunk(_id: Buffer, _rawLength: number, _blob: Buffer): void {
    throw new CustosError('usage', 'this job does not take chunks');
  }

  progress(p: JobProgress): void {
    if (!this.ended) this.events.progress(p);
  }

  log(level: 'info' | 'warning' | 'error', message: string): void {
    if (!this.ended) this.events.log(level, message.slice(0, 2000));
  }

  done(result: Record<string, unknown>): void {
    this.end(null, result);
  }

  failed(error: WireError): void {
    this.end(fromWireError(error), null);
  }

  disconnected(): void {
    this.end(new CustosError('io', 'the agent disconnected while the job ran', { transient: true }), null);
  }

  protected end(err: unknown, result: Record<string, unknown> | null): void {
    if (this.ended) return;
    this.ended = true;
    void this.cleanup().finally(() => {
      if (err) this.settle.reject(err);
      else this.settle.resolve(result ?? {});
    });
  }

  protected async cleanup(): Promise<void> {}

  protected idList(ids: unknown): string[] {
    if (!Array.isArray(ids) || ids.length > MAX_IDS_PER_REQUEST || !ids.every((i) => typeof i === 'string' && /^[0-9a-f]{64}$/.test(i))) {
      throw new CustosError('usage', `ids must be an array of at most ${MAX_IDS_PER_REQUEST} chunk ids (64 hex digits)`);
    }
    return ids as string[];
  }

  /**
   * Sends the encoded blobs of `ids` as binary frames (in pack order; each
   * frame names its index), each checked against `allowed`. Blobs that lie
   * close together in a pack are read with one read, so a batch of small
   * chunks costs a few reads rather than one open, read and close each.
   */
  protected async sendBlobs(pool: Pool, ids: string[], allowed: ReadonlySet<string>, session: AgentSession, req: number): Promise<Record<string, unknown>> {
    for (const id of ids) if (!allowed.has(id)) throw new CustosError('denied', `chunk ${id} is not part of this job's recovery point`);
    const wanted = ids.map((id, index) => ({ index, loc: pool.location(id) }));
    wanted.sort((a, b) => (a.loc.pack === b.loc.pack ? a.loc.offset - b.loc.offset : a.loc.pack < b.loc.pack ? -1 : 1));
    for (let first = 0; first < wanted.length;) {
      const start = wanted[first]!.loc;
      let last = first;
      let end = start.offset + start.length;
      while (last + 1 < wanted.length) {
        const next = wanted[last + 1]!.loc;
        const nextEnd = Math.max(end, next.offset + next.length);
        if (next.pack !== start.pack || next.offset - end > SPAN_GAP_BYTES || nextEnd - start.offset > SPAN_BYTES) break;
        end = nextEnd;
        last++;
      }
      const span = await pool.store.getRange(packName(start.pack), start.offset, end - start.offset);
      for (let k = first; k <= last; k++) {
        const { index, loc } = wanted[k]!;
        const from = loc.offset - start.offset;
        if (from + loc.length > span.length) throw new CustosError('integrity', `pack ${packName(loc.pack)} is shorter than the index says`);
        await session.sendBinary(encodeBlobFrame(req, index, loc.rawLength, span.subarray(from, from + loc.length)));
      }
      first = last + 1;
    }
    return { count: ids.length };
  }
}

export interface CommittedPoint {
  readonly record: RecoveryPointRecord;
}

export class BackupChannel extends BaseChannel {
  private readonly writer: ChunkWriter;
  private readonly allowed: Set<string>;
  committed: RecoveryPointRecord | null = null;
  chunksReceived = 0;
  bytesReceived = 0;

  constructor(
    private readonly pool: Pool,
    private readonly point: { host: string; path: string; parent: RecoveryPointId | null; previousPages: readonly ManifestPageRef[]; now: () => Date },
    events: ChannelEvents,
    private readonly onCommit: (record: RecoveryPointRecord) => Promise<void>,
  ) {
    super(events);
    this.writer = pool.chunkWriter();
    this.allowed = new Set(point.previousPages.map((p) => p.id));
  }

  override chunk(id: Buffer, rawLength: number, blob: Buffer): void {
    if (this.ended) return;
    // Verify before storing: decrypts, decompresses and re-hashes (IntegrityError on mismatch).
    this.pool.codec.verifyChunk(id, blob, rawLength);
    this.chunksReceived++;
    this.bytesReceived += blob.length;
    // A view that is most of its buffer is kept as it is; a small one is copied, so that it does not hold a large buffer until the pack is written.
    const own = blob.length >= blob.buffer.byteLength * 0.9 ? blob : Buffer.from(blob);
    this.writer.add(Buffer.from(id), own, rawLength);
  }

  async request(body: AgentRequest, session: AgentSession, req: number): Promise<Record<string, unknown>> {
    if (this.ended) throw new CustosError('cancelled', 'the job has ended');
    switch (body.op) {
      case 'missing': {
        const ids = this.idList(body.ids);
        const missing: number[] = [];
        ids.forEach((id, i) => {
          if (!this.writer.has(id)) missing.push(i);
        });
        return { missing };
      }
      case 'stored':
        await this.writer.backpressure();
        return {};
      case 'blobs':
        return this.sendBlobs(this.pool, this.idList(body.ids), this.allowed, session, req);
      case 'commit':
        return this.commit(body);
      default:
        throw new CustosError('usage', 'unknown request');
    }
  }

  private async commit(c: CommitRequest): Promise<Record<string, unknown>> {
    if (this.committed) throw new CustosError('exists', 'this job already committed its recovery point');
    if (!Array.isArray(c.manifest) || c.manifest.length === 0) throw new CustosError('usage', 'commit: manifest pages missing');
    await this.writer.flush();
    for (const page of c.manifest) {
      if (typeof page?.id !== 'string' || !this.pool.index.has(page.id)) throw new CustosError('integrity', `commit: manifest page ${String(page?.id)} was never stored`);
    }
    const record: RecoveryPointRecord = {
      version: POINT_VERSION,
      id: randomBytes(16).toString('hex') as RecoveryPointId,
      time: this.point.now().toISOString(),
      source: { host: this.point.host, path: this.point.path },
      parent: this.point.parent,
      manifest: c.manifest.map((p) => ({ id: p.id, length: Number(p.length), entries: Number(p.entries) })),
      summary: { ...c.summary, bytesAdded: this.writer.bytesAdded },
      partial: Boolean(c.partial),
      excludes: Array.isArray(c.excludes) ? c.excludes.map(String) : [],
    };
    await this.pool.savePoint(record);
    this.committed = record;
    await this.onCommit(record);
    return { point: record.id, time: record.time, bytesAdded: this.writer.bytesAdded };
  }

  protected override async cleanup(): Promise<void> {
    // Chunks that arrived are kept (a retried synchronization will not send them again).
    await this.writer.flush().catch(() => undefined);
    this.writer.close();
  }
}

export class RecoveryChannel extends BaseChannel {
  constructor(
    private readonly pool: Pool,
    private readonly allowed: ReadonlySet<string>,
    events: ChannelEvents,
  ) {
    super(events);
  }

  async request(body: AgentRequest, session: AgentSession, req: number): Promise<Record<string, unknown>> {
    if (this.ended) throw new CustosError('cancelled', 'the job has ended');
    if (body.op !== 'blobs') throw new CustosError('usage', `a recovery job cannot ${body.op}`);
    return this.sendBlobs(this.pool, this.idList(body.ids), this.allowed, session, req);
  }
}

/** Every chunk and manifest page id a recovery point references (what its recovery may read). */
export async function pointChunkIds(pool: Pool, record: RecoveryPointRecord): Promise<Set<string>> {
  const ids = new Set<string>(record.manifest.map((p) => p.id));
  for await (const e of pool.manifest(record)) for (const c of e.chunks ?? []) ids.add(Buffer.from(c.id).toString('hex'));
  return ids;
}
