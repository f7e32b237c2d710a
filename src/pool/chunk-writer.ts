/**
 * ChunkWriter: appends encoded chunks to pack files and makes them findable.
 * Write order (the crash-safety argument of pool-format.md): a pack is made
 * durable under its final name first; only then does an index object naming
 * its chunks get written; a recovery point is saved only after `flush()` has
 * indexed every chunk it references. A crash leaves at worst packs no index
 * names, which garbage collection removes after its grace period.
 */
import { randomBytes } from 'node:crypto';
import type { PackId } from '../base/index.js';
import { encodeIndex, encodePackTrailer, type BlobCodec, type PackEntries, type PackEntry } from '../format/index.js';
import type { BlobStore } from './blob-store.js';
import type { PoolActivity, WriterTrack } from './activity.js';
import { packName } from './layout.js';

/** What a ChunkWriter needs of its pool. */
export interface ChunkWriterHost {
  readonly config: { readonly packSize: number };
  readonly codec: BlobCodec;
  readonly store: BlobStore;
  readonly index: ReadonlyMap<string, { readonly pack: string }>;
  readonly activity: PoolActivity;
  addToIndex(pack: PackId, entries: readonly PackEntry[]): void;
  /** gc moved these chunks into `pack`: they are read from there from now on. */
  relocate(pack: PackId, entries: readonly PackEntry[]): void;
  /** An index object this process wrote (gc replaces it when it consolidates). */
  indexWritten(name: string): void;
  newIndexId(): string;
}

/** Write an index object after this many durable packs, so long backups leave reusable data behind. */
const PACKS_PER_INDEX = 16;
/** Packs being written or waiting for fsync; only those being written hold memory (BlobStore.put). */
const MAX_INFLIGHT_PACKS = 4;

export class ChunkWriter {
  private parts: Buffer[] = [];
  private size = 0;
  private entries: PackEntry[] = [];
  private readonly session = new Set<string>();
  private readonly inflight = new Set<Promise<void>>();
  private durable: PackEntries[] = [];
  private failure: unknown = null;
  /** Encoded bytes written to packs by this writer. */
  bytesAdded = 0;
  chunksAdded = 0;
  /** What gc running in this process must respect of this writer (see activity.ts). */
  private readonly track: WriterTrack;

  /** `repack`: write chunks even though the index names them (gc moving live chunks). */
  constructor(
    private readonly pool: ChunkWriterHost,
    private readonly repack = false,
  ) {
    this.track = pool.activity.registerWriter();
  }

  /**
   * True when the pool or this writer already holds the chunk. A chunk the
   * pool holds will be referenced without being stored again, so its pack is
   * recorded as touched: gc leaves it alone while this writer lives.
   */
  has(idHex: string): boolean {
    if (this.session.has(idHex)) return true;
    if (this.repack) return false;
    const loc = this.pool.index.get(idHex);
    if (!loc) return false;
    this.track.touched.add(loc.pack);
    return true;
  }

  /** Ends this writer's claims on the pool (call after the last flush; gc may then collect what it reused). */
  close(): void {
    this.track.close();
  }

  /** Packs made durable and indexed by this writer. */
  readonly written: PackId[] = [];

  /** Adds an encoded chunk unless it is already stored; returns whether it was added. */
  add(id: Buffer, blob: Buffer, rawLength: number): boolean {
    const key = id.toString('hex');
    if (this.has(key)) return false;
    this.session.add(key);
    // Copy the id: it may be a view into a large buffer (a worker's batch) that must not outlive the pack write.
    this.entries.push({ id: Buffer.from(id), offset: this.size, length: blob.length, rawLength });
    this.parts.push(blob);
    this.size += blob.length;
    this.bytesAdded += blob.length;
    this.chunksAdded++;
    if (this.size >= this.pool.config.packSize) this.sealPack();
    return true;
  }

  private sealPack(): void {
    if (this.entries.length === 0) return;
    const packId = randomBytes(16).toString('hex') as PackId;
    const entries = this.entries;
    const parts = this.parts;
    parts.push(encodePackTrailer(this.pool.codec, entries));
    this.parts = [];
    this.entries = [];
    this.size = 0;
    this.track.pending.add(packId);
    const p = this.pool.store
      .put(packName(packId), parts)
      .then(() => {
        this.durable.push({ packId, entries });
      })
      .catch((err: unknown) => {
        this.failure ??= err;
      })
      .finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  /** Resolves when the writer can take more chunks; writes an index when enough packs are durable. */
  async backpressure(): Promise<void> {
    while (this.inflight.size >= MAX_INFLIGHT_PACKS) await Promise.race(this.inflight);
    this.throwIfFailed();
    if (this.durable.length >= PACKS_PER_INDEX) await this.writeIndex();
  }

  private async writeIndex(): Promise<void> {
    if (this.durable.length === 0) return;
    const packs = this.durable;
    this.durable = [];
    const name = `index/${this.pool.newIndexId()}`;
    await this.pool.store.put(name, encodeIndex(this.pool.codec, packs));
    this.pool.indexWritten(name);
    for (const p of packs) {
      if (this.repack) this.pool.relocate(p.packId, p.entries);
      else this.pool.addToIndex(p.packId, p.entries);
      this.track.pending.delete(p.packId);
      this.written.push(p.packId);
    }
  }

  /** Makes everything added so far durable and indexed. */
  async flush(): Promise<void> {
    this.sealPack();
    while (this.inflight.size > 0) await Promise.race(this.inflight);
    this.throwIfFailed();
    await this.writeIndex();
  }
}
