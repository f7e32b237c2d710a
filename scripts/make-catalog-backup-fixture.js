#!/usr/bin/env node
// Writes the catalog backup fixture: one `catalog-backup` object (version 1)
// in each format fixture pool (test/fixtures/pool-v1-{plain,encrypted}/catalog/),
// holding a small catalog with known rows. Run once (after `npm run build`) and
// commit the result; never regenerate it — it proves old backups stay restorable.
import { mkdtempSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Catalog } from '../dist/src/catalog/index.js';
import { CATALOG_BACKUP_VERSION, catalogBackupHeader } from '../dist/src/format/index.js';
import { CatalogBackupStore, Pool } from '../dist/src/pool/index.js';

const ID = `20260301T120000Z-0123abcd`;
const fixtures = resolve('test/fixtures');
const work = mkdtempSync(join(tmpdir(), 'custos-catalog-fixture-'));
const db = join(work, 'catalog.sqlite');
const catalog = await Catalog.openSqlite(db);
await catalog.setSetting('fixture', `catalog backup version ${CATALOG_BACKUP_VERSION}`);
await catalog.insertAgent({ name: 'fixture-agent', cert_serial: '0a1b2c', cert_fingerprint: `sha256:${'ab'.repeat(32)}`, hostname: 'fixture.lan', attached_at: '2026-03-01T11:00:00.000Z', last_seen: null, version: null, revoked_at: null });
const copy = join(work, 'copy.sqlite');
await catalog.backupTo(copy);
const migrations = catalog.migrations();
await catalog.close();
const database = readFileSync(copy);
for (const kind of ['plain', 'encrypted']) {
  const dir = join(fixtures, `pool-v1-${kind}`);
  if (existsSync(join(dir, 'catalog', ID))) throw new Error(`${dir} already has the fixture: never regenerate it`);
  const pool = await Pool.open(dir, { keyFile: kind === 'encrypted' ? join(fixtures, 'pool-v1-encrypted.key') : undefined });
  const header = catalogBackupHeader({ id: ID, time: new Date('2026-03-01T12:00:00.000Z'), reason: 'on demand', job: 7, server: '0.1.0', migrations }, database);
  await new CatalogBackupStore(pool).put({ header, database });
  console.log(`${dir}/catalog/${ID}`);
}
rmSync(work, { recursive: true, force: true });
