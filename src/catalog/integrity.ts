/**
 * Is a catalog file fit to start a server on? Checked before the catalog is
 * opened for use (and on a file about to replace it): the file exists and is
 * not empty, SQLite's quick_check passes, the migrations table is there and
 * names only migrations this Custos knows, and every table those migrations
 * create exists. A damaged catalog is never "repaired" by starting on it.
 */
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { errorMessage, isErrno } from '../base/index.js';
import { MIGRATIONS } from './migrations.js';

/** The tables each migration creates (a migration that creates none is absent). */
export const TABLES_OF_MIGRATION: Readonly<Record<string, readonly string[]>> = {
  '0001-initial': [
    'settings', 'api_tokens', 'enrollment_tokens', 'agents', 'protection_groups', 'data_sources',
    'recovery_points', 'jobs', 'job_log', 'alerts', 'pool_directories',
  ],
  '0002-access-and-audit': ['audit_log'],
  '0004-users-and-sessions': ['users', 'sessions'],
  '0005-notifications': ['notification_recipients', 'notification_webhooks', 'notification_outbox'],
  '0006-report-targets': ['report_schedules'],
};

export type CatalogFileState =
  | { readonly state: 'missing' }
  | { readonly state: 'empty' }
  | { readonly state: 'ok'; readonly migrations: readonly string[] }
  /** Damaged, or from a newer Custos (`newer`): either way the server must not start on it. */
  | { readonly state: 'damaged'; readonly problem: string; readonly newer?: boolean };

export function inspectCatalogFile(file: string): CatalogFileState {
  try {
    if (statSync(file).size === 0) return { state: 'empty' };
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return { state: 'missing' };
    return { state: 'damaged', problem: `cannot read it: ${errorMessage(err)}` };
  }
  let db: Database.Database | null = null;
  try {
    // Read-only: inspecting must change nothing (a read-write close would checkpoint or drop the WAL).
    db = new Database(file, { readonly: true, fileMustExist: true });
    return inspectOpen(db);
  } catch (err) {
    return { state: 'damaged', problem: errorMessage(err) };
  } finally {
    db?.close();
  }
}

function inspectOpen(db: Database.Database): CatalogFileState {
  const check = (db.pragma('quick_check(20)') as Array<Record<string, unknown>>).map((r) => String(Object.values(r)[0]));
  if (check.length !== 1 || check[0] !== 'ok') return { state: 'damaged', problem: `SQLite quick_check: ${check.slice(0, 3).join('; ')}` };
  const tables = new Set((db.prepare("select name from sqlite_master where type = 'table'").all() as Array<{ name: unknown }>).map((r) => String(r.name)));
  if (!tables.has('kysely_migration')) return { state: 'damaged', problem: 'it has no migrations table (not a Custos catalog)' };
  const applied = (db.prepare('select name from kysely_migration order by name').all() as Array<{ name: unknown }>).map((r) => String(r.name));
  const unknown = applied.filter((m) => !(m in MIGRATIONS));
  if (unknown.length > 0) return { state: 'damaged', newer: true, problem: `it was written by a newer Custos (migrations ${unknown.join(', ')} are unknown here)` };
  if (!applied.includes('0001-initial')) return { state: 'damaged', problem: 'its first migration was never applied' };
  const missing = applied.flatMap((m) => (TABLES_OF_MIGRATION[m] ?? []).filter((t) => !tables.has(t)));
  if (missing.length > 0) return { state: 'damaged', problem: `tables missing: ${missing.join(', ')}` };
  return { state: 'ok', migrations: applied };
}
