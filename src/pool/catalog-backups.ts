/**
 * Catalog backups kept in the pool (`catalog/<id>`, see
 * docs/design/pool-format.md): write one, list them (newest first, from their
 * names alone), read and check one, delete one. The pool never interprets the
 * database inside; the server takes and restores it.
 */
import { CustosError, UserError } from '../base/index.js';
import {
  CATALOG_BACKUP_ID,
  CATALOG_BACKUP_PREFIX,
  catalogBackupName,
  catalogBackupTime,
  decodeCatalogBackup,
  encodeCatalogBackup,
  type CatalogBackup,
} from '../format/index.js';
import type { Pool } from './pool.js';

export interface CatalogBackupInfo {
  readonly id: string;
  /** From the id: when it was taken (to the second). */
  readonly time: string;
  /** Encoded size in the pool. */
  readonly storedBytes: number;
}

export class CatalogBackupStore {
  constructor(private readonly pool: Pool) {}

  /** Encodes and stores a backup (atomic and durable: the BlobStore contract). */
  async put(backup: CatalogBackup): Promise<Buffer> {
    const blob = encodeCatalogBackup(this.pool.codec, backup);
    await this.pool.store.put(catalogBackupName(backup.header.id), blob);
    return blob;
  }

  /** Backups in the pool, newest first. Names that are not backup ids are not listed. */
  async list(): Promise<CatalogBackupInfo[]> {
    const infos = await this.pool.store.list(CATALOG_BACKUP_PREFIX);
    return infos
      .map((b) => ({ id: b.name.slice(CATALOG_BACKUP_PREFIX.length + 1), storedBytes: b.size }))
      .filter((b) => CATALOG_BACKUP_ID.test(b.id))
      .map((b) => ({ ...b, time: catalogBackupTime(b.id) }))
      .sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  }

  /**
   * The backup `ref` names: a whole id, a unique prefix of one, or `latest`
   * (the newest). Throws not-found / usage errors that say what exists.
   */
  async resolve(ref: string): Promise<string> {
    const all = await this.list();
    if (all.length === 0) throw new UserError('not-found', `the pool at ${this.pool.dir} holds no catalog backup`);
    if (ref === 'latest') return all[0]!.id;
    if (!/^[0-9TZa-f-]{1,40}$/.test(ref)) throw new UserError('usage', `${JSON.stringify(ref)} is not a catalog backup id (like ${all[0]!.id}) or "latest"`);
    const matches = all.filter((b) => b.id.startsWith(ref));
    if (matches.length === 0) throw new UserError('not-found', `no catalog backup ${ref} in the pool at ${this.pool.dir} (newest: ${all[0]!.id}; custos server catalog list shows them all)`);
    if (matches.length > 1) throw new UserError('usage', `catalog backup ${ref} is ambiguous (${matches.length} match); give more of the id`);
    return matches[0]!.id;
  }

  /** Reads and checks a backup (authenticity, header, checksum). */
  async read(id: string): Promise<CatalogBackup> {
    let blob: Buffer;
    try {
      blob = await this.pool.store.get(catalogBackupName(id));
    } catch (err) {
      if (err instanceof CustosError && err.code === 'not-found') throw new UserError('not-found', `no catalog backup ${id} in the pool at ${this.pool.dir}`);
      throw err;
    }
    return decodeCatalogBackup(this.pool.codec, blob, id);
  }

  async delete(id: string): Promise<void> {
    await this.pool.store.delete(catalogBackupName(id));
  }
}
