/**
 * Garbage collection, mark and sweep. Mark: every chunk that a recovery point
 * references (its manifest pages and their files' chunks) is live, and so is
 * every chunk of a point pinned by a job of this process. Sweep: packs with no
 * live chunk are deleted, packs with much dead data are repacked (live chunks
 * copied into new packs), leftovers of interrupted backups (packs no index
 * names, files in tmp/) are deleted. Nothing younger than the grace period is
 * touched, nor any pack a running writer of this process reused chunks from
 * or has not indexed yet (activity.ts), so gc can run beside backups.
 *
 * Bounded and resumable: packs are swept in id order from `startAfter`, at
 * most `maxPacks` per run, in steps; each step is durable before the next
 * (new packs and a consolidated index first, then old index objects, then old
 * packs) and reports the cursor to resume from, so a run killed at any
 * instant loses at most its current step.
 */
import { CustosError, UserError, errorMessage, parseDuration, type PackId } from '../base/index.js';
import { decodePage, encodeIndex, type PackEntries, type PackEntry, type RecoveryPointRecord } from '../format/index.js';
import type { BlobInfo } from './blob-store.js';
import type { Pool } from './pool.js';
import { packName } from './layout.js';

export interface GcOptions {
  /** Items modified more recently than this are never removed. */
  readonly graceMs: number;
  /** Repack a pack when at least this fraction of its bytes is dead. */
  readonly repackThreshold?: number;
  readonly dryRun?: boolean;
  /** Sweep only packs whose id sorts after this one (the cursor of an earlier run). */
  readonly startAfter?: string | null;
  /** Sweep at most this many packs in this run (default: all). */
  readonly maxPacks?: number;
  /** Packs per durable step (default 64). */
  readonly stepPacks?: number;
  /** Called after each durable step with where the next run starts (null: this pass reached the end). */
  readonly onStep?: (cursor: string | null) => Promise<void>;
  /**
   * Delete repacked packs in this run. Only safe when nothing else in this
   * process may still read them (the standalone command, under its exclusive
   * lock); otherwise they are left unindexed and the next run removes them.
   */
  readonly deleteRepacked?: boolean;
}

export interface GcReport {
  readonly points: number;
  readonly liveChunks: number;
  readonly packsExamined: number;
  readonly packsDeleted: number;
  readonly packsRepacked: number;
  readonly packsWritten: number;
  readonly leftoversDeleted: number;
  readonly bytesFreed: number;
  readonly dryRun: boolean;
  /** Where the next run starts; null when this run reached the last pack. */
  readonly cursor: string | null;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

interface StepPlan {
  readonly remove: string[];
  readonly repack: Array<[string, PackEntry[]]>;
  readonly leftovers: string[];
  bytesFreed: number;
}

const packIdOf = (name: string): string => name.slice(name.lastIndexOf('/') + 1);

export async function gcPool(pool: Pool, options: GcOptions): Promise<GcReport> {
  await pool.loadIndex();
  const points = await pool.listPoints();
  const live = await markLive(pool, [...points, ...pool.activity.pinnedPoints()]);

  const files = new Map((await pool.store.list('packs')).map((b) => [packIdOf(b.name), b]));
  const order = [...files.keys()].sort();
  const from = options.startAfter ? order.findIndex((id) => id > options.startAfter!) : 0;
  const start = from < 0 ? order.length : from;
  const end = options.maxPacks === undefined ? order.length : Math.min(order.length, start + options.maxPacks);
  const window = order.slice(start, end);
  const byPack = entriesByPack(pool, new Set(window));

  const report: Mutable<GcReport> = {
    points: points.length,
    liveChunks: live.size,
    packsExamined: 0,
    packsDeleted: 0,
    packsRepacked: 0,
    packsWritten: 0,
    leftoversDeleted: 0,
    bytesFreed: 0,
    dryRun: options.dryRun === true,
    cursor: end >= order.length ? null : window.at(-1) ?? null,
  };
  const cutoff = Date.now() - options.graceMs;
  const step = options.stepPacks ?? 64;
  for (let i = 0; i < window.length; i += step) {
    const packs = window.slice(i, i + step);
    const plan = planStep(pool, packs, byPack, live, files, cutoff, options);
    report.packsExamined += packs.length;
    report.packsDeleted += plan.remove.length;
    report.packsRepacked += plan.repack.length;
    report.leftoversDeleted += plan.leftovers.length;
    report.bytesFreed += plan.bytesFreed;
    if (options.dryRun) continue;
    report.packsWritten += await applyStep(pool, plan, options.deleteRepacked === true);
    const last = i + step >= window.length;
    await options.onStep?.(last ? report.cursor : packs.at(-1)!);
  }
  if (window.length === 0) await options.onStep?.(report.cursor);
  const tmp = (await pool.store.list('tmp')).filter((f) => f.mtimeMs < cutoff);
  report.leftoversDeleted += tmp.length;
  if (!options.dryRun) for (const f of tmp) await pool.store.delete(f.name);
  return report;
}

/** Every chunk id the given points reference (manifest pages and their files' chunks). */
async function markLive(pool: Pool, points: readonly RecoveryPointRecord[]): Promise<Set<string>> {
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
  return live;
}

function entriesByPack(pool: Pool, packs: ReadonlySet<string>): Map<string, PackEntry[]> {
  const byPack = new Map<string, PackEntry[]>();
  for (const [id, loc] of pool.index) {
    if (!packs.has(loc.pack)) continue;
    let list = byPack.get(loc.pack);
    if (!list) byPack.set(loc.pack, (list = []));
    list.push({ id: Buffer.from(id, 'hex'), offset: loc.offset, length: loc.length, rawLength: loc.rawLength });
  }
  return byPack;
}

/**
 * Decides one step, synchronously: what this process's writers reuse is read
 * and the dead chunks leave the in-memory index in the same turn, so no
 * backup can be told "the pool has it" about a chunk gc is about to delete.
 */
function planStep(
  pool: Pool,
  packs: readonly string[],
  byPack: ReadonlyMap<string, PackEntry[]>,
  live: ReadonlySet<string>,
  files: ReadonlyMap<string, BlobInfo>,
  cutoff: number,
  options: GcOptions,
): StepPlan {
  const threshold = options.repackThreshold ?? 0.2;
  const busy = new Set([...pool.activity.touchedPacks(), ...pool.activity.pendingPacks()]);
  const plan: StepPlan = { remove: [], repack: [], leftovers: [], bytesFreed: 0 };
  const dead: string[] = [];
  for (const pack of packs) {
    const file = files.get(pack)!;
    if (file.mtimeMs >= cutoff || busy.has(pack)) continue;
    const entries = byPack.get(pack) ?? [];
    if (entries.length === 0) {
      plan.leftovers.push(pack);
      plan.bytesFreed += file.size;
      continue;
    }
    const liveEntries = entries.filter((e) => live.has(e.id.toString('hex')));
    const total = entries.reduce((n, e) => n + e.length, 0);
    const deadBytes = total - liveEntries.reduce((n, e) => n + e.length, 0);
    if (liveEntries.length === 0) {
      plan.remove.push(pack);
      plan.bytesFreed += file.size;
    } else if (deadBytes > 0 && deadBytes >= total * threshold) {
      plan.repack.push([pack, liveEntries]);
      plan.bytesFreed += deadBytes;
    } else {
      continue;
    }
    for (const e of entries) if (!live.has(e.id.toString('hex'))) dead.push(e.id.toString('hex'));
  }
  if (!options.dryRun) pool.dropFromIndex(dead);
  return plan;
}

/** Carries out a step in crash-safe order; returns the number of packs written. */
async function applyStep(pool: Pool, plan: StepPlan, deleteRepacked: boolean): Promise<number> {
  let written = 0;
  if (plan.repack.length > 0) {
    // Copy live chunks out of packs being repacked; each is verified on the way.
    const writer = pool.chunkWriter({ repack: true });
    try {
      for (const [pack, entries] of plan.repack) {
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
    } finally {
      writer.close();
    }
    written = writer.written.length;
  }
  const doomed = [...plan.remove, ...plan.leftovers, ...(deleteRepacked ? plan.repack.map(([p]) => p) : [])];
  if (doomed.length === 0 && plan.repack.length === 0) return written;
  await consolidateIndex(pool);
  for (const pack of doomed) await pool.store.delete(packName(pack as PackId));
  return written;
}

/**
 * One index object for everything the in-memory index names, then the old
 * index objects go: afterwards no index names a pack this step deletes.
 */
async function consolidateIndex(pool: Pool): Promise<void> {
  const byPack = new Map<string, PackEntry[]>();
  for (const [id, loc] of pool.index) {
    let list = byPack.get(loc.pack);
    if (!list) byPack.set(loc.pack, (list = []));
    list.push({ id: Buffer.from(id, 'hex'), offset: loc.offset, length: loc.length, rawLength: loc.rawLength });
  }
  const keep: PackEntries[] = [...byPack].map(([packId, entries]) => ({ packId: packId as PackId, entries }));
  const replaced = [...pool.indexNames];
  const name = `index/${pool.newIndexId()}`;
  await pool.store.put(name, encodeIndex(pool.codec, keep));
  pool.replaceIndexNames(replaced, name);
  for (const old of replaced) await pool.store.delete(old);
}

export function parseGrace(text: string | undefined): number {
  if (text === undefined) return 60 * 60 * 1000;
  const ms = parseDuration(text);
  if (ms === undefined) throw new UserError('usage', `--grace must be a duration like 30m, 1h or 0s (got "${text}")`);
  return ms;
}
