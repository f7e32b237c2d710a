/**
 * Taking a catalog backup (a job of kind `catalog-backup`): SQLite's online
 * backup of the catalog to a temporary file in the data directory, stored in
 * the pool as a `catalog-backup` object (encrypted with the pool's keys), the
 * same object optionally copied to a directory (`--catalog-copy DIR`), then
 * old backups deleted by the retention rule (src/jobs/catalog-backups.ts).
 * The marks the schedule reads (time and configuration fingerprint of the
 * last backup) are written only once the backup is durable.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CustosError, errorMessage, type Clock } from '../base/index.js';
import type { Catalog } from '../catalog/index.js';
import { catalogBackupHeader, catalogBackupTime, CATALOG_BACKUP_ID, newCatalogBackupId, type CatalogBackupReason } from '../format/index.js';
import { catalogBackupsToDelete } from '../jobs/index.js';
import { CatalogBackupStore, type Pool } from '../pool/index.js';
import { writeFileAtomic } from './data-dir.js';

export const CATALOG_COPY_SUFFIX = '.custos-catalog';

/** Settings (catalog keys) the schedule reads. */
export const CATALOG_BACKUP_SETTINGS = {
  lastAt: 'catalog_backup_last_at',
  lastQueuedAt: 'catalog_backup_queued_at',
  fingerprint: 'catalog_backup_fingerprint',
  seen: 'catalog_backup_seen',
} as const;

export interface CatalogBackupDeps {
  readonly catalog: Catalog;
  readonly pool: Pool;
  readonly dataDir: string;
  /** A directory that gets a copy of every backup, or null. */
  readonly copyDir: string | null;
  readonly serverVersion: string;
  readonly clock: Clock;
}

export interface CatalogBackupResult extends Record<string, unknown> {
  readonly backup: string;
  readonly bytes: number;
  readonly storedBytes: number;
  readonly copy: string | null;
  readonly deleted: number;
}

export class CatalogBackupService {
  private readonly store: CatalogBackupStore;

  constructor(private readonly d: CatalogBackupDeps) {
    this.store = new CatalogBackupStore(d.pool);
  }

  async take(reason: CatalogBackupReason, jobId: number | null, log: (m: string) => void = () => undefined): Promise<CatalogBackupResult> {
    const c = this.d.catalog;
    const fingerprint = await c.configurationFingerprint();
    const time = this.d.clock.now();
    const id = newCatalogBackupId(time);
    const database = await this.snapshot();
    const header = catalogBackupHeader({ id, time, reason, server: this.d.serverVersion, migrations: c.migrations(), job: jobId }, database);
    const blob = await this.store.put({ header, database });
    log(`catalog backup ${id} stored in the pool (${database.length} bytes of catalog, ${blob.length} stored)`);
    let copy: string | null = null;
    if (this.d.copyDir) {
      copy = join(this.d.copyDir, id + CATALOG_COPY_SUFFIX);
      try {
        await mkdir(this.d.copyDir, { recursive: true, mode: 0o700 });
        await writeFileAtomic(copy, blob, 0o600);
      } catch (err) {
        throw new CustosError('io', `catalog backup ${id} is in the pool, but the copy to ${this.d.copyDir} failed: ${errorMessage(err)}`, { transient: true, cause: err });
      }
      log(`copied to ${copy}`);
    }
    await c.setSetting(CATALOG_BACKUP_SETTINGS.lastAt, time.toISOString());
    await c.setSetting(CATALOG_BACKUP_SETTINGS.fingerprint, fingerprint);
    const deleted = await this.prune(log);
    return { backup: id, bytes: database.length, storedBytes: blob.length, copy, deleted };
  }

  /** The online backup, read back into memory (the temporary file is removed whatever happens). */
  private async snapshot(): Promise<Buffer> {
    const tmp = join(this.d.dataDir, `catalog-backup-${randomBytes(6).toString('hex')}.tmp`);
    try {
      await this.d.catalog.backupTo(tmp);
      return await readFile(tmp);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /** Applies the retention rule to the pool's backups and to the copies. */
  private async prune(log: (m: string) => void): Promise<number> {
    const now = this.d.clock.now();
    const inPool = await this.store.list();
    const gone = catalogBackupsToDelete(inPool.map((b) => ({ id: b.id, time: new Date(b.time) })), now);
    for (const id of gone) await this.store.delete(id);
    if (gone.length > 0) log(`deleted ${gone.length} old catalog backup(s) from the pool: ${gone.join(', ')}`);
    if (this.d.copyDir) {
      const copies = (await readdir(this.d.copyDir).catch(() => [] as string[]))
        .filter((n) => n.endsWith(CATALOG_COPY_SUFFIX) && CATALOG_BACKUP_ID.test(n.slice(0, -CATALOG_COPY_SUFFIX.length)))
        .map((n) => n.slice(0, -CATALOG_COPY_SUFFIX.length));
      const old = catalogBackupsToDelete(copies.map((id) => ({ id, time: new Date(catalogBackupTime(id)) })), now);
      for (const id of old) await rm(join(this.d.copyDir, id + CATALOG_COPY_SUFFIX), { force: true });
    }
    return gone.length;
  }
}
