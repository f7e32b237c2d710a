/**
 * Before the server opens its catalog: refuse a damaged one, and refuse to
 * start with a missing or empty one on a data directory that has been used
 * (a pool, a CA, an admin token or an issuance record are there) — that is
 * a lost catalog, and starting fresh would forget every agent and recovery
 * point. `--new-catalog` is the operator saying they really want an empty
 * one; even then the existing admin token is kept, never replaced.
 */
import { existsSync } from 'node:fs';
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { CustosError, type Clock } from '../base/index.js';
import { inspectCatalogFile, type Catalog } from '../catalog/index.js';
import { fsyncDir } from '../pool/index.js';
import { hashToken, newApiToken, writeFileAtomic, type ServerFiles } from './data-dir.js';
import { issuedFile } from './issued-certificates.js';

/** What of a used data directory is there (empty when it has never been used). */
export function dataDirectoryTraces(files: ServerFiles): string[] {
  const traces: string[] = [];
  if (existsSync(join(files.pool, 'config'))) traces.push('a storage pool');
  if (existsSync(files.caPem)) traces.push('a CA');
  if (existsSync(files.adminToken)) traces.push('an admin token');
  if (existsSync(issuedFile(files.dir))) traces.push('an issuance record');
  return traces;
}

function restoreHint(files: ServerFiles): string {
  return `custos server catalog restore --data ${files.dir}`;
}

/** A time for file names: 20260302T101500Z. */
export function fileTime(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

/**
 * Moves the catalog file and its WAL and shared-memory files aside as
 * `*.damaged-TIME` (or `*.replaced-TIME` for a sound catalog a restore
 * replaces) — never deletes them; the name the catalog went to.
 */
export async function setCatalogAside(files: ServerFiles, now: Date, why: 'damaged' | 'replaced' = 'damaged'): Promise<string | null> {
  const suffix = `.${why}-${fileTime(now)}`;
  let moved: string | null = null;
  for (const f of [files.catalog, `${files.catalog}-wal`, `${files.catalog}-shm`]) {
    if (!existsSync(f)) continue;
    await rename(f, f + suffix);
    if (f === files.catalog) moved = f + suffix;
  }
  fsyncDir(files.dir);
  return moved;
}

/** Throws the refusal when the server must not start on the catalog as it is; sets a damaged one aside with --new-catalog. */
export async function guardCatalog(files: ServerFiles, options: { newCatalog: boolean; now: Date; log: (m: string, level?: string) => void }): Promise<void> {
  const found = inspectCatalogFile(files.catalog);
  if (found.state === 'ok') return;
  if (found.state === 'damaged') {
    if (found.newer) throw new CustosError('format', `the catalog ${files.catalog} cannot be used: ${found.problem}; run that Custos version`);
    if (!options.newCatalog) {
      throw new CustosError('integrity', `the catalog ${files.catalog} is damaged (${found.problem}); the server does not start on it. Restore the newest catalog backup: ${restoreHint(files)}`);
    }
    const aside = await setCatalogAside(files, options.now);
    options.log(`--new-catalog: the damaged catalog was moved to ${aside}; starting with an empty catalog`, 'warning');
    return;
  }
  const traces = dataDirectoryTraces(files);
  if (traces.length === 0) return; // a new data directory
  if (!options.newCatalog) {
    throw new CustosError('not-found', `the catalog ${files.catalog} is ${found.state === 'missing' ? 'missing' : 'empty'}, but ${files.dir} already holds ${traces.join(', ')}: the catalog was lost, and starting with an empty one would forget every agent and recovery point. Restore it: ${restoreHint(files)} (or, to start with an empty catalog anyway: custos server start --new-catalog)`);
  }
  if (found.state === 'empty') await setCatalogAside(files, options.now);
  options.log(`--new-catalog: starting with an empty catalog on a data directory that holds ${traces.join(', ')}; agents must be attached again (or run custos server resync --data ${files.dir} with the server stopped)`, 'warning');
}

/**
 * The admin API token. A new catalog on a new data directory gets a new one,
 * written to DIR/admin.token; a new catalog on a data directory that already
 * has admin.token keeps that token (registered again), never replaces it.
 */
export async function ensureAdminToken(catalog: Catalog, files: ServerFiles, clock: Clock, log: (m: string) => void): Promise<void> {
  if (await catalog.setting('admin_token_created')) return;
  const now = clock.now().toISOString();
  if (existsSync(files.adminToken)) {
    const token = (await readFile(files.adminToken, 'utf8')).trim();
    if (token.length < 16 || token.length > 512) throw new CustosError('format', `${files.adminToken} does not hold an API token; move it away to have a new one made`);
    if (!(await catalog.apiTokenByHash(hashToken(token)))) {
      await catalog.addApiToken({ name: 'admin', role: 'admin', tokenHash: hashToken(token), now });
    }
    await catalog.setSetting('admin_token_created', now);
    log(`the existing admin token in ${files.adminToken} is kept`);
    return;
  }
  const token = newApiToken();
  await catalog.addApiToken({ name: 'admin', role: 'admin', tokenHash: hashToken(token), now });
  await writeFileAtomic(files.adminToken, token + '\n', 0o600);
  await catalog.setSetting('admin_token_created', now);
  log(`admin token written to ${files.adminToken}`);
}
