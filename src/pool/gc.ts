/**
 * Garbage collection, mark and sweep. Mark: every chunk that a recovery point
 * references (its manifest pages and their files' chunks) is live. Sweep:
 * packs with no live chunk are deleted, packs with much dead data are
 * repacked (live chunks copied into new packs), leftovers of interrupted
 * backups (packs no index names, files in tmp/) are deleted. Nothing younger
 * than the grace period is touched, so a chunk a running backup is about to
 * reference can never be deleted, whatever the locks say. Crash order: new
 * packs and index durable → old index objects removed → old packs removed.
 */
import { CustosError, UserError, errorMessage, parseDuration, type PackId } from '../base/index.js';
import { decodePage, encodeIndex, type PackEntries, type PackEntry } from '../format/index.js';
import type { Pool } from './pool.js';
import { packName } from './layout.js';

export interface GcOptions {
  /** Items modified more recently than this are never removed. */
  readonly graceMs: number;
  /** Repack a pack when at least this fraction of its bytes is dead. */
  readonly repackThreshold?: number;
  readonly dryRun?: boolean;
}

export interface GcReport {
  readonly points: number;
  readonly liveChunks: number;
  readonly packsDeleted: number;
  readonly packsRepacked: number;
  readonly packsWritten: number;
  readonly leftoversDeleted: number;
  readonly bytesFreed: number;
  readonly dryRun: boolean;
}

export async function gcPool(pool: Pool, options: GcOptions): Promise<GcReport> {
  const threshold = options.repackThreshold ?? 0.2;
  await pool.loadIndex();
  const points = await pool.listPoints();

  // Mark.
  const live = new Set<string>();
  for (const point of points) {
    for (const page of point.manifest) {
      live.add(page.id);
      let entries;
      try {
        entries = decodePage(await pool.readChunk(page.id));
      } catch (err) {
        throw new CustosError('integrity', `gc refused: recovery point ${point.id} cannot be read (${errorMessage(err)}); run custos pool verify`);
      }
      for (const e of entries) for (const c of e.chunks ?? []) live.add(c.id.toString('hex'));
    }
  }

  // What is where.
  const byPack = new Map<string, PackEntry[]>();
  for (const [id, loc] of pool.index) {
    let list = byPack.get(loc.pack);
    if (!list) byPack.set(loc.pack, (list = []));
    list.push({ id: Buffer.from(id, 'hex'), offset: loc.offset, length: loc.length, rawLength: loc.rawLength });
  }
  const files = new Map((await pool.store.list('packs')).map((b) => [b.name.slice(b.name.lastIndexOf('/') + 1), b]));
  const cutoff = Date.now() - options.graceMs;
  const old = (pack: string): boolean => (files.get(pack)?.mtimeMs ?? 0) < cutoff;

  const remove: string[] = [];
  const repack: Array<[string, PackEntry[]]> = [];
  const keep: PackEntries[] = [];
  let bytesFreed = 0;
  for (const [pack, entries] of byPack) {
    const liveEntries = entries.filter((e) => live.has(e.id.toString('hex')));
    const total = entries.reduce((n, e) => n + e.length, 0);
    const dead = total - liveEntries.reduce((n, e) => n + e.length, 0);
    if (!files.has(pack)) continue; // a missing pack is verify's business, not ours
    if (old(pack) && liveEntries.length === 0) {
      remove.push(pack);
      bytesFreed += files.get(pack)!.size;
    } else if (old(pack) && dead > 0 && dead >= total * threshold) {
      repack.push([pack, liveEntries]);
      bytesFreed += dead;
    } else {
      keep.push({ packId: pack as PackId, entries });
    }
  }
  const leftovers = [...files.values()].filter((f) => {
    const id = f.name.slice(f.name.lastIndexOf('/') + 1);
    return !byPack.has(id) && f.mtimeMs < cutoff;
  });
  const tmp = (await pool.store.list('tmp')).filter((f) => f.mtimeMs < cutoff);
  for (const f of leftovers) bytesFreed += f.size;

  const report = {
    points: points.length,
    liveChunks: live.size,
    packsDeleted: remove.length,
    packsRepacked: repack.length,
    packsWritten: 0,
    leftoversDeleted: leftovers.length + tmp.length,
    bytesFreed,
    dryRun: options.dryRun === true,
  };
  if (options.dryRun || (remove.length === 0 && repack.length === 0 && leftovers.length === 0 && tmp.length === 0)) return report;

  if (remove.length > 0 || repack.length > 0) {
    // Copy live chunks out of packs being repacked; each is verified on the way.
    const writer = pool.chunkWriter({ repack: true });
    for (const [pack, entries] of repack) {
      const data = await pool.store.get(packName(pack as PackId));
      for (const e of entries) {
        const blob = data.subarray(e.offset, e.offset + e.length);
        try {
          pool.codec.decodeChunk(e.id, blob);
        } catch (err) {
          throw new CustosError('integrity', `gc refused: live chunk ${e.id.toString('hex')} in pack ${pack} is damaged (${errorMessage(err)}); run custos pool verify`);
        }
        writer.add(e.id, Buffer.from(blob), e.rawLength);
        await writer.backpressure();
      }
    }
    await writer.flush();
    report.packsWritten = writer.written.length;
    // One index for everything kept; then the old index objects can go.
    if (keep.length > 0) await pool.store.put(`index/${pool.newIndexId()}`, encodeIndex(pool.codec, keep));
    for (const name of pool.indexNames) await pool.store.delete(name);
    for (const pack of [...remove, ...repack.map(([p]) => p)]) await pool.store.delete(packName(pack as PackId));
  }
  for (const f of [...leftovers, ...tmp]) await pool.store.delete(f.name);
  return report;
}

export function parseGrace(text: string | undefined): number {
  if (text === undefined) return 60 * 60 * 1000;
  const ms = parseDuration(text);
  if (ms === undefined) throw new UserError('usage', `--grace must be a duration like 30m, 1h or 0s (got "${text}")`);
  return ms;
}
