/**
 * An express full of a real PostgreSQL 15 cluster under pgbench load, into
 * a real pool, restored and started as a new cluster (docs/design/
 * postgresql.md §4): the restored cluster reaches consistency from the
 * copied WAL, pgbench's balances agree across its four tables (a torn or
 * missing page would break them), the row committed before the backup is
 * there and the one committed after it is not; recovered with --paused it
 * waits read-only at the target; what a base backup leaves
 * out is not in the point; relation files are in 8 KiB blocks.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { postgresMissing, PG_BIN, startTestCluster, type TestCluster } from '../helpers/postgres.js';
import { freePort } from '../helpers/server.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tree.js';
import { manifestEntries } from '../helpers/backup-harness.js';
import { expressFull, type ExpressFullResult } from '../../src/agent/apps/postgres/express-full.js';
import { prepareAsOwner } from '../../src/agent/apps/postgres/recovered-cluster.js';
import { runRestore } from '../../src/agent/index.js';
import { Pool } from '../../src/pool/index.js';
import { runBackupInto } from '../../src/standalone/backup.js';

describe('express full of a real PostgreSQL cluster under load, restored and started', { skip: postgresMissing() ?? false, timeout: 300_000 }, () => {
  let cluster: TestCluster;
  let pool: Pool;
  let work: string;
  const started: string[] = [];
  const asOwner = (bin: string, args: string[]) => {
    const r = spawnSync(join(PG_BIN, bin), args, { uid: cluster.owner.uid, gid: cluster.owner.gid, cwd: '/', encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `${bin} ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };

  before(async () => {
    cluster = await startTestCluster();
    cluster.pgbench('-i', '-q', '-s', '5');
    cluster.sql("CREATE TABLE marker (name text PRIMARY KEY); INSERT INTO marker VALUES ('before')");
    work = (await makeTempDir('custos-pg-full-')).path;
    await Pool.init(join(work, 'pool'));
    pool = await Pool.open(join(work, 'pool'));
  });
  after(async () => {
    for (const dataDir of started) spawnSync(join(PG_BIN, 'pg_ctl'), ['-D', dataDir, 'stop', '-m', 'immediate'], { uid: cluster.owner.uid, gid: cluster.owner.gid, cwd: '/' });
    cluster?.stop();
    await cleanupTempDirs();
  });

  test('restores to a cluster that starts, consistent, with what was committed before the backup and not after', async () => {
    const load: ChildProcess = spawn(join(PG_BIN, 'pgbench'), ['-h', cluster.socketDir, '-p', String(cluster.port), '-n', '-c', '2', '-T', '30', 'postgres'], {
      uid: cluster.owner.uid, gid: cluster.owner.gid, cwd: '/', stdio: 'ignore',
    });
    await new Promise((r) => setTimeout(r, 1000)); // the load is running when the backup starts
    const logs: string[] = [];
    let full: ExpressFullResult;
    try {
      full = await expressFull({
        target: { socketDir: cluster.socketDir, port: cluster.port, uid: cluster.owner.uid, gid: cluster.owner.gid, user: 'postgres' },
        dataDirectory: cluster.dataDir,
        stageDir: join(work, 'stage'),
        label: 'custos test',
        blockSize: 8192,
        expectedSystemIdentifier: null,
        log: (level, m) => logs.push(`${level}: ${m}`),
        backup: async (items, fixedBlocks) => (await runBackupInto(pool, { source: cluster.dataDir, items, fixedBlocks, workers: 2 })).result,
      });
    } finally {
      load.kill('SIGINT');
    }
    cluster.sql("INSERT INTO marker VALUES ('after')");
    assert.equal(full.backup.errors.length, 0, JSON.stringify(full.backup.errors));
    assert.equal(full.meta.systemIdentifier, cluster.sql('SELECT system_identifier FROM pg_control_system()').trim());
    assert.equal(full.meta.timeline, 1);
    assert.match(logs.join('\n'), /backup started at .* on timeline 1/);
    assert.match(logs.join('\n'), /backup stopped at .*; WAL 0{7}1\w+ to 0{7}1\w+ copied/);

    const entries = await manifestEntries(pool, full.backup.manifest);
    const paths = entries.map((e) => e.path.toString());
    assert.deepEqual(paths.filter((p) => !p.includes('/')), ['', 'data', 'label', 'wal'], 'one virtual root: data, label, wal');
    assert.ok(paths.includes('label/backup_label'));
    assert.ok(paths.includes('data/pg_wal') && !paths.some((p) => p.startsWith('data/pg_wal/')), 'pg_wal kept empty');
    assert.ok(!paths.includes('data/postmaster.pid') && !paths.includes('data/postmaster.opts'));
    const wal = paths.filter((p) => p.startsWith('wal/'));
    assert.equal(wal[0], `wal/${full.meta.walSegments[0]}`);
    assert.equal(wal.at(-1), `wal/${full.meta.walSegments[1]}`);
    const relation = entries.find((e) => e.path.toString().startsWith('data/base/') && e.size > 1_000_000)!;
    assert.ok(relation.chunks!.slice(0, -1).every((c) => c.length === 8192), 'relation files in 8 KiB blocks');

    // Recovered to a folder as the recovery job does: the tree, then prepareRecoveredCluster (label, recovery settings, notes).
    const recoverTo = async (name: string, paused: boolean) => {
      const target = join(work, name);
      const result = await runRestore({
        manifest: pool.manifest({ manifest: full.backup.manifest } as never),
        target,
        keys: pool.keys,
        compressionLevel: pool.config.compression.level,
        source: { locate: (id) => pool.localChunk(id) },
      });
      assert.equal(result.errors.length, 0, JSON.stringify(result.errors));
      chownSync(work, cluster.owner.uid, cluster.owner.gid);
      const dataDir = await prepareAsOwner(target, { target: { kind: 'immediate' }, paused, segmentBytes: 16 << 20, owner: cluster.owner, describe: `the test's point (${name})` });
      assert.match(readFileSync(join(target, 'RECOVERY.txt'), 'utf8'), paused ? /pauses, read-only/ : /becomes a primary/);
      const socketDir = join(target, 'sock');
      mkdirSync(socketDir);
      chownSync(socketDir, cluster.owner.uid, cluster.owner.gid);
      const port = await freePort();
      started.push(dataDir);
      try {
        asOwner('pg_ctl', ['-D', dataDir, '-w', '-t', '60', '-l', join(target, 'log'), '-o', `-p ${port} -k ${socketDir} -c listen_addresses=''`, 'start']);
      } catch (e) {
        throw new Error(`${(e as Error).message}\nthe restored cluster's log:\n${readFileSync(join(target, 'log'), 'utf8').slice(-3000)}`);
      }
      return (q: string) => asOwner('psql', ['-X', '-q', '-A', '-t', '-h', socketDir, '-p', String(port), '-d', 'postgres', '-c', q]).trim();
    };
    const sql = await recoverTo('restored', false);
    for (let i = 0; i < 100 && sql('SELECT pg_is_in_recovery()') === 't'; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(sql('SELECT pg_is_in_recovery()'), 'f');
    assert.equal(sql('SELECT string_agg(name, \',\' ORDER BY name) FROM marker'), 'before');
    assert.equal(sql('SELECT count(*) FROM pgbench_accounts'), '500000');
    const [accounts, branches, tellers, history] = sql(
      'SELECT (SELECT sum(abalance) FROM pgbench_accounts) || \' \' || (SELECT sum(bbalance) FROM pgbench_branches) || \' \' || (SELECT sum(tbalance) FROM pgbench_tellers) || \' \' || (SELECT coalesce(sum(delta), 0) FROM pgbench_history)',
    ).split(' ');
    assert.ok(Number(sql('SELECT count(*) FROM pgbench_history')) > 0, 'the load ran before the backup ended');
    assert.deepEqual([accounts, branches, tellers], [history, history, history], 'pgbench balances agree');

    // --paused: it stops at the target, read-only, for a DBA to look at.
    const paused = await recoverTo('paused', true);
    for (let i = 0; i < 100 && paused('SELECT pg_get_wal_replay_pause_state()') !== 'paused'; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(paused('SELECT pg_get_wal_replay_pause_state()'), 'paused');
    assert.equal(paused('SELECT pg_is_in_recovery()'), 't');
    assert.equal(paused("SELECT string_agg(name, ',' ORDER BY name) FROM marker"), 'before');
  });
});
