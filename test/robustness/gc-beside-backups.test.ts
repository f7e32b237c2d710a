/**
 * Garbage collection inside the process that also runs backups (the
 * protection server): gc must never delete a chunk a running backup was told
 * the pool holds, nor a pack a backup has written but not indexed yet; and a
 * gc run is bounded and resumable — killed after a step, it leaves the pool
 * whole and the next run continues from the saved cursor.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, utimesSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Pool, gcPool, verifyPool, type GcReport } from '../../src/pool/index.js';
import type { RecoveryPointRecord } from '../../src/format/index.js';
import { craftPoint, type CraftEntry } from '../helpers/craft-point.js';
import { makeTempDir, seededBytes } from '../helpers/tree.js';
import { waitFor } from '../helpers/server.js';

const KiB = 1024;

async function newPool(packSize: number): Promise<{ pool: Pool; dir: string }> {
  const work = await makeTempDir('custos-gc-beside-');
  const dir = join(work.path, 'pool');
  await Pool.init(dir, { packSize });
  return { pool: await Pool.open(dir), dir };
}

function packFiles(dir: string): string[] {
  const out: string[] = [];
  for (const d of readdirSync(join(dir, 'packs'), { withFileTypes: true })) {
    if (d.isDirectory()) for (const f of readdirSync(join(dir, 'packs', d.name))) out.push(join(dir, 'packs', d.name, f));
  }
  return out;
}

/** Makes every pack look older than any grace period. */
function agePacks(dir: string): void {
  const old = new Date(Date.now() - 3 * 3600_000);
  for (const f of packFiles(dir)) utimesSync(f, old, old);
}

/** Every file's content of a point, read back through the pool (throws on a missing or damaged chunk). */
async function readBack(pool: Pool, point: RecoveryPointRecord): Promise<Map<string, Buffer>> {
  await pool.loadIndex();
  const out = new Map<string, Buffer>();
  for await (const e of pool.manifest(point)) {
    if (e.type !== 'file') continue;
    const parts: Buffer[] = [];
    for (const c of e.chunks ?? []) parts.push(await pool.readChunk(c.id));
    out.set(e.path.toString('utf8'), Buffer.concat(parts));
  }
  return out;
}

const files = (prefix: string, n: number, size: number): CraftEntry[] => [
  { path: '', type: 'dir' },
  ...Array.from({ length: n }, (_, i) => ({ path: `${prefix}${String(i).padStart(3, '0')}`, content: seededBytes(`${prefix}-${i}`, size) })),
];

test('chunks a running backup reuses survive gc, though the point that held them was deleted', async () => {
  const { pool, dir } = await newPool(16 * KiB);
  const a = await craftPoint(pool, files('f', 1, 40 * KiB));
  const fileChunk = pool.codec.chunkIdBytes(seededBytes('f-0', 40 * KiB)).toString('hex');
  const reused = [fileChunk, ...a.manifest.map((p) => p.id)];

  // A backup asks about its chunks: the pool has them all, so it will reference them without sending any.
  const backup = pool.chunkWriter();
  for (const id of reused) assert.equal(backup.has(id), true);
  await pool.deletePoint(a.id);
  agePacks(dir);
  await gcPool(pool, { graceMs: 0, deleteRepacked: true });

  // The backup commits its point (the same data); every chunk must still be there.
  const b: RecoveryPointRecord = { ...a, id: randomBytes(16).toString('hex') as RecoveryPointRecord['id'] };
  await pool.savePoint(b);
  backup.close();
  const got = await readBack(await Pool.open(dir), b);
  assert.deepEqual(got.get('f000'), seededBytes('f-0', 40 * KiB));
  assert.equal((await verifyPool(await Pool.open(dir))).ok, true);

  // Once nothing references them any more, the next gc frees them.
  await pool.deletePoint(b.id);
  agePacks(dir);
  const r = await gcPool(pool, { graceMs: 0, deleteRepacked: true });
  assert.ok(r.packsDeleted >= 1, JSON.stringify(r));
  assert.equal(pool.index.has(fileChunk), false);
});

test('after gc has decided a chunk is dead, no backup is told the pool holds it', async () => {
  const { pool, dir } = await newPool(16 * KiB);
  const a = await craftPoint(pool, files('g', 2, 20 * KiB));
  const chunkId = pool.codec.chunkIdBytes(seededBytes('g-1', 20 * KiB)).toString('hex');
  await pool.deletePoint(a.id);
  agePacks(dir);
  const r = await gcPool(pool, { graceMs: 0, deleteRepacked: true });
  assert.ok(r.bytesFreed > 0, JSON.stringify(r));
  const backup = pool.chunkWriter();
  assert.equal(backup.has(chunkId), false, 'a deleted chunk must be sent again, not referenced');
  backup.close();
});

test('packs a running backup has written but not indexed yet are not leftovers', async () => {
  const { pool, dir } = await newPool(8 * KiB);
  await pool.loadIndex();
  const backup = pool.chunkWriter();
  const data = [0, 1, 2].map((i) => seededBytes(`pending-${i}`, 12 * KiB));
  const ids = data.map((d) => pool.codec.chunkIdBytes(d));
  data.forEach((d, i) => backup.add(ids[i]!, pool.codec.encodeChunk(ids[i]!, d), d.length));
  // Each chunk fills a pack: three packs are written; none is indexed before flush().
  await waitFor('three durable packs', async () => packFiles(dir).length === 3, 10_000, 20);
  assert.equal(readdirSync(join(dir, 'index')).length, 0);
  agePacks(dir);
  const r = await gcPool(pool, { graceMs: 0, deleteRepacked: true });
  assert.equal(r.leftoversDeleted, 0, JSON.stringify(r));
  await backup.flush();
  backup.close();
  for (const [i, id] of ids.entries()) assert.deepEqual(await pool.readChunk(id), data[i]);
});

test('gc is bounded per run and resumes after a kill where it stopped; remaining points stay whole', async () => {
  const { pool, dir } = await newPool(8 * KiB);
  const doomed = await craftPoint(pool, files('d', 30, 10 * KiB), { sourcePath: '/doomed' });
  const kept = await craftPoint(pool, files('k', 6, 10 * KiB), { sourcePath: '/kept' });
  const expected = await readBack(pool, kept);
  await pool.deletePoint(doomed.id);
  agePacks(dir);
  const before = packFiles(dir).length;

  // Run 1: at most 12 packs, in steps of 4; "killed" after its first durable step.
  let cursor: string | null = null;
  const killed = new Error('killed');
  await assert.rejects(
    gcPool(pool, { graceMs: 0, maxPacks: 12, stepPacks: 4, deleteRepacked: true, onStep: async (c) => { cursor = c; throw killed; } }),
    (err) => err === killed,
  );
  assert.ok(cursor, 'the first step saved a cursor');
  const afterKill = packFiles(dir).length;
  assert.ok(afterKill < before, `the first step freed packs (${before} → ${afterKill})`);

  // A restart: a fresh process opens the pool; it is whole.
  const reopened = await Pool.open(dir);
  const v = await verifyPool(reopened);
  assert.equal(v.ok, true, JSON.stringify(v));
  assert.deepEqual(await readBack(reopened, (await reopened.listPoints()).find((p) => p.id === kept.id)!), expected);

  // Later runs continue after the cursor, each within its bound, until the pass ends.
  const runs: GcReport[] = [];
  for (let i = 0; i < 20; i++) {
    const startAfter: string | null = cursor;
    const r = await gcPool(reopened, { graceMs: 0, maxPacks: 12, stepPacks: 4, deleteRepacked: true, startAfter, onStep: async (c) => { cursor = c; } });
    runs.push(r);
    assert.ok(r.packsExamined <= 12, JSON.stringify(r));
    if (cursor === null) break;
  }
  assert.equal(cursor, null, 'the pass reached the end');
  assert.ok(runs.length >= 2, `bounded: ${before} packs took ${runs.length + 1} runs`);
  // The first run after the restart began after the saved cursor: it did not examine the packs before it.
  assert.ok(runs[0]!.packsExamined <= before - 4, JSON.stringify(runs[0]));

  const final = await Pool.open(dir);
  const points = await final.listPoints();
  assert.deepEqual(points.map((p) => p.id), [kept.id]);
  assert.deepEqual(await readBack(final, points[0]!), expected);
  const fv = await verifyPool(final);
  assert.equal(fv.ok, true, JSON.stringify(fv));
  // What is left is the kept point's data: far fewer packs than before.
  assert.ok(packFiles(dir).length <= 10, `${packFiles(dir).length} packs left of ${before}`);
});
