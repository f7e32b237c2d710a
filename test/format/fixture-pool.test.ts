/**
 * The format fixture: pools written by format version 1 (test/fixtures,
 * made once by scripts/make-fixture.js and never regenerated) must stay
 * readable, verifiable and restorable bit for bit by every later Custos.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool, verifyPool } from '../../src/pool/index.js';
import { restoreFromPool } from '../../src/standalone/restore.js';
import { cleanupTempDirs, diffDigests, makeTempDir, REPO_ROOT, treeDigest } from '../helpers/tree.js';

const fixtures = join(REPO_ROOT, 'test/fixtures');
const expected = new Map(Object.entries(JSON.parse(readFileSync(join(fixtures, 'pool-v1-expected.json'), 'utf8')) as Record<string, string>));

for (const kind of ['plain', 'encrypted'] as const) {
  test(`a version 1 ${kind} pool restores bit for bit`, async (t) => {
    t.after(cleanupTempDirs);
    const work = (await makeTempDir('custos-fixture-')).path;
    const pool = join(work, 'pool');
    cpSync(join(fixtures, `pool-v1-${kind}`), pool, { recursive: true });
    const keyFile = kind === 'encrypted' ? join(fixtures, 'pool-v1-encrypted.key') : undefined;

    const opened = await Pool.open(pool, { keyFile });
    assert.equal(opened.config.version, 1);
    assert.deepEqual(opened.config.chunker, { minSize: 262144, avgSize: 1048576, maxSize: 4194304 });
    assert.equal(opened.config.encryption !== null, kind === 'encrypted');
    const points = await opened.listPoints();
    assert.equal(points.length, 1);
    assert.equal(points[0]!.summary.filesNew, 4);
    const report = await verifyPool(opened);
    assert.equal(report.ok, true, JSON.stringify(report));
    assert.ok(report.chunks >= 4);

    const target = join(work, 'restored');
    const r = await restoreFromPool(points[0]!.id, target, { pool, keyFile });
    assert.deepEqual(r.errors, []);
    assert.deepEqual(diffDigests(expected, await treeDigest(target, { root: false })), []);
  });
}
