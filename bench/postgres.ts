/**
 * `npm run bench:postgres`: Custos's express full of a PostgreSQL cluster
 * against pgBackRest's full backup, same cluster, same run
 * (docs/design/postgresql.md §10.3, issue 13 §5). A pgbench database
 * (scale 100 by default, about 1.5 GB); both tools with zstd level 3 and
 * two processes (Custos: two worker threads).
 *
 * 1. First full: Custos express full (agent side, into a local pool) and
 *    pgBackRest `--type=full`: time and repository size.
 * 2. pgbench writes for a while (rate-limited: `-R` transactions a second,
 *    as §10.3 proposes; full speed changes nearly every page in minutes).
 * 3. Second full: time, and what each adds to its repository, against the
 *    database's size.
 * 4. Recovery: the second backup restored and started until promoted.
 *
 * Options: --scale N (100), --minutes M (10), --rate TPS (5), --keep.
 * Needs root, PostgreSQL 15 and pgbackrest (apt-get install pgbackrest).
 */
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { duBytes } from './exec.js';
import { freePort } from './services.js';
import { PG_BIN, postgresMissing, startTestCluster, type TestCluster } from './postgres-cluster.js';
import { expressFull } from '../src/agent/apps/postgres/express-full.js';
import { prepareAsOwner } from '../src/agent/apps/postgres/recovered-cluster.js';
import { runRestore } from '../src/agent/index.js';
import { Pool } from '../src/pool/index.js';
import { runBackupInto } from '../src/standalone/backup.js';

const log = (m: string): void => console.log(`[bench:postgres] ${m}`);

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} takes a number`);
  return v;
}

function asOwner(c: TestCluster, cmd: string, args: string[], env: Record<string, string> = {}): string {
  const r = spawnSync(cmd, args, { uid: c.owner.uid, gid: c.owner.gid, cwd: '/', encoding: 'utf8', env: { PATH: '/usr/bin:/bin', LC_ALL: 'C', ...env }, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function timed<T>(what: string, f: () => Promise<T> | T): Promise<{ value: T; seconds: number }> {
  const t0 = process.hrtime.bigint();
  const value = await f();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  log(`${what}: ${seconds.toFixed(1)} s`);
  return { value, seconds };
}

const mb = (b: number): string => `${(b / 1e6).toFixed(1)} MB`;

async function main(): Promise<void> {
  const missing = postgresMissing();
  if (missing) throw new Error(missing);
  if (spawnSync('pgbackrest', ['version']).status !== 0) throw new Error('pgbackrest is not installed (apt-get install pgbackrest)');
  const scale = option('scale', 100);
  const minutes = option('minutes', 10);
  const rate = option('rate', 5);
  const cluster = await startTestCluster({ fsync: 'on', max_wal_size: "'4GB'" });
  const work = mkdtempSync('/var/tmp/custos-bench-pg-');
  chownSync(work, cluster.owner.uid, cluster.owner.gid);
  const started: string[] = [];
  try {
    await timed(`pgbench -i -s ${scale}`, () => cluster.pgbench('-i', '-q', '-s', String(scale)));
    cluster.sql('CHECKPOINT');
    const dbBytes = Number(cluster.sql('SELECT sum(pg_database_size(oid)) FROM pg_database').trim());
    log(`databases: ${mb(dbBytes)}`);

    // pgBackRest: its repository, log and lock paths the owner's.
    const repo = join(work, 'pgbackrest');
    for (const d of [repo, join(repo, 'log'), join(repo, 'lock'), join(repo, 'spool')]) {
      mkdirSync(d, { recursive: true });
      chownSync(d, cluster.owner.uid, cluster.owner.gid);
    }
    const conf = join(repo, 'pgbackrest.conf');
    writeFileSync(conf, [
      '[global]', `repo1-path=${repo}/repo`, 'compress-type=zst', 'compress-level=3', 'process-max=2', 'start-fast=y', `log-path=${repo}/log`,
      `lock-path=${repo}/lock`, `spool-path=${repo}/spool`, 'log-level-console=warn', 'repo1-retention-full=10', '',
      '[bench]', `pg1-path=${cluster.dataDir}`, `pg1-socket-path=${cluster.socketDir}`, `pg1-port=${cluster.port}`, '',
    ].join('\n'));
    chownSync(conf, cluster.owner.uid, cluster.owner.gid);
    const pgbr = (args: string[]) => asOwner(cluster, 'pgbackrest', [`--config=${conf}`, '--stanza=bench', ...args]);
    // pgBackRest's backups need its WAL archive (archive-push), as it is run in production; Custos's express full does not use it.
    cluster.sql(`ALTER SYSTEM SET archive_mode = on`);
    cluster.sql(`ALTER SYSTEM SET archive_command = 'pgbackrest --config=${conf} --stanza=bench archive-push %p'`);
    cluster.ctl('restart', '-m', 'fast');
    pgbr(['stanza-create']);
    pgbr(['check']);

    const pool = join(work, 'pool');
    await Pool.init(pool);
    const openPool = await Pool.open(pool);
    await openPool.loadIndex();
    const target = { socketDir: cluster.socketDir, port: cluster.port, uid: cluster.owner.uid, gid: cluster.owner.gid, user: 'postgres' };
    const custosFull = async (n: number) => {
      const before = await duBytes(pool);
      const r = await timed(`Custos express full ${n}`, () => expressFull({
        target, dataDirectory: cluster.dataDir, stageDir: join(work, 'stage'), label: `custos bench ${n}`, blockSize: 8192, expectedSystemIdentifier: null, log: () => undefined,
        // No previous manifest: an express full reads every file (express-full.ts says why); chunks the pool holds are not stored again.
        backup: async (items, fixedBlocks) => (await runBackupInto(openPool, { source: cluster.dataDir, items, fixedBlocks, workers: 2 })).result,
      }));
      const added = (await duBytes(pool)) - before;
      log(`  pool +${mb(added)} (${((added / dbBytes) * 100).toFixed(2)} % of the databases)`);
      return { seconds: r.seconds, added, manifest: r.value.backup.manifest };
    };
    const pgbrBackup = async (type: 'full' | 'incr', n: number) => {
      const before = await duBytes(join(repo, 'repo'));
      const r = await timed(`pgBackRest ${type} ${n}`, () => pgbr([`--type=${type}`, 'backup']));
      const added = (await duBytes(join(repo, 'repo'))) - before;
      log(`  repository +${mb(added)} (${((added / dbBytes) * 100).toFixed(2)} % of the databases)`);
      return { seconds: r.seconds, added };
    };

    const c1 = await custosFull(1);
    const p1 = await pgbrBackup('full', 1);
    log(`load: pgbench -R ${rate} for ${minutes} min`);
    await new Promise<void>((resolve, reject) => {
      const child = spawn(join(PG_BIN, 'pgbench'), ['-h', cluster.socketDir, '-p', String(cluster.port), '-n', '-c', '2', '-R', String(rate), '-T', String(Math.round(minutes * 60)), 'postgres'], {
        uid: cluster.owner.uid, gid: cluster.owner.gid, cwd: '/', stdio: 'ignore',
      });
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`pgbench ended ${code}`))));
    });
    cluster.sql('CHECKPOINT');
    const c2 = await custosFull(2);
    const p2full = await pgbrBackup('full', 2);
    const p2incr = await pgbrBackup('incr', 3);

    // Recovery of the newest backup, until the restored cluster is promoted.
    const restoreRoot = join(work, 'restored');
    const recoverCustos = await timed('Custos recovery (restore + replay until promoted)', async () => {
      await runRestore({
        manifest: openPool.manifest({ manifest: c2.manifest } as never), target: restoreRoot, keys: openPool.keys, compressionLevel: openPool.config.compression.level, workers: 2,
        source: { locate: (id) => openPool.localChunk(id) },
      });
      const data = await prepareAsOwner(restoreRoot, { target: { kind: 'immediate' }, paused: false, segmentBytes: 16 << 20, owner: cluster.owner, describe: 'the bench' });
      chownSync(restoreRoot, cluster.owner.uid, cluster.owner.gid);
      await startAndPromote(cluster, data, join(restoreRoot, 'postgresql.log'), started);
    });
    const pgbrData = join(work, 'pgbr-restored');
    mkdirSync(pgbrData, { mode: 0o700 });
    chownSync(pgbrData, cluster.owner.uid, cluster.owner.gid);
    const recoverPgbr = await timed('pgBackRest recovery (restore + replay until promoted)', async () => {
      pgbr([`--pg1-path=${pgbrData}`, '--type=immediate', '--target-action=promote', 'restore']);
      await startAndPromote(cluster, pgbrData, join(work, 'pgbr-restored.log'), started);
    });

    const lines = [
      '',
      `PostgreSQL ${cluster.sql('SHOW server_version').trim()}, pgbench scale ${scale}: ${mb(dbBytes)} of databases; load between the fulls: -R ${rate} for ${minutes} min`,
      '| step | Custos | pgBackRest | ratio | target |',
      '| --- | ---: | ---: | ---: | ---: |',
      `| first full, time | ${c1.seconds.toFixed(1)} s | ${p1.seconds.toFixed(1)} s | ${(c1.seconds / p1.seconds).toFixed(2)} | ≤ 0.8 |`,
      `| first full, stored | ${mb(c1.added)} | ${mb(p1.added)} | ${(c1.added / p1.added).toFixed(2)} | |`,
      `| second full, time | ${c2.seconds.toFixed(1)} s | ${p2full.seconds.toFixed(1)} s (full), ${p2incr.seconds.toFixed(1)} s (incr) | ${(c2.seconds / p2full.seconds).toFixed(2)} | ≤ 0.8 |`,
      `| second full, added | ${mb(c2.added)} (${((c2.added / dbBytes) * 100).toFixed(2)} %) | ${mb(p2full.added)} (full), ${mb(p2incr.added)} (incr) | | ≤ 10 % of the database |`,
      `| recovery until promoted | ${recoverCustos.seconds.toFixed(1)} s | ${recoverPgbr.seconds.toFixed(1)} s | ${(recoverCustos.seconds / recoverPgbr.seconds).toFixed(2)} | ≤ 1.0 |`,
    ];
    console.log(lines.join('\n'));
  } finally {
    for (const d of started) spawnSync(join(PG_BIN, 'pg_ctl'), ['-D', d, 'stop', '-m', 'immediate'], { uid: cluster.owner.uid, gid: cluster.owner.gid, cwd: '/' });
    cluster.stop();
    if (!process.argv.includes('--keep') && existsSync(work)) rmSync(work, { recursive: true, force: true });
  }
}

async function startAndPromote(c: TestCluster, dataDir: string, logFile: string, started: string[]): Promise<void> {
  const port = await freePort();
  started.push(dataDir);
  asOwner(c, join(PG_BIN, 'pg_ctl'), ['-D', dataDir, '-w', '-t', '600', '-l', logFile, '-o', `-p ${port} -k ${c.socketDir} -c listen_addresses=''`, 'start']);
  for (;;) {
    const r = asOwner(c, join(PG_BIN, 'psql'), ['-X', '-A', '-t', '-h', c.socketDir, '-p', String(port), '-d', 'postgres', '-c', 'SELECT pg_is_in_recovery()']).trim();
    if (r === 'f') return;
    await new Promise((res) => setTimeout(res, 50));
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : String(e));
  process.exit(1);
});
