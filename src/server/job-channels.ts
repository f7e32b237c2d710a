/**
 * The server's half of jobs that run on an agent. Nothing an agent sends is
 * trusted (docs/design/agent-protocol.md, "What the server checks"):
 *
 * - a backup channel takes the agent's chunks in transport form (compressed,
 *   not encrypted), checks each against its id, seals it with the pool's
 *   data key and stores it unless the pool has it already;
 * - it answers "which of these chunks are missing" from the job's own set
 *   only (chunks this job sent, and chunks of the data source's newest
 *   point), never from the whole pool, so no agent can learn what other
 *   computers hold;
 * - it commits a recovery point only when every manifest page is the job's
 *   own (sent in this job, or a page of the previous or newest point),
 *   decodes with the declared entry counts, and references only chunks
 *   of the pool that are the job's own: chunks durable first, then the
 *   point object, then the catalog row;
 * - a recovery channel serves the blobs of one recovery point, and only
 *   those, decrypted into transport form.
 */
import { randomBytes } from 'node:crypto';
import { CustosError, errorMessage, IntegrityError, type ChunkId, type RecoveryPointId } from '../base/index.js';
import { decodePage, POINT_VERSION, type AppPointMeta, type ManifestPageRef, type RecoveryPointRecord } from '../format/index.js';
import { encodeBlobFrame, fromWireError, type AgentRequest, type CommitRequest, type JobProgress, type WireError } from '../protocol/index.js';
import type { ChunkWriter, Pool } from '../pool/index.js';
import { packName } from '../pool/index.js';
import type { AgentSession, JobChannel } from './agent-hub.js';

/** sendBlobs reads blobs of one pack together when at most this far apart... */
const SPAN_GAP_BYTES = 256 * 1024;
/** ...and at most this much at once. */
const SPAN_BYTES = 2 * 1024 * 1024;

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

  /**
   * Sends the blobs of `ids` in transport form as binary frames (in pack
   * order; each frame names its index), each checked against `allowed`.
   * Blobs that lie close together in a pack are read with one read, so a
   * batch of small chunks costs a few reads rather than one open, read and
   * close each.
   */
  protected async sendBlobs(pool: Pool, ids: readonly string[], allowed: { has(id: string): boolean }, session: AgentSession, req: number): Promise<Record<string, unknown>> {
    for (const id of ids) if (!allowed.has(id)) throw new CustosError('denied', `chunk ${id} is not part of this job's recovery point`);
    const wanted = ids.map((id, index) => ({ index, id, loc: pool.location(id) }));
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
        const { index, id, loc } = wanted[k]!;
        const from = loc.offset - start.offset;
        if (from + loc.length > span.length) throw new CustosError('integrity', `pack ${packName(loc.pack)} is shorter than the index says`);
        // Decrypted here (which authenticates it): the data key never leaves the server.
        const blob = pool.codec.toTransport(Buffer.from(id, 'hex'), span.subarray(from, from + loc.length));
        await session.sendBinary(encodeBlobFrame(req, index, loc.rawLength, blob));
      }
      first = last + 1;
    }
    return { count: ids.length };
  }
}

export interface BackupTarget {
  readonly host: string;
  readonly path: string;
  readonly parent: RecoveryPointId | null;
  /** The pages of the manifest the agent compares with (the only blobs it may read); none for a consistency check. */
  readonly previousPages: readonly ManifestPageRef[];
  /** The application kind whose metadata the commit must carry (postgres); null: a tree of files, with none. */
  readonly app: 'postgres' | null;
  /** Checks the commit's application metadata against what the job was for, and its manifest (pages checked, readable) against it (throws: the commit is refused). */
  readonly appCheck?: (meta: AppPointMeta, manifest: readonly ManifestPageRef[]) => Promise<void>;
  /** The data source's newest point: its chunks are the agent's own (see ownChunks). */
  readonly newest: RecoveryPointRecord | null;
  readonly now: () => Date;
}

export class BackupChannel extends BaseChannel {
  private readonly writer: ChunkWriter;
  private readonly previousPages: ReadonlyMap<string, ManifestPageRef>;
  private readonly newestPages: ReadonlyMap<string, ManifestPageRef>;
  /** Chunks this job sent and the server checked (stored now, or already in the pool). */
  private readonly sent = new Set<string>();
  private newestChunks: Promise<Set<string>> | null = null;
  committed: RecoveryPointRecord | null = null;
  chunksReceived = 0;
  bytesReceived = 0;

  constructor(
    private readonly pool: Pool,
    private readonly target: BackupTarget,
    events: ChannelEvents,
    private readonly onCommit: (record: RecoveryPointRecord) => Promise<void>,
  ) {
    super(events);
    this.writer = pool.chunkWriter();
    this.previousPages = new Map(target.previousPages.map((p) => [p.id, p]));
    this.newestPages = new Map((target.newest?.manifest ?? []).map((p) => [p.id, p]));
  }

  override chunk(id: Buffer, rawLength: number, blob: Buffer): void {
    if (this.ended) return;
    const key = id.toString('hex');
    if (this.writer.has(key)) {
      // The pool has it (another computer's, or sent before): checked, and not stored again.
      this.pool.codec.checkTransport(id, blob, rawLength);
    } else {
      // Checked (decompressed, re-hashed) and sealed with the data key: IntegrityError on mismatch.
      const sealed = this.pool.codec.sealTransport(id, blob, rawLength);
      // A view that is most of its buffer is kept as it is; a small one is copied, so that it does not hold a large buffer until the pack is written.
      const own = sealed !== blob || blob.length >= blob.buffer.byteLength * 0.9 ? Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength) : Buffer.from(blob);
      this.writer.add(Buffer.from(id), own, rawLength);
    }
    this.sent.add(key);
    this.chunksReceived++;
    this.bytesReceived += blob.length;
  }

  async request(body: AgentRequest, session: AgentSession, req: number): Promise<Record<string, unknown>> {
    if (this.ended) throw new CustosError('cancelled', 'the job has ended');
    switch (body.op) {
      case 'missing':
        return { missing: await this.missing(body.ids) };
      case 'stored':
        await this.writer.backpressure();
        return {};
      case 'blobs':
        return this.sendBlobs(this.pool, body.ids, new Set(this.previousPages.keys()), session, req);
      case 'commit':
        return this.commit(body);
    }
  }

  /**
   * The chunks of the data source's newest point: with the ones this job
   * sent, the job's own set. Read on first need, so a synchronization whose
   * chunks are all its own or previous pages pays nothing.
   */
  private ownChunks(): Promise<Set<string>> {
    this.newestChunks ??= (async () => {
      const newest = this.target.newest;
      if (!newest) return new Set<string>();
      const ids = await pointChunkIds(this.pool, newest);
      this.events.log('info', `the chunks of point ${newest.id} (${ids.size}) are this job's own: the agent sends any other`);
      return ids;
    })();
    return this.newestChunks;
  }

  /** Whether a chunk is present for this job: in the pool and in the job's own set. */
  private async isOwn(id: string): Promise<boolean> {
    if (this.sent.has(id)) return true; // checked on arrival; in the pool once the writer flushes
    if (!this.pool.index.has(id)) return false;
    if (this.previousPages.has(id)) return true;
    return (await this.ownChunks()).has(id);
  }

  /** Indexes of `ids` the agent must send: everything not in the job's own set (never an answer about other computers' data). */
  private async missing(ids: readonly string[]): Promise<number[]> {
    const missing: number[] = [];
    for (let i = 0; i < ids.length; i++) if (!(await this.isOwn(ids[i]!))) missing.push(i);
    return missing;
  }

  private async commit(c: CommitRequest): Promise<Record<string, unknown>> {
    if (this.committed) throw new CustosError('exists', 'this job already committed its recovery point');
    await this.writer.flush();
    try {
      if (this.target.app !== (c.app?.kind ?? null)) {
        throw new CustosError('denied', this.target.app ? `a ${this.target.app} data source's point must carry its ${this.target.app} metadata` : 'a point of files carries no application metadata');
      }
      for (const page of c.manifest) await this.checkPage(page);
      if (c.app) await this.target.appCheck?.(c.app, c.manifest);
    } catch (err) {
      // A commit the server refuses fails the job: nothing is written that anyone could see.
      const refused = err instanceof CustosError && !err.transient ? new CustosError(err.code, `commit refused: ${err.message}`) : err;
      this.end(refused, null);
      throw refused;
    }
    const record: RecoveryPointRecord = {
      version: POINT_VERSION,
      id: randomBytes(16).toString('hex') as RecoveryPointId,
      time: this.target.now().toISOString(),
      source: { host: this.target.host, path: this.target.path },
      parent: this.target.parent,
      manifest: c.manifest.map((p) => ({ id: p.id, length: p.length, entries: p.entries })),
      summary: { ...c.summary, bytesAdded: this.writer.bytesAdded },
      partial: c.partial,
      excludes: [...c.excludes],
      ...(c.app ? { app: c.app } : {}),
    };
    await this.pool.savePoint(record);
    this.committed = record;
    await this.onCommit(record);
    // Not how many bytes were new to the pool: that would tell the agent whether another computer holds the content it sent.
    return { point: record.id, time: record.time };
  }

  /**
   * A manifest page of a commit: a page of the previous manifest as it was,
   * or a page this job sent that decodes to the declared number of entries,
   * each referencing only chunks of the pool that are the job's own.
   */
  private async checkPage(page: ManifestPageRef): Promise<void> {
    // A page of the previous manifest or of the newest point (a consistency check of an unchanged tree makes the same pages) is the job's own.
    const known = this.previousPages.get(page.id) ?? this.newestPages.get(page.id);
    const loc = this.pool.index.get(page.id);
    if (!loc || (!known && !this.sent.has(page.id))) throw new CustosError('denied', `manifest page ${page.id} was not sent in this job`);
    if (known && known.length === page.length && known.entries === page.entries) return; // checked when that point was committed
    if (loc.rawLength !== page.length) throw new IntegrityError(`manifest page ${page.id} is ${loc.rawLength} bytes, not ${page.length}`);
    let entries;
    try {
      entries = decodePage(await this.pool.readChunk(page.id));
    } catch (err) {
      if (err instanceof CustosError && err.transient) throw err;
      throw new IntegrityError(`manifest page ${page.id} is not a manifest page (${err instanceof Error ? err.message : String(err)})`);
    }
    if (entries.length !== page.entries) throw new IntegrityError(`manifest page ${page.id} holds ${entries.length} entries, not ${page.entries}`);
    for (const e of entries) {
      for (const ref of e.chunks ?? []) {
        const id = ref.id.toString('hex');
        const at = this.pool.index.get(id);
        if (!at || !(this.sent.has(id) || (await this.ownChunks()).has(id))) {
          throw new CustosError('denied', `the manifest references chunk ${id}, which this agent never sent`);
        }
        if (at.rawLength !== ref.length) throw new IntegrityError(`the manifest says chunk ${id} is ${ref.length} bytes; it is ${at.rawLength}`);
      }
    }
  }

  protected override async cleanup(): Promise<void> {
    // Chunks that arrived are kept (stored once; a retry sends them again, as they are not yet its own).
    await this.writer.flush().catch(() => undefined);
    this.writer.close();
  }
}

/**
 * What a recovery's agent may read: the point's manifest pages, and the
 * chunks the entries of the pages it has read reference — so the server
 * never decodes a whole manifest to start a recovery (a point of a million
 * files: a recovery of one file reads a handful of pages), yet the agent
 * still reads nothing its point does not hold. Pages come before the
 * chunks they reference, as the agent reads them.
 */
export class RecoveryChannel extends BaseChannel {
  private readonly pages: ReadonlySet<string>;
  private readonly opened = new Set<string>();
  private readonly chunks = new Set<string>();
  private readonly allowed = { has: (id: string) => this.pages.has(id) || this.chunks.has(id) };

  constructor(
    private readonly pool: Pool,
    point: RecoveryPointRecord,
    events: ChannelEvents,
  ) {
    super(events);
    this.pages = new Set(point.manifest.map((p) => p.id));
  }

  async request(body: AgentRequest, session: AgentSession, req: number): Promise<Record<string, unknown>> {
    if (this.ended) throw new CustosError('cancelled', 'the job has ended');
    if (body.op !== 'blobs') throw new CustosError('usage', `a recovery job cannot ${body.op}`);
    for (const id of body.ids) if (this.pages.has(id) && !this.opened.has(id)) await this.open(id);
    return this.sendBlobs(this.pool, body.ids, this.allowed, session, req);
  }

  /** A page the agent asks for: the chunks its entries reference become readable. */
  private async open(pageId: string): Promise<void> {
    let entries;
    try {
      entries = decodePage(await this.pool.readChunk(pageId as ChunkId));
    } catch (err) {
      if (err instanceof CustosError && err.transient) throw err;
      throw new IntegrityError(`manifest page ${pageId} of the recovery point cannot be read: ${errorMessage(err)}`);
    }
    for (const e of entries) for (const c of e.chunks ?? []) this.chunks.add(Buffer.from(c.id).toString('hex'));
    this.opened.add(pageId);
  }
}

/** Every chunk and manifest page id a recovery point references (what its recovery may read). */
export async function pointChunkIds(pool: Pool, record: RecoveryPointRecord): Promise<Set<string>> {
  const ids = new Set<string>(record.manifest.map((p) => p.id));
  for await (const e of pool.manifest(record)) for (const c of e.chunks ?? []) ids.add(Buffer.from(c.id).toString('hex'));
  return ids;
}
