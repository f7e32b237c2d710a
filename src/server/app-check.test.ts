import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustosError } from '../base/index.js';
import type { AppPointMeta, RecoveryPointRecord } from '../format/index.js';
import { Pool, packName } from '../pool/index.js';
import { craftPoint, type CraftEntry } from '../../test/helpers/craft-point.js';
import { checkAppChain, checkCommitWal, describeFindings, walFilesOf } from './app-check.js';

const SEG = 1 << 20;
const seg = (n: number) => `0000000100000000000000${n.toString(16).toUpperCase().padStart(2, '0')}`;
/** An express full of a cluster with 1 MiB segments: it started in segment 2 and stopped in 3. */
const FULL: AppPointMeta = {
  kind: 'postgres', point: 'full', logMode: 'logs', version: 150018, systemIdentifier: '7716592498700678075', walSegmentSize: SEG, blockSize: 8192, timeline: 1,
  startLsn: '0/200028', stopLsn: '0/300100', startTime: '2026-12-08T00:00:00Z', stopTime: '2026-12-08T00:00:01Z', dataChecksums: false,
  walSegments: [seg(2), seg(3)],
};
const logMeta = (base: string, last: number): AppPointMeta => ({
  ...FULL, point: 'log', base, walEnd: `0/${(last + 1).toString(16).toUpperCase()}00000`, marker: { name: 'custos-job-9', lsn: `0/${last.toString(16).toUpperCase()}00100`, xid: '900', time: '2026-12-08T00:15:00Z' },
  walSegments: [seg(2), seg(last)],
});

async function withPool(fn: (pool: Pool) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'custos-app-check-'));
  try {
    await Pool.init(join(dir, 'pool'));
    await fn(await Pool.open(join(dir, 'pool')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A postgres point's tree: the base's files and the WAL segments given. */
function tree(wal: ReadonlyMap<number, Buffer>): CraftEntry[] {
  return [
    { path: '', type: 'dir' }, { path: 'data', type: 'dir' }, { path: 'data/PG_VERSION', content: '15\n' }, { path: 'data/base', type: 'dir' }, { path: 'data/base/1', content: randomBytes(3000) },
    { path: 'label', type: 'dir' }, { path: 'label/backup_label', content: 'START WAL LOCATION: 0/200028\n' }, { path: 'wal', type: 'dir' },
    ...[...wal].map(([n, data]) => ({ path: `wal/${seg(n)}`, content: data })),
  ];
}

/** The id of the one pack a crafted point's own chunks went to (craftPoint writes one per point). */
function packOf(pool: Pool, p: RecoveryPointRecord): string {
  return pool.index.get(p.manifest.at(-1)!.id)!.pack;
}

test("a commit's WAL is read from its last pages; a gap refuses it", async () => {
  await withPool(async (pool) => {
    const wal = new Map([2, 3, 4].map((n) => [n, randomBytes(SEG)]));
    // Pages of 2 entries: the WAL spans the last two, and the first pages are not read.
    const p = await craftPoint(pool, tree(wal), { pageSizes: [2, 2, 2, 2, 2], app: logMeta('a'.repeat(32), 4) });
    assert.deepEqual((await walFilesOf(pool, p.manifest)).map((f) => [f.name, f.size]), [[seg(2), SEG], [seg(3), SEG], [seg(4), SEG]]);
    await checkCommitWal(pool, logMeta('a'.repeat(32), 4), p.manifest);
    const gap = await craftPoint(pool, tree(new Map([[2, wal.get(2)!], [4, wal.get(4)!]])), { pageSizes: [7] });
    await assert.rejects(checkCommitWal(pool, logMeta('a'.repeat(32), 4), gap.manifest),
      (e: unknown) => e instanceof CustosError && e.code === 'denied' && e.message === `the point's WAL is not continuous: WAL segment ${seg(3)} is missing`);
  });
});

test('the check finds a WAL segment gone from the pool in every point that needs it, and the times no longer recoverable', async () => {
  await withPool(async (pool) => {
    const wal = new Map([2, 3, 4, 5].map((n) => [n, randomBytes(SEG)]));
    const only = (...ns: number[]) => new Map(ns.map((n) => [n, wal.get(n)!]));
    const full = await craftPoint(pool, tree(only(2, 3)), { app: FULL });
    // Segment 4's data goes to a pack of its own (the points after share it), which is then lost.
    const holder = await craftPoint(pool, [{ path: '', type: 'dir' }, { path: 'x', content: wal.get(4)! }]);
    const l1 = await craftPoint(pool, tree(only(2, 3, 4)), { app: logMeta(full.id, 4) });
    const l2 = await craftPoint(pool, tree(only(2, 3, 4, 5)), { app: logMeta(full.id, 5) });
    const points = [full, l1, l2];
    assert.deepEqual((await checkAppChain(pool, points)).findings, [], 'whole before');

    await unlink(pool.store.localPath!(packName(packOf(pool, holder) as never)));
    const check = await checkAppChain(pool, points);
    assert.equal(check.points, 3);
    assert.equal(check.lostChunks, SEG / (64 * 1024), "segment 4's chunks");
    assert.deepEqual(check.findings.map((f) => [f.point, f.problems, f.recoverable, f.replayableTo]), [
      [l1.id, [`WAL segment ${seg(4)} is missing from the pool`], true, '0/400000'],
      [l2.id, [`WAL segment ${seg(4)} is missing from the pool`], true, '0/400000'],
    ]);
    // The lost chunks left the index: the check's express full stores them again if the cluster has them.
    assert.equal(pool.index.has(pool.codec.chunkIdBytes(wal.get(4)!.subarray(0, 64 * 1024)).toString('hex')), false);
    const text = describeFindings(check, points);
    assert.match(text, /^2 of 3 point\(s\) damaged \(0 cannot be recovered at all; the others replay only up to the gap\): the times after \d{4}-\d\d-\d\d \d\d:\d\d UTC until the express full this check makes cannot be recovered to the minute\. First: point [0-9a-f]{32} of .* UTC: WAL segment 000000010000000000000004 is missing from the pool$/);
  });
});

test("a lost base file or manifest page: the point cannot be recovered at all; the points after a whole one are named by the stretch between", async () => {
  await withPool(async (pool) => {
    const wal = new Map([2, 3].map((n) => [n, randomBytes(SEG)]));
    const first = await craftPoint(pool, tree(wal), { app: FULL });
    const second = await craftPoint(pool, tree(wal), { app: FULL });
    const third = await craftPoint(pool, tree(wal), { app: FULL });
    // The second's own pack held its pages and its data/base/1 (random, so its own): gone.
    await unlink(pool.store.localPath!(packName(packOf(pool, second) as never)));
    const check = await checkAppChain(pool, [first, second, third]);
    assert.deepEqual(check.findings.map((f) => [f.point, f.recoverable, f.replayableTo]), [[second.id, false, null]]);
    assert.match(check.findings[0]!.problems[0]!, /^manifest page [0-9a-f]{64} is missing from the pool$/);
    assert.match(describeFindings(check, [first, second, third]), /the times between .* UTC and .* UTC cannot be recovered to the minute/);
  });
});
