/**
 * The catalog backup fixture (scripts/make-catalog-backup-fixture.js, made
 * once, never regenerated): a version 1 `catalog-backup` object in each
 * format fixture pool must stay readable and restorable by every later
 * Custos; and a backup that was altered or moved to another id is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Catalog, inspectCatalogFile } from '../../src/catalog/index.js';
import { CatalogBackupStore, Pool } from '../../src/pool/index.js';
import { cleanupTempDirs, makeTempDir, REPO_ROOT } from '../helpers/tree.js';

const fixtures = join(REPO_ROOT, 'test/fixtures');
const ID = '20260301T120000Z-0123abcd';

for (const kind of ['plain', 'encrypted'] as const) {
  test(`a version 1 catalog backup in a ${kind} pool is listed, read and restores to a working catalog`, async (t) => {
    t.after(cleanupTempDirs);
    const work = (await makeTempDir('custos-catalog-fixture-')).path;
    const dir = join(work, 'pool');
    cpSync(join(fixtures, `pool-v1-${kind}`), dir, { recursive: true });
    const pool = await Pool.open(dir, { keyFile: kind === 'encrypted' ? join(fixtures, 'pool-v1-encrypted.key') : undefined });
    const store = new CatalogBackupStore(pool);
    assert.deepEqual((await store.list()).map((b) => [b.id, b.time]), [[ID, '2026-03-01T12:00:00Z']]);
    assert.equal(await store.resolve('latest'), ID);
    assert.equal(await store.resolve('20260301'), ID);
    await assert.rejects(store.resolve('20270101'), (e: Error & { code?: string }) => e.code === 'not-found' && /no catalog backup 20270101/.test(e.message));

    const b = await store.read(ID);
    assert.deepEqual({ ...b.header, sha256: undefined, size: undefined }, {
      version: 1, id: ID, time: '2026-03-01T12:00:00.000Z', reason: 'on demand', job: 7, server: '0.1.0', migrations: ['0001-initial'], sha256: undefined, size: undefined,
    });
    const file = join(work, 'catalog.sqlite');
    writeFileSync(file, b.database);
    assert.equal(inspectCatalogFile(file).state, 'ok');
    const catalog = await Catalog.openSqlite(file);
    try {
      assert.equal(await catalog.setting('fixture'), 'catalog backup version 1');
      assert.equal((await catalog.agent('fixture-agent'))?.cert_serial, '0a1b2c');
    } finally {
      await catalog.close();
    }

    // One byte changed anywhere: refused. The same object under another id: refused.
    const object = join(dir, 'catalog', ID);
    const bytes = readFileSync(object);
    const altered = Buffer.from(bytes);
    altered[altered.length - 40] ^= 0x01;
    writeFileSync(object, altered);
    await assert.rejects(store.read(ID), (e: Error & { code?: string }) => e.code === 'integrity');
    writeFileSync(object, bytes);
    const other = '20260302T120000Z-0123abcd';
    renameSync(object, join(dir, 'catalog', other));
    await assert.rejects(store.read(other), (e: Error & { code?: string }) => e.code === 'integrity' && /moved or tampered/.test(e.message));
  });
}
