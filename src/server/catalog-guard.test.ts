import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog } from '../catalog/index.js';
import { ensureAdminToken, guardCatalog } from './catalog-guard.js';
import { hashToken, serverFiles } from './data-dir.js';

const now = new Date('2026-03-02T10:15:00Z');
const clock = { now: () => now };
const quiet = () => undefined;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'custos-guard-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const code = (c: string, re: RegExp) => (e: Error & { code?: string }) => e.code === c && re.test(e.message);

describe('guardCatalog', () => {
  it('a new data directory starts; a used one without a catalog (missing or empty) is refused unless --new-catalog', async () => withDir(async (dir) => {
    const files = serverFiles(dir);
    await guardCatalog(files, { newCatalog: false, now, log: quiet });
    for (const [trace, make] of [
      ['a storage pool', async () => { await mkdir(files.pool); await writeFile(join(files.pool, 'config'), '{}'); }],
      ['a CA', () => writeFile(files.caPem, 'x')],
      ['an admin token', () => writeFile(files.adminToken, 'x')],
      ['an issuance record', () => writeFile(join(dir, 'ca-issued.jsonl'), '')],
    ] as const) {
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir);
      await make();
      await assert.rejects(guardCatalog(files, { newCatalog: false, now, log: quiet }), code('not-found', new RegExp(`is missing, but .* holds ${trace}: the catalog was lost.*custos server catalog restore --data`)));
      await writeFile(files.catalog, '');
      await assert.rejects(guardCatalog(files, { newCatalog: false, now, log: quiet }), code('not-found', /is empty, but/));
      await guardCatalog(files, { newCatalog: true, now, log: quiet });
      assert.ok(!existsSync(files.catalog), 'the empty file is set aside');
      assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('catalog.sqlite')), ['catalog.sqlite.damaged-20260302T101500Z']);
    }
  }));

  it('a damaged catalog is refused and left as it is; --new-catalog sets it (and its WAL) aside', async () => withDir(async (dir) => {
    const files = serverFiles(dir);
    await writeFile(files.catalog, Buffer.alloc(4096, 7));
    await writeFile(`${files.catalog}-wal`, 'wal');
    await assert.rejects(guardCatalog(files, { newCatalog: false, now, log: quiet }), code('integrity', /is damaged \(.*\); the server does not start on it\. Restore the newest catalog backup: custos server catalog restore --data /));
    assert.equal((await readFile(files.catalog)).length, 4096);
    assert.equal(await readFile(`${files.catalog}-wal`, 'utf8'), 'wal', 'inspection changed nothing');
    await guardCatalog(files, { newCatalog: true, now, log: quiet });
    const aside = readdirSync(dir).sort();
    assert.ok(aside.includes('catalog.sqlite.damaged-20260302T101500Z') && aside.includes('catalog.sqlite-wal.damaged-20260302T101500Z'), aside.join(' '));
    assert.ok(!aside.some((n) => /^catalog\.sqlite(-wal|-shm)?$/.test(n)), aside.join(' '));
    assert.equal(await readFile(join(dir, 'catalog.sqlite-wal.damaged-20260302T101500Z'), 'utf8'), 'wal');
  }));
});

describe('ensureAdminToken', () => {
  it('a new catalog on a directory with admin.token keeps that token; without one a token is made', async () => withDir(async (dir) => {
    const files = serverFiles(dir);
    const token = 'ctk_existing-token-0123456789';
    await writeFile(files.adminToken, token + '\n', { mode: 0o600 });
    const c = await Catalog.openSqlite(files.catalog);
    await ensureAdminToken(c, files, clock, quiet);
    assert.equal((await readFile(files.adminToken, 'utf8')).trim(), token, 'not replaced');
    const row = await c.apiTokenByHash(hashToken(token));
    assert.deepEqual([row?.name, row?.role, row?.revoked_at], ['admin', 'admin', null]);
    await ensureAdminToken(c, files, clock, quiet);
    await c.close();

    await rm(files.adminToken);
    await rm(files.catalog);
    const fresh = await Catalog.openSqlite(files.catalog);
    await ensureAdminToken(fresh, files, clock, quiet);
    const made = (await readFile(files.adminToken, 'utf8')).trim();
    assert.match(made, /^ctk_/);
    assert.ok(await fresh.apiTokenByHash(hashToken(made)));
    await fresh.close();
  }));
});
