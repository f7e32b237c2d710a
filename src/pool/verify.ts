/**
 * Verify: re-reads every pack a pack at a time, decodes and re-hashes every
 * chunk the index names, then walks every recovery point's manifest to name
 * the points that reference a damaged or missing chunk. Memory: the index
 * plus one pack plus the set of damaged ids.
 *
 * A slice (`startAfter`, `maxPacks`) re-reads only the packs whose ids come
 * next in order (the server's scheduled verification covers the pool over
 * several runs); every point is still checked against what the slice found
 * damaged and against the index (missing chunks).
 */
import type { ProgressSink } from '../base/index.js';
import { CustosError, errorMessage, noProgress } from '../base/index.js';
import { decodePackTrailer, decodePage, type RecoveryPointRecord } from '../format/index.js';
import type { ChunkLocation, Pool } from './pool.js';
import { packName } from './layout.js';

export interface DamagedChunk {
  readonly id: string;
  readonly pack: string;
  readonly error: string;
}

export interface AffectedPoint {
  readonly id: string;
  readonly time: string;
  readonly source: string;
  readonly damagedChunks: number;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly packs: number;
  readonly chunks: number;
  readonly bytes: number;
  readonly points: number;
  readonly damagedChunks: DamagedChunk[];
  readonly affectedPoints: AffectedPoint[];
  /** Problems with pool objects themselves (unreadable index or point objects). */
  readonly damagedObjects: Array<{ name: string; error: string }>;
  /** Packs no index names: leftovers of interrupted backups, removed by gc. Not damage. */
  readonly unindexedPacks: number;
  /** Where the next slice starts; null when this run reached the last pack (always, without a slice). */
  readonly cursor: string | null;
}

export interface VerifySlice {
  /** Re-read only packs whose id sorts after this one. */
  readonly startAfter?: string | null;
  /** Re-read at most this many packs. */
  readonly maxPacks?: number;
}

export async function verifyPool(pool: Pool, progress: ProgressSink = noProgress, slice: VerifySlice = {}): Promise<VerifyReport> {
  const damagedObjects: Array<{ name: string; error: string }> = [];
  await pool.loadIndex((name, err) => damagedObjects.push({ name, error: errorMessage(err) }));
  const byPack = new Map<string, Array<[string, ChunkLocation]>>();
  for (const [id, loc] of pool.index) {
    let list = byPack.get(loc.pack);
    if (!list) byPack.set(loc.pack, (list = []));
    list.push([id, loc]);
  }
  const damaged = new Map<string, DamagedChunk>();
  const onDisk = new Set((await pool.store.list('packs')).map((b) => b.name.slice(b.name.lastIndexOf('/') + 1)));
  const order = [...byPack.keys()].sort().filter((p) => !slice.startAfter || p > slice.startAfter);
  const chosen = slice.maxPacks === undefined ? order : order.slice(0, slice.maxPacks);
  const cursor = chosen.length < order.length ? chosen.at(-1) ?? null : null;
  let chunks = 0;
  let bytes = 0;
  let packs = 0;
  for (const pack of chosen) {
    const entries = byPack.get(pack)!;
    packs++;
    let data: Buffer | null = null;
    let packError = '';
    try {
      data = await pool.store.get(packName(pack as never));
      decodePackTrailer(pool.codec, data, `pack ${pack}`);
    } catch (err) {
      packError = errorMessage(err);
      if (!(err instanceof CustosError)) throw err;
    }
    for (const [id, loc] of entries) {
      chunks++;
      try {
        if (!data) throw new Error(packError);
        if (loc.offset + loc.length > data.length) throw new Error('pack is truncated');
        pool.codec.decodeChunk(Buffer.from(id, 'hex'), data.subarray(loc.offset, loc.offset + loc.length));
        bytes += loc.rawLength;
      } catch (err) {
        damaged.set(id, { id, pack, error: errorMessage(err) });
      }
    }
    if (data && packError) damagedObjects.push({ name: packName(pack as never), error: packError });
    progress.update({ packs, chunks, bytes, damaged: damaged.size });
  }
  const pending = pool.activity.pendingPacks();
  const unindexedPacks = [...onDisk].filter((p) => !byPack.has(p) && !pending.has(p)).length;

  let points: RecoveryPointRecord[] = [];
  try {
    points = await pool.listPoints();
  } catch (err) {
    damagedObjects.push({ name: 'points', error: errorMessage(err) });
  }
  const affectedPoints: AffectedPoint[] = [];
  for (const point of points) {
    let bad = 0;
    const check = (id: string): void => {
      if (damaged.has(id)) bad++;
      else if (!pool.index.has(id)) {
        damaged.set(id, { id, pack: '', error: 'missing from the pool' });
        bad++;
      }
    };
    for (const page of point.manifest) {
      check(page.id);
      if (damaged.has(page.id)) continue;
      try {
        for (const e of decodePage(await pool.readChunk(page.id))) for (const c of e.chunks ?? []) check(c.id.toString('hex'));
      } catch (err) {
        damaged.set(page.id, { id: page.id, pack: pool.index.get(page.id)?.pack ?? '', error: errorMessage(err) });
        bad++;
      }
    }
    if (bad > 0) affectedPoints.push({ id: point.id, time: point.time, source: `${point.source.host}:${point.source.path}`, damagedChunks: bad });
  }
  const damagedChunks = [...damaged.values()];
  return {
    ok: damagedChunks.length === 0 && damagedObjects.length === 0,
    packs,
    chunks,
    bytes,
    points: points.length,
    damagedChunks,
    affectedPoints,
    damagedObjects,
    unindexedPacks,
    cursor,
  };
}
