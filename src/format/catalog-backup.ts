/**
 * The catalog backup object: a copy of the server's SQLite catalog taken
 * with SQLite's online backup, stored in the pool beside the recovery points
 * (`catalog/<id>`) and encoded like every pool object (kind `catalog-backup`:
 * compressed, encrypted with the pool's data key, authenticated). See
 * docs/design/pool-format.md, "Catalog backup objects".
 *
 *   payload = u8 version (1) ‖ u32 header length ‖ header (UTF-8 JSON) ‖ SQLite database bytes
 *
 * The id is the object's name and sorts by time: `YYYYMMDDTHHMMSSZ-<8 hex>`.
 * The header repeats the id (a backup renamed to another id is refused) and
 * carries the SHA-256 and size of the database bytes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { CustosError, IntegrityError } from '../base/index.js';
import type { BlobCodec } from './codec.js';

export const CATALOG_BACKUP_VERSION = 1;
export const CATALOG_BACKUP_PREFIX = 'catalog';

/** A catalog backup id: the UTC time it was taken to the second, then 8 random hex digits. */
export const CATALOG_BACKUP_ID = /^(\d{8}T\d{6}Z)-([0-9a-f]{8})$/;

/** Largest header accepted (it is a few hundred bytes). */
const MAX_HEADER = 64 * 1024;

export const CATALOG_BACKUP_REASONS = ['scheduled', 'configuration change', 'on demand'] as const;
export type CatalogBackupReason = (typeof CATALOG_BACKUP_REASONS)[number];

export interface CatalogBackupHeader {
  readonly version: number;
  readonly id: string;
  /** ISO 8601 UTC: when the online backup was taken. */
  readonly time: string;
  readonly reason: CatalogBackupReason;
  /** The catalog-backup job that took it (its row in the copy is still "running"), or null. */
  readonly job: number | null;
  /** The Custos version that took it. */
  readonly server: string;
  /** Catalog migrations applied in the copy, oldest first. */
  readonly migrations: readonly string[];
  readonly size: number;
  /** SHA-256 (hex) of the database bytes. */
  readonly sha256: string;
}

export interface CatalogBackup {
  readonly header: CatalogBackupHeader;
  readonly database: Buffer;
}

/** A new id for a backup taken at `time`. */
export function newCatalogBackupId(time: Date): string {
  const compact = time.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
  return `${compact}-${randomBytes(4).toString('hex')}`;
}

export function isCatalogBackupId(id: string): boolean {
  return CATALOG_BACKUP_ID.test(id);
}

/** The time an id names (to the second), as ISO 8601. */
export function catalogBackupTime(id: string): string {
  const t = CATALOG_BACKUP_ID.exec(id)?.[1];
  if (!t) throw new CustosError('usage', `${JSON.stringify(id)} is not a catalog backup id`);
  return `${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)}T${t.slice(9, 11)}:${t.slice(11, 13)}:${t.slice(13, 15)}Z`;
}

/** The pool object name of a backup. */
export function catalogBackupName(id: string): string {
  if (!isCatalogBackupId(id)) throw new CustosError('usage', `${JSON.stringify(id)} is not a catalog backup id (like 20260302T101500Z-1a2b3c4d)`);
  return `${CATALOG_BACKUP_PREFIX}/${id}`;
}

/** The header for database bytes taken now (size and checksum computed here). */
export function catalogBackupHeader(
  fields: { id: string; time: Date; reason: CatalogBackupReason; job: number | null; server: string; migrations: readonly string[] },
  database: Uint8Array,
): CatalogBackupHeader {
  return {
    version: CATALOG_BACKUP_VERSION,
    id: fields.id,
    time: fields.time.toISOString(),
    reason: fields.reason,
    job: fields.job,
    server: fields.server,
    migrations: [...fields.migrations],
    size: database.length,
    sha256: createHash('sha256').update(database).digest('hex'),
  };
}

export function encodeCatalogBackup(codec: BlobCodec, backup: CatalogBackup): Buffer {
  const header = Buffer.from(JSON.stringify(backup.header), 'utf8');
  const prefix = Buffer.alloc(5);
  prefix.writeUInt8(CATALOG_BACKUP_VERSION, 0);
  prefix.writeUInt32LE(header.length, 1);
  return codec.encodeObject('catalog-backup', Buffer.concat([prefix, header, backup.database]));
}

/**
 * Decodes and checks a catalog backup object: authenticity (the codec), the
 * layout, every header field, that the id is `expectedId`, and the database
 * bytes against the header's size and SHA-256.
 */
export function decodeCatalogBackup(codec: BlobCodec, blob: Buffer, expectedId: string): CatalogBackup {
  const what = `catalog backup ${expectedId}`;
  const payload = codec.decodeObject('catalog-backup', blob, what);
  if (payload.length < 5) throw new IntegrityError(`${what}: truncated`);
  const version = payload.readUInt8(0);
  if (version !== CATALOG_BACKUP_VERSION) throw new CustosError('format', `${what}: catalog backup version ${version} is not supported (this Custos reads version ${CATALOG_BACKUP_VERSION})`);
  const headerLength = payload.readUInt32LE(1);
  if (headerLength > MAX_HEADER || 5 + headerLength > payload.length) throw new IntegrityError(`${what}: header length ${headerLength} is out of range`);
  const header = parseHeader(payload.subarray(5, 5 + headerLength).toString('utf8'), what);
  if (header.id !== expectedId) throw new IntegrityError(`${what}: the object names backup ${header.id} (moved or tampered with)`);
  const database = payload.subarray(5 + headerLength);
  if (database.length !== header.size) throw new IntegrityError(`${what}: ${database.length} bytes of database, the header says ${header.size}`);
  if (createHash('sha256').update(database).digest('hex') !== header.sha256) throw new IntegrityError(`${what}: the database does not match its checksum`);
  return { header, database: Buffer.from(database) };
}

function parseHeader(text: string, what: string): CatalogBackupHeader {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new IntegrityError(`${what}: header is not JSON`, { cause: err });
  }
  const bad = (field: string) => new IntegrityError(`${what}: header field ${field} is malformed`);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('(all)');
  const h = v as Record<string, unknown>;
  if (h['version'] !== CATALOG_BACKUP_VERSION) throw bad('version');
  if (typeof h['id'] !== 'string' || !isCatalogBackupId(h['id'])) throw bad('id');
  if (typeof h['time'] !== 'string' || Number.isNaN(Date.parse(h['time'])) || h['time'].length > 40) throw bad('time');
  if (!CATALOG_BACKUP_REASONS.includes(h['reason'] as CatalogBackupReason)) throw bad('reason');
  const job = h['job'];
  if (job !== null && (!Number.isSafeInteger(job) || (job as number) < 1)) throw bad('job');
  if (typeof h['server'] !== 'string' || h['server'].length > 64) throw bad('server');
  const migrations = h['migrations'];
  if (!Array.isArray(migrations) || migrations.length > 10_000 || !migrations.every((m) => typeof m === 'string' && m.length <= 200)) throw bad('migrations');
  if (!Number.isSafeInteger(h['size']) || (h['size'] as number) < 0) throw bad('size');
  if (typeof h['sha256'] !== 'string' || !/^[0-9a-f]{64}$/.test(h['sha256'])) throw bad('sha256');
  return {
    version: CATALOG_BACKUP_VERSION,
    id: h['id'],
    time: h['time'],
    reason: h['reason'] as CatalogBackupReason,
    job: job as number | null,
    server: h['server'],
    migrations: migrations as string[],
    size: h['size'] as number,
    sha256: h['sha256'],
  };
}
