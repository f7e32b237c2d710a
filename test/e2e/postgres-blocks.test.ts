/**
 * Fixed blocks for relation files, measured on a real pgbench database
 * (docs/design/postgresql.md §4.2): after a light load changes a few pages,
 * a second backup with relation files cut in 8 KiB blocks adds about the
 * pages changed; content-defined 1 MiB chunks add a large part of the
 * database. Cold copies of a stopped cluster, so both see the same bytes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { postgresMissing, startTestCluster, type TestCluster } from '../helpers/postgres.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tree.js';
import { manifestEntries } from '../helpers/backup-harness.js';
import { isRelationFile } from '../../src/format/postgres/data-directory.js';
import { Pool } from '../../src/pool/index.js';
import { runBackupInto } from '../../src/standalone/backup.js';
import type { ManifestPageRef } from '../../src/format/index.js';

describe('relation files in fixed blocks, on a real pgbench database', { skip: postgresMissing() ?? false, timeout: 300_000 }, () => {
  let cluster: TestCluster;
  let pool: Pool;
  const relation = (rel: Buffer) => isRelationFile(rel.toString('utf8'));

  before(async () => {
    cluster = await startTestCluster();
    cluster.pgbench('-i', '-q', '-s', '5');
    cluster.sql('CHECKPOINT');
    cluster.ctl('stop', '-m', 'fast');
    const dir = await makeTempDir('custos-pg-blocks-');
    await Pool.init(join(dir.path, 'pool'));
    pool = await Pool.open(join(dir.path, 'pool'));
  });
  after(async () => {
    cluster?.stop();
    await cleanupTempDirs();
  });

  const backup = async (fixed: boolean, previous: readonly ManifestPageRef[] | null) => {
    const { result, bytesAdded } = await runBackupInto(pool, {
      source: cluster.dataDir,
      previous: previous ? pool.manifest({ manifest: previous } as never) : null,
      excludes: ['postmaster.pid', 'postmaster.opts', 'pg_wal/*', 'pg_stat_tmp/*'],
      workers: 2,
      ...(fixed ? { fixedBlocks: (rel: Buffer) => (relation(rel) ? 8192 : null) } : {}),
    });
    return { manifest: result.manifest, bytesAdded, logical: result.summary.logicalBytes };
  };

  test('a light load: 8 KiB blocks add about the pages changed, 1 MiB content-defined chunks much more; both read the same bytes', async (t) => {
    const fixed1 = await backup(true, null);
    const cdc1 = await backup(false, null);
    // Every relation file's chunks are 8 KiB blocks at multiples of 8 KiB (the last may be shorter).
    const entries = await manifestEntries(pool, fixed1.manifest);
    const relationFiles = entries.filter((e) => e.type === 'file' && relation(e.path));
    assert.ok(relationFiles.length > 100, String(relationFiles.length));
    for (const e of relationFiles) {
      const chunks = e.chunks ?? [];
      chunks.slice(0, -1).forEach((c) => assert.equal(c.length, 8192, e.path.toString()));
      assert.equal(chunks.reduce((n, c) => n + c.length, 0), e.size);
    }
    assert.ok(entries.some((e) => e.path.toString() === 'pg_wal') && !entries.some((e) => e.path.toString().startsWith('pg_wal/')), 'pg_wal kept, empty');

    // A light load: 200 transactions, then a cold copy again.
    cluster.ctl('start');
    cluster.pgbench('-t', '100', '-c', '2', '-n');
    cluster.sql('CHECKPOINT');
    cluster.ctl('stop', '-m', 'fast');
    const fixed2 = await backup(true, fixed1.manifest);
    const cdc2 = await backup(false, cdc1.manifest);
    // What each second backup added: distinct chunks the first did not have, in uncompressed bytes (the design's measure, A3).
    const added = async (first: readonly ManifestPageRef[], second: readonly ManifestPageRef[]) => {
      const had = new Set((await manifestEntries(pool, first)).flatMap((e) => (e.chunks ?? []).map((c) => c.id.toString('hex'))));
      const fresh = new Map<string, number>();
      for (const e of await manifestEntries(pool, second)) for (const c of e.chunks ?? []) if (!had.has(c.id.toString('hex'))) fresh.set(c.id.toString('hex'), c.length);
      return [...fresh.values()].reduce((a, b) => a + b, 0);
    };
    const database = fixed1.logical;
    const fixedAdded = await added(fixed1.manifest, fixed2.manifest);
    const cdcAdded = await added(cdc1.manifest, cdc2.manifest);
    const report = `of ${database} B, 8 KiB blocks added ${fixedAdded} B (${((fixedAdded / database) * 100).toFixed(2)} %; ${fixed2.bytesAdded} B stored), content-defined ${cdcAdded} B (${((cdcAdded / database) * 100).toFixed(2)} %; ${cdc2.bytesAdded} B stored)`;
    assert.ok(fixedAdded * 5 < cdcAdded, report);
    t.diagnostic(report);
    assert.ok(fixedAdded < database * 0.05, report);
    assert.ok(fixed2.bytesAdded < cdc2.bytesAdded, report);
    assert.equal(fixed2.logical, cdc2.logical, 'both read the same data directory');
  });
});
