/**
 * The catalog commands run with the server stopped, on its data directory:
 * list the catalog backups in the pool, restore one (the current catalog
 * set aside, never deleted), and resync the catalog with the pool. Restore
 * and resync take the pool's exclusive lock, so they refuse while a server
 * (which holds a shared lock) runs on the directory.
 */
import { existsSync } from 'node:fs';
import { rename, writeFile, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { CustosError, LockedError, systemClock, type Clock } from '../base/index.js';
import { Catalog, inspectCatalogFile } from '../catalog/index.js';
import type { CatalogBackupHeader } from '../format/index.js';
import { CatalogBackupStore, fsyncDir, Pool, type CatalogBackupInfo, type PoolLock } from '../pool/index.js';
import { serverFiles, type ServerFiles } from './data-dir.js';
import { AuditLog } from './audit.js';
import { setCatalogAside } from './catalog-guard.js';
import { readIssuanceRecord } from './issued-certificates.js';
import { resyncCatalog, type ResyncReport } from './resync.js';

async function openServerPool(files: ServerFiles): Promise<Pool> {
  if (!existsSync(join(files.pool, 'config'))) throw new CustosError('not-found', `${files.dir} has no storage pool (${files.pool}): is it a protection server's data directory?`);
  return Pool.open(files.pool, { keyFile: existsSync(files.poolKey) ? files.poolKey : undefined });
}

/** The pool's exclusive lock for `operation`; a running server is named as such. */
async function lockStopped(pool: Pool, files: ServerFiles, operation: string): Promise<PoolLock> {
  try {
    return await pool.lock('exclusive', operation);
  } catch (err) {
    if (err instanceof LockedError) {
      throw new CustosError('locked', `${operation} needs the server stopped, but ${files.dir} is in use: ${err.message.replace(/; try again.*$/, '')}. Stop the server first`);
    }
    throw err;
  }
}

export async function listCatalogBackups(dataDir: string): Promise<CatalogBackupInfo[]> {
  const files = serverFiles(resolve(dataDir));
  return new CatalogBackupStore(await openServerPool(files)).list();
}

export interface RestoreResult {
  readonly restored: CatalogBackupHeader;
  /** Where the catalog that was replaced went (null when there was none). */
  readonly setAside: string | null;
  /** The resync that followed (null with resync: false). */
  readonly resync: ResyncReport | null;
}

/**
 * Restores catalog backup `ref` (an id, a unique prefix, or `latest`): checks
 * it (authenticity, checksum, SQLite integrity), sets the current catalog
 * aside, moves the backup into place, and (unless told not to) resyncs it
 * with the pool. Nothing changes when the backup does not check out.
 */
export async function restoreCatalog(dataDir: string, ref: string, options: { resync: boolean; clock?: Clock }): Promise<RestoreResult> {
  const files = serverFiles(resolve(dataDir));
  const clock = options.clock ?? systemClock;
  const pool = await openServerPool(files);
  const lock = await lockStopped(pool, files, 'catalog restore');
  try {
    const store = new CatalogBackupStore(pool);
    const backup = await store.read(await store.resolve(ref));
    const tmp = join(files.dir, `catalog-restore-${randomBytes(6).toString('hex')}.tmp`);
    try {
      await writeFile(tmp, backup.database, { mode: 0o600, flag: 'wx' });
      const state = inspectCatalogFile(tmp);
      if (state.state !== 'ok') throw new CustosError('integrity', `catalog backup ${backup.header.id} does not hold a usable catalog (${state.state === 'damaged' ? state.problem : state.state}); nothing was changed`);
      await markBackupJobDone(tmp, backup.header);
      const current = inspectCatalogFile(files.catalog);
      const setAside = await setCatalogAside(files, clock.now(), current.state === 'ok' ? 'replaced' : 'damaged');
      await rename(tmp, files.catalog);
      fsyncDir(files.dir);
      const resync = options.resync ? await resyncOpen(files, pool, clock, { action: 'catalog.restore', target: backup.header.id }) : null;
      if (!resync) await auditLocal(files, clock, { action: 'catalog.restore', target: backup.header.id, detail: { resync: false } });
      return { restored: backup.header, setAside, resync };
    } finally {
      // The temporary copy and the empty WAL and shared-memory files its inspection left.
      for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`]) await rm(f, { force: true });
    }
  } finally {
    await lock.release();
  }
}

/** The job that took the backup is "running" in the copy: it succeeded (it made this very backup). */
async function markBackupJobDone(file: string, header: CatalogBackupHeader): Promise<void> {
  if (header.job === null) return;
  const catalog = await Catalog.openSqlite(file);
  try {
    const result = JSON.stringify({ backup: header.id, bytes: header.size });
    if (await catalog.updateJob(header.job, { state: 'succeeded', finished_at: header.time, result }, ['running'])) {
      await catalog.appendJobLog(header.job, header.time, 'info', `succeeded: catalog backup ${header.id} (the catalog was later restored from it)`);
    }
  } finally {
    await catalog.close();
  }
}

/** `custos server resync --data DIR`: reconciles the catalog with the pool and the issuance record. */
export async function resyncServerCatalog(dataDir: string, options: { clock?: Clock } = {}): Promise<ResyncReport> {
  const files = serverFiles(resolve(dataDir));
  const found = inspectCatalogFile(files.catalog);
  if (found.state !== 'ok') {
    throw new CustosError(found.state === 'damaged' ? 'integrity' : 'not-found',
      `the catalog ${files.catalog} is ${found.state === 'damaged' ? `damaged (${found.problem})` : found.state}: restore it first (custos server catalog restore --data ${files.dir})`);
  }
  const pool = await openServerPool(files);
  const lock = await lockStopped(pool, files, 'resync');
  try {
    return await resyncOpen(files, pool, options.clock ?? systemClock, { action: 'catalog.resync', target: null });
  } finally {
    await lock.release();
  }
}

/** Resyncs, and records in the audit log who did it and what it changed. */
async function resyncOpen(files: ServerFiles, pool: Pool, clock: Clock, audit: { action: string; target: string | null }): Promise<ResyncReport> {
  const catalog = await Catalog.openSqlite(files.catalog);
  try {
    const report = await resyncCatalog({ catalog, pool, issued: await readIssuanceRecord(files.dir), clock });
    await new AuditLog(catalog, clock, () => undefined).record({ ...localActor(), ...audit, outcome: 'ok', detail: counts(report) });
    return report;
  } finally {
    await catalog.close();
  }
}

/** The person at the server's console: commands run with the server stopped have no token. */
function localActor(): { actor: string; role: null; address: null } {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no user name (a container without passwd): "unknown"
  }
  return { actor: `${user} (local: custos server)`, role: null, address: null };
}

async function auditLocal(files: ServerFiles, clock: Clock, e: { action: string; target: string | null; detail: Record<string, unknown> }): Promise<void> {
  const catalog = await Catalog.openSqlite(files.catalog);
  try {
    await new AuditLog(catalog, clock, () => undefined).record({ ...localActor(), ...e, outcome: 'ok' });
  } finally {
    await catalog.close();
  }
}

function counts(r: ResyncReport): Record<string, number> {
  return {
    pointsRegistered: r.pointsRegistered.length, pointsDropped: r.pointsDropped.length, sourcesAdded: r.sourcesAdded.length,
    replicasInconsistent: r.replicasInconsistent.length, jobsInterrupted: r.jobsInterrupted.length, recoveriesCancelled: r.recoveriesCancelled.length,
    agentsRegistered: r.agentsRegistered.length, agentsUpdated: r.agentsUpdated.length, agentsRevoked: r.agentsRevoked.length,
  };
}
