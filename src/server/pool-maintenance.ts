/**
 * The server maintains its own pool: garbage collection and verification run
 * as jobs of kinds `gc` and `verify` (queued nightly by the scheduler and on
 * demand), each bounded per run and resumable from a cursor kept in the
 * catalog (settings gc_cursor and verify_cursor), so a restart continues
 * where the last run stopped. GC runs beside this server's backups and
 * recoveries (the pool's activity record, src/pool/activity.ts) and keeps
 * other processes out with an exclusive pool lock for its run. Verify
 * findings raise a `pool-damaged` alert per data source naming the damaged
 * recovery points. Also: the pool's bytes on disk for `GET /api/pool`.
 */
import { readdir, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { CustosError, errorMessage, isErrno, noProgress, type Clock } from '../base/index.js';
import type { Catalog, JobRow } from '../catalog/index.js';
import { gcPool, verifyPool, type AffectedPoint, type Pool, type VerifyReport } from '../pool/index.js';
import type { AlertService } from './alerts.js';

/** Bounds of one run (docs/design/concurrency.md, "pool maintenance in the server"). */
export interface MaintenanceLimits {
  /** GC never deletes or repacks a pack, nor removes a file in tmp/, modified more recently than this. */
  readonly gcGraceMs: number;
  /** Packs one gc run sweeps (16 GiB at the default pack size). */
  readonly gcPacksPerRun: number;
  /** Packs one verify run re-reads (8 GiB at the default pack size). */
  readonly verifyPacksPerRun: number;
}

export const DEFAULT_MAINTENANCE_LIMITS: MaintenanceLimits = {
  gcGraceMs: 60 * 60_000,
  gcPacksPerRun: 1024,
  verifyPacksPerRun: 512,
};

/** How long a computed pool size is served before the pool is walked again. */
const USAGE_TTL_MS = 5 * 60_000;

export interface MaintenanceDeps {
  readonly pool: Pool;
  readonly catalog: Catalog;
  readonly alerts: AlertService;
  readonly clock: Clock;
  readonly limits?: Partial<MaintenanceLimits>;
}

export type JobLogger = (level: 'info' | 'warning' | 'error', message: string) => void;

export interface DirectoryUsage {
  readonly path: string;
  readonly bytesUsed: number;
  readonly bytesFree: number;
  readonly bytesTotal: number;
}

export interface PoolUsage {
  readonly directories: DirectoryUsage[];
  /** Encoded bytes of the chunks the pool's index names. */
  readonly bytesStored: number;
  readonly chunks: number;
}

export class PoolMaintenance {
  readonly limits: MaintenanceLimits;
  private readonly sizes = new Map<string, { bytes: number; at: number; pending?: Promise<number> }>();

  constructor(private readonly d: MaintenanceDeps) {
    this.limits = { ...DEFAULT_MAINTENANCE_LIMITS, ...(d.limits ?? {}) };
  }

  /** One gc run: from the saved cursor, at most gcPacksPerRun packs, the cursor saved after each durable step. */
  async gc(log: JobLogger): Promise<Record<string, unknown>> {
    const { pool, catalog } = this.d;
    // Keeps other processes (a standalone backup or gc) out for the run; this server's own jobs are coordinated in memory.
    const lock = await pool.lock('exclusive', 'gc (protection server)', { besideOwnProcess: true });
    try {
      await pool.refreshIndex();
      const startAfter = (await catalog.setting('gc_cursor')) || null;
      if (startAfter) log('info', `continuing after pack ${startAfter}`);
      const report = await gcPool(pool, {
        graceMs: this.limits.gcGraceMs,
        startAfter,
        maxPacks: this.limits.gcPacksPerRun,
        deleteRepacked: false,
        onStep: (cursor) => catalog.setSetting('gc_cursor', cursor ?? ''),
      });
      this.sizes.clear();
      log('info', `${report.packsExamined} pack(s) examined: ${report.packsDeleted} deleted, ${report.packsRepacked} repacked, ${report.leftoversDeleted} leftover(s) removed; ${report.bytesFreed} bytes freed`);
      return { ...report };
    } finally {
      await lock.release();
    }
  }

  /**
   * One verify run over the next slice of packs (`full`: every pack). Damage
   * fails the job and raises an alert per data source naming its damaged
   * points; the damaged chunks leave the in-memory index, so the next
   * synchronization that meets them stores them again.
   */
  async verify(job: JobRow, log: JobLogger): Promise<Record<string, unknown>> {
    const { pool, catalog } = this.d;
    const full = parseVerifyParams(job.params).full;
    await pool.refreshIndex();
    const startAfter = full ? null : (await catalog.setting('verify_cursor')) || null;
    const report = await verifyPool(pool, noProgress, { startAfter, maxPacks: full ? undefined : this.limits.verifyPacksPerRun });
    if (!full) await catalog.setSetting('verify_cursor', report.cursor ?? '');
    const summary = verifySummary(report, startAfter);
    log('info', `${report.packs} pack(s), ${report.chunks} chunk(s) re-read${report.cursor ? `; the next run continues after pack ${report.cursor}` : ''}`);
    if (report.ok) {
      if (startAfter === null && report.cursor === null) for (const subject of await this.damagedSubjects()) await this.d.alerts.resolve('pool-damaged', subject, this.d.clock.now());
      return summary;
    }
    for (const o of report.damagedObjects) log('error', `damaged pool object ${o.name}: ${o.error}`);
    for (const c of report.damagedChunks.slice(0, 100)) log('error', `damaged chunk ${c.id}${c.pack ? ` in pack ${c.pack}` : ''}: ${c.error}`);
    pool.dropFromIndex(report.damagedChunks.filter((c) => c.pack !== '').map((c) => c.id));
    await this.raiseDamage(report.affectedPoints, log);
    const names = report.affectedPoints.map((p) => p.id);
    throw new CustosError('integrity',
      `the pool is damaged: ${report.damagedChunks.length} chunk(s), ${report.damagedObjects.length} object(s); ` +
      (names.length > 0 ? `recovery point(s) affected: ${names.join(', ')}` : 'no recovery point is affected'));
  }

  private async raiseDamage(points: readonly AffectedPoint[], log: JobLogger): Promise<void> {
    const bySubject = new Map<string, AffectedPoint[]>();
    for (const p of points) {
      const row = await this.d.catalog.point(p.id);
      const subject = row?.source_id ?? 'pool';
      bySubject.set(subject, [...(bySubject.get(subject) ?? []), p]);
      log('error', `recovery point ${p.id} (${row?.source_id ?? p.source}, ${p.time}) references ${p.damagedChunks} damaged or missing chunk(s)`);
    }
    for (const [subject, list] of bySubject) {
      const ids = list.map((p) => `${p.id} (${p.time})`).join(', ');
      await this.d.alerts.raise('pool-damaged', subject, `damaged or missing data in the storage pool: recovery point(s) ${ids} cannot be recovered whole`, this.d.clock.now());
    }
  }

  private async damagedSubjects(): Promise<string[]> {
    const alerts = await this.d.catalog.listAlerts('active');
    return [...new Set(alerts.filter((a) => a.kind === 'pool-damaged').map((a) => a.subject))];
  }

  /** The pool's directories: bytes the pool uses on disk (walked at most every few minutes), free and total. */
  async usage(extraDirectories: readonly string[]): Promise<PoolUsage> {
    let stored = 0;
    for (const loc of this.d.pool.index.values()) stored += loc.length;
    const directories: DirectoryUsage[] = [];
    for (const path of [this.d.pool.dir, ...extraDirectories]) {
      const s = await statfs(path);
      directories.push({
        path,
        bytesUsed: await this.bytesUsed(path),
        bytesFree: Number(s.bavail) * Number(s.bsize),
        bytesTotal: Number(s.blocks) * Number(s.bsize),
      });
    }
    return { directories, bytesStored: stored, chunks: this.d.pool.index.size };
  }

  private async bytesUsed(path: string): Promise<number> {
    const now = Date.now();
    let entry = this.sizes.get(path);
    if (entry && now - entry.at < USAGE_TTL_MS) return entry.pending ?? entry.bytes;
    if (entry?.pending) return entry.pending;
    const pending = diskUsage(path);
    entry = { bytes: entry?.bytes ?? 0, at: entry?.at ?? 0, pending };
    this.sizes.set(path, entry);
    try {
      const bytes = await pending;
      this.sizes.set(path, { bytes, at: Date.now() });
      return bytes;
    } catch (err) {
      this.sizes.delete(path);
      throw err;
    }
  }
}

/** Bytes allocated on disk under `dir` (st_blocks, like du), files removed meanwhile skipped. */
export async function diskUsage(dir: string): Promise<number> {
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return;
      throw err;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        try {
          total += (await stat(p)).blocks * 512;
        } catch (err) {
          if (!isErrno(err, 'ENOENT')) throw err;
        }
      }
    }
  };
  await walk(dir);
  return total;
}

function parseVerifyParams(text: string): { full: boolean } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CustosError('internal', `verify job parameters are not JSON: ${errorMessage(err)}`);
  }
  if (typeof value !== 'object' || value === null) return { full: false };
  return { full: (value as { full?: unknown }).full === true };
}

function verifySummary(r: VerifyReport, startAfter: string | null): Record<string, unknown> {
  return {
    ok: r.ok,
    packs: r.packs,
    chunks: r.chunks,
    bytes: r.bytes,
    points: r.points,
    damagedChunks: r.damagedChunks.length,
    damagedObjects: r.damagedObjects.length,
    affectedPoints: r.affectedPoints.map((p) => p.id),
    startedAfter: startAfter,
    cursor: r.cursor,
  };
}
