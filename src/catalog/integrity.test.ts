import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, readFile, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Catalog } from './catalog.js';
import { inspectCatalogFile, TABLES_OF_MIGRATION } from './integrity.js';
import { MIGRATIONS } from './migrations.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'custos-catalog-integrity-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function goodCatalog(file: string): Promise<void> {
  const c = await Catalog.openSqlite(file);
  await c.setSetting('x', 'y');
  await c.close();
}

describe('inspectCatalogFile', () => {
  it('knows the tables of every migration that creates one', () => {
    for (const name of Object.keys(TABLES_OF_MIGRATION)) assert.ok(name in MIGRATIONS, name);
  });

  it('missing, empty and sound catalogs', async () => withDir(async (dir) => {
    const file = join(dir, 'catalog.sqlite');
    assert.deepEqual(inspectCatalogFile(file), { state: 'missing' });
    await writeFile(file, '');
    assert.deepEqual(inspectCatalogFile(file), { state: 'empty' });
    await rm(file);
    await goodCatalog(file);
    assert.deepEqual(inspectCatalogFile(file), { state: 'ok', migrations: Object.keys(MIGRATIONS).sort() });
  }));

  it('garbage bytes, a truncated file, a dropped table, a foreign database and a newer catalog are damaged', async () => withDir(async (dir) => {
    const file = join(dir, 'catalog.sqlite');
    await writeFile(file, Buffer.alloc(8192, 0x5a));
    const garbage = inspectCatalogFile(file);
    assert.equal(garbage.state, 'damaged');
    assert.match((garbage as { problem: string }).problem, /not a database/);
    await rm(file);

    await goodCatalog(file);
    const whole = await readFile(file);
    await truncate(file, Math.floor(whole.length / 2) + 100);
    assert.equal(inspectCatalogFile(file).state, 'damaged', 'truncated');
    await rm(file);

    await goodCatalog(file);
    const db = new Database(file);
    db.exec('drop table alerts');
    db.close();
    assert.deepEqual(inspectCatalogFile(file), { state: 'damaged', problem: 'tables missing: alerts' });
    await rm(file);

    const foreign = new Database(file);
    foreign.exec('create table t (x)');
    foreign.close();
    assert.match((inspectCatalogFile(file) as { problem: string }).problem, /no migrations table/);
    await rm(file);

    await goodCatalog(file);
    const newer = new Database(file);
    newer.prepare("insert into kysely_migration (name, timestamp) values ('9999-future', '2030-01-01')").run();
    newer.close();
    const n = inspectCatalogFile(file);
    assert.equal(n.state, 'damaged');
    assert.equal((n as { newer?: boolean }).newer, true);
  }));

  it('a page of a sound catalog overwritten is caught by quick_check', async () => withDir(async (dir) => {
    const file = join(dir, 'catalog.sqlite');
    const c = await Catalog.openSqlite(file);
    for (let i = 0; i < 300; i++) await c.appendJobLog(1, '2026-03-01T00:00:00Z', 'info', `line ${i} ${'x'.repeat(200)}`);
    await c.close();
    const bytes = await readFile(file);
    const pageSize = bytes.readUInt16BE(16) === 1 ? 65536 : bytes.readUInt16BE(16);
    // A b-tree page in the middle of the file, its header overwritten.
    const page = Math.floor(bytes.length / pageSize / 2);
    bytes.fill(0xff, page * pageSize, page * pageSize + 64);
    await writeFile(file, bytes);
    assert.equal(inspectCatalogFile(file).state, 'damaged');
  }));
});
