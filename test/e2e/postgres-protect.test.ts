/**
 * A PostgreSQL cluster protected by express fulls through a real server and
 * a real agent (docs/design/postgresql.md; the cluster is a real PostgreSQL
 * 15, initdb as postgres in a temporary directory, its own port and socket
 * directory): the group's replica is an express full made at once; a point
 * made on demand after a marker row adds little to the pool; recovered to a
 * folder on the agent, the cluster starts, promotes, and holds exactly the
 * rows committed before its point; recovered `--paused`, it waits read-only
 * at the point. What is not built for this kind (synchronization, the
 * check, browsing, items, the original location, the server's folders) is
 * refused with the reason, as are targets that are not new or empty.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { PG_BIN, postgresMissing, startTestCluster, type TestCluster } from '../helpers/postgres.js';
import { attachAgent, freePort, listPoints, startServer, stopAllProcesses, waitFor, type ApiJob, type TestServer } from '../helpers/server.js';
import { cleanupTempDirs, describeCli, makeTempDir } from '../helpers/tree.js';
import { addConsoleUsers, launchBrowser, signInWindow } from '../helpers/browser.js';

describe('server mode: a PostgreSQL cluster protected by express fulls and recovered to a folder', { skip: postgresMissing() ?? false, timeout: 600_000 }, () => {
  let server: TestServer;
  let cluster: TestCluster;
  let source: string;
  let work: string;
  const started: string[] = [];

  before(async () => {
    cluster = await startTestCluster();
    cluster.sql('CREATE TABLE marker (name text PRIMARY KEY, at timestamptz DEFAULT now())');
    cluster.pgbench('-i', '-s', '2', '-q');
    server = await startServer();
    const db1 = await attachAgent(server, 'db1');
    await db1.start(true, ['--pg-socket-dir', cluster.socketDir]);
    source = `db1:postgres:${cluster.port}`;
    // Recovered clusters are made ready by a child running as postgres: their parent must be reachable by it.
    work = (await makeTempDir('custos-e2e-pgprotect-')).path;
    chmodSync(work, 0o755);
  });

  after(async () => {
    for (const dataDir of started) spawnSync(join(PG_BIN, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', 'stop'], { uid: cluster.owner.uid, gid: cluster.owner.gid, cwd: '/' });
    await stopAllProcesses();
    cluster?.stop();
    await cleanupTempDirs();
  });

  const job = async (args: string[]): Promise<ApiJob> => {
    const r = await server.cli([...args, '--wait', '--json', '--timeout', '4m'], { timeoutMs: 300_000 });
    assert.equal(r.code, 0, describeCli(args, r));
    return JSON.parse(r.stdout) as ApiJob;
  };

  /** Starts a recovered data directory as postgres on a free port; SQL against it. */
  const startRecovered = async (target: string): Promise<(q: string) => string> => {
    const dataDir = join(target, 'data');
    const socketDir = join(target, 'sock');
    mkdirSync(socketDir);
    chownSync(socketDir, cluster.owner.uid, cluster.owner.gid);
    const port = await freePort();
    const asOwner = (bin: string, args: string[]) => {
      const r = spawnSync(join(PG_BIN, bin), args, { uid: cluster.owner.uid, gid: cluster.owner.gid, cwd: '/', encoding: 'utf8', timeout: 120_000, env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' } });
      if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')}: ${r.stderr}${r.stdout}`);
      return r.stdout;
    };
    started.push(dataDir);
    try {
      asOwner('pg_ctl', ['-D', dataDir, '-w', '-t', '60', '-l', join(target, 'log'), '-o', `-p ${port} -k ${socketDir} -c listen_addresses=''`, 'start']);
    } catch (e) {
      throw new Error(`${(e as Error).message}\nthe recovered cluster's log:\n${existsSync(join(target, 'log')) ? readFileSync(join(target, 'log'), 'utf8').slice(-3000) : '(none)'}`);
    }
    return (q) => asOwner('psql', ['-X', '-q', '-A', '-t', '-h', socketDir, '-p', String(port), '-d', 'postgres', '-c', q]).trim();
  };

  test('the replica is an express full; a point on demand adds little; recovered to a folder it starts with exactly the rows before its point', async () => {
    const g = await server.cli(['group', 'create', 'databases', '--source', source, '--points', '23:00', '--json']);
    assert.equal(g.code, 0, describeCli(['group', 'create'], g));
    const src = await waitFor('the express full that creates the replica', async () => {
      const s = await server.cliJson<{ replicaState: string; kind: string; path: string; recoveryPoints: number }>(['source', 'show', source, '--json']);
      if (s.replicaState === 'ok') return s;
      const failed = (await server.cliJson<ApiJob[]>(['job', 'list', '--json', '--source', source])).find((j) => j.state === 'failed');
      if (failed) assert.fail(`the express full failed: ${JSON.stringify(failed)}`);
      return undefined;
    }, 180_000);
    assert.deepEqual([src.kind, src.path, src.recoveryPoints], ['postgres', String(cluster.port), 1]);
    const jobs = await server.cliJson<ApiJob[]>(['job', 'list', '--json', '--source', source]);
    assert.deepEqual(jobs.map((j) => j.kind), ['recovery-point'], 'no synchronization: the replica is made by an express full');
    cluster.sql("INSERT INTO marker (name) VALUES ('before')");
    const second = await job(['point', 'create', source]);
    assert.equal(second.state, 'succeeded');
    const result = second.result as { point: string; bytesAdded: number; app: { startLsn: string; stopLsn: string } };
    assert.match(result.app.stopLsn, /^[0-9A-F]+\/[0-9A-F]+$/);
    cluster.sql("INSERT INTO marker (name) VALUES ('after')");
    const points = await listPoints(server, source);
    assert.equal(points.length, 2);
    // One row and a checkpoint's worth of pages changed: the second full adds a small part of the first (8 KiB blocks).
    assert.ok(points[1]!.bytesAdded < points[0]!.bytesAdded / 4, `${points[1]!.bytesAdded} bytes added by the second express full, ${points[0]!.bytesAdded} by the first`);

    const target = join(work, 'recovered');
    const rec = await job(['recover', source, '--point', result.point, '--to', `db1:${target}`]);
    assert.equal(rec.state, 'succeeded', JSON.stringify(rec));
    assert.match(readFileSync(join(target, 'RECOVERY.txt'), 'utf8'), /becomes a primary/);
    const sql = await startRecovered(target);
    await waitFor('promotion', async () => sql('SELECT pg_is_in_recovery()') === 'f', 60_000, 200);
    assert.equal(sql("SELECT string_agg(name, ',' ORDER BY name) FROM marker"), 'before');
    assert.equal(sql('SELECT count(*) FROM pgbench_accounts'), '200000');
  });

  test('recovered --paused at a time, the cluster waits read-only at the newest point before it', async () => {
    const points = await listPoints(server, source);
    const target = join(work, 'paused');
    const at = new Date(Date.parse(points[1]!.time) + 1000).toISOString();
    const rec = await job(['recover', source, '--at', at, '--to', `db1:${target}`, '--paused']);
    assert.equal(rec.state, 'succeeded', JSON.stringify(rec));
    const sql = await startRecovered(target);
    await waitFor('the pause at the point', async () => sql('SELECT pg_get_wal_replay_pause_state()') === 'paused', 60_000, 200);
    assert.equal(sql('SELECT pg_is_in_recovery()'), 't');
    assert.equal(sql("SELECT string_agg(name, ',' ORDER BY name) FROM marker"), 'before');
  });

  test('log synchronizations: each is a recovery point; a time between two rows recovers exactly the rows before it, a log point by itself all before its marker', async () => {
    const slotRestart = () => cluster.sql("SELECT slot_name || ' ' || restart_lsn FROM pg_replication_slots WHERE slot_name ~ '^custos_[0-9a-f]{12}$'").trim();
    const [slot, before] = slotRestart().split(' ');
    assert.match(slot ?? '', /^custos_[0-9a-f]{12}$/, 'the express full made the data source its slot');
    cluster.sql("INSERT INTO marker (name) VALUES ('m1')");
    // The database server's clock between the two commits, 10 ms clear of each (recovery_target_time compares commit times).
    cluster.sql('SELECT pg_sleep(0.01)');
    const between = cluster.sql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')");
    cluster.sql('SELECT pg_sleep(0.01)');
    cluster.sql("INSERT INTO marker (name) VALUES ('m2')");
    const sync = await job(['sync', source]);
    assert.equal(sync.state, 'succeeded', JSON.stringify(sync));
    const result = sync.result as { point: string; recoveryPoint: boolean; bytesAdded: number; app: { point: string; marker: string; walEnd: string } };
    assert.equal(result.recoveryPoint, true, 'each log synchronization is a recovery point');
    assert.equal(result.app.point, 'log');
    assert.match(result.app.marker, /^custos-job-\d+$/);
    assert.match(result.app.walEnd, /^[0-9A-F]+\/[0-9A-F]+$/);
    const points = await listPoints(server, source);
    assert.equal(points.at(-1)!.id, result.point);
    const [, after] = slotRestart().split(' ');
    assert.notEqual(after, before, 'the slot let go of what the pool holds');
    // A log point holds the base's data again by reference: it adds the WAL, not the cluster.
    assert.ok(points.at(-1)!.bytesAdded < points[0]!.bytesAdded / 4, `${points.at(-1)!.bytesAdded} bytes added by the synchronization`);

    const atTime = join(work, 'at-time');
    const rec = await job(['recover', source, '--at', between, '--to', `db1:${atTime}`]);
    assert.equal(rec.state, 'succeeded', JSON.stringify(rec));
    assert.match(readFileSync(join(atTime, 'data', 'postgresql.auto.conf'), 'utf8'), /recovery_target_time = /);
    const sql = await startRecovered(atTime);
    await waitFor('promotion', async () => sql('SELECT pg_is_in_recovery()') === 'f', 60_000, 200);
    assert.equal(sql("SELECT string_agg(name, ',' ORDER BY name) FROM marker"), 'after,before,m1');

    const whole = join(work, 'log-point');
    const rec2 = await job(['recover', source, '--point', result.point, '--to', `db1:${whole}`]);
    assert.equal(rec2.state, 'succeeded', JSON.stringify(rec2));
    assert.match(readFileSync(join(whole, 'data', 'postgresql.auto.conf'), 'utf8'), /recovery_target_name = 'custos-job-\d+'/);
    const sql2 = await startRecovered(whole);
    await waitFor('promotion', async () => sql2('SELECT pg_is_in_recovery()') === 'f', 60_000, 200);
    assert.equal(sql2("SELECT string_agg(name, ',' ORDER BY name) FROM marker"), 'after,before,m1,m2');
  });

  test("a cluster whose configuration is kept outside its data directory (Debian's layout): the point holds it, the recovered copy starts with it", async () => {
    // Its socket beside the first one's: the agent looks in that directory (--pg-socket-dir).
    const debian = await startTestCluster({}, { configOutside: true, socketDir: cluster.socketDir });
    try {
      debian.sql("CREATE TABLE marker (name text PRIMARY KEY); INSERT INTO marker VALUES ('etc')");
      const id = `db1:postgres:${debian.port}`;
      const g = await server.cli(['group', 'update', 'databases', '--add-source', id]);
      assert.equal(g.code, 0, describeCli(['group', 'update'], g));
      const p = await job(['point', 'create', id]);
      assert.equal(p.state, 'succeeded', JSON.stringify(p));
      const log = await server.cli(['job', 'show', String(p.id)]);
      assert.match(log.stdout, /the configuration in .*\/etc \(pg_hba\.conf, pg_ident\.conf, postgresql\.conf, conf\.d\/\) is in this point as conf\//);
      const target = join(work, 'debian');
      const rec = await job(['recover', id, '--point', String((p.result as { point: string }).point), '--to', `db1:${target}`]);
      assert.equal(rec.state, 'succeeded', JSON.stringify(rec));
      assert.equal(readFileSync(join(target, 'conf', 'conf.d', 'custos-test.conf'), 'utf8'), "work_mem = '5MB'\n");
      const conf = readFileSync(join(target, 'data', 'postgresql.conf'), 'utf8');
      assert.match(conf, new RegExp(`^# custos: data_directory = '${debian.dataDir}'$`, 'm'));
      assert.match(conf, /^# custos: hba_file = /m);
      const sql = await startRecovered(target);
      await waitFor('promotion', async () => sql('SELECT pg_is_in_recovery()') === 'f', 60_000, 200);
      assert.equal(sql('SELECT name FROM marker'), 'etc');
      await server.cli(['group', 'update', 'databases', '--remove-source', id]);
      await waitFor('its slot dropped', async () => debian.sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name ~ '^custos_'").trim() === '0', 60_000, 200);
      assert.equal(sql('SHOW work_mem'), '5MB', 'conf.d is read from the recovered data directory');
      assert.equal(sql('SHOW data_directory'), join(target, 'data'));
    } finally {
      debian.stop();
    }
  });

  test('the console recovers a cluster whole, into a folder, paused on request; it offers neither browsing nor the original location', async () => {
    await addConsoleUsers(server, 'correct horse battery staple', [['ada', 'admin']]);
    const browser = await launchBrowser();
    try {
      const page = await signInWindow(browser, server.url, 'ada', 'correct horse battery staple');
      await page.getByRole('link', { name: 'Recovery', exact: true }).click();
      await page.getByRole('link', { name: source }).click();
      await page.getByRole('heading', { name: `Recover from ${source}` }).waitFor();
      await page.getByText('This is a PostgreSQL cluster').waitFor();
      assert.equal(await page.getByRole('button', { name: 'Browse' }).count(), 0);
      await browser.screenshot(page, 'recovery-postgres');
      await page.getByRole('button', { name: 'Recover the whole point…' }).click();
      assert.equal(await page.getByLabel(/The original location/).count(), 0);
      assert.equal(await page.getByLabel(/Download an archive/).count(), 0);
      const target = join(work, 'from-console');
      await page.getByRole('textbox', { name: 'Folder on the computer' }).fill(target);
      await page.getByLabel(/Stop at the point, read-only/).check();
      await page.getByRole('button', { name: 'Recover', exact: true }).click();
      await page.locator('[data-recovery-job][data-state="succeeded"]').waitFor({ timeout: 120_000 });
      assert.match(readFileSync(join(target, 'data', 'postgresql.auto.conf'), 'utf8'), /recovery_target_action = 'pause'/);
    } finally {
      await browser.close();
    }
  });

  test('what is not built for this kind, and targets that are not new or empty, are refused with the reason', async () => {
    const refused = async (args: string[], message: RegExp) => {
      const r = await server.cli(args);
      assert.notEqual(r.code, 0, describeCli(args, r));
      assert.match(r.stderr, message, describeCli(args, r));
    };
    const [point] = await listPoints(server, source);
    await refused(['browse', source], /points are clusters, recovered whole/);
    await refused(['recover', source, '--point', point!.id, '--to', `db1:${work}/x`, '--item', 'data/PG_VERSION'], /recovered whole \(a cluster\), not by items/);
    await refused(['recover', source, '--point', point!.id, '--to', `db1:${work}/x`, '--conflict', 'skip'], /conflict and security do not apply/);

    // A folder that holds something, and one whose path a restore_command cannot hold: the job fails before writing.
    const full = join(work, 'occupied');
    mkdirSync(full);
    writeFileSync(join(full, 'keep.txt'), 'mine\n');
    for (const [target, why] of [[full, /is not empty: recover the cluster into a new or empty folder/], [join(work, "it's"), /holds a quote/]] as const) {
      const r = await server.cli(['recover', source, '--point', point!.id, '--to', `db1:${target}`, '--wait', '--json', '--timeout', '2m'], { timeoutMs: 150_000 });
      assert.notEqual(r.code, 0);
      assert.match(r.stdout + r.stderr, why, describeCli(['recover', target], r));
    }
    assert.equal(readFileSync(join(full, 'keep.txt'), 'utf8'), 'mine\n');
    assert.ok(!existsSync(join(work, "it's")));
  });

  test('a WAL segment removed from the pool is found by the consistency check, which names the times lost and protects from a new express full', async () => {
    const packsDir = join(server.dataDir, 'pool', 'packs');
    const packs = () => new Set(readdirSync(packsDir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name)));
    // More than a segment of WAL in each synchronization, so each writes whole segments of its own.
    const fill = (table: string) => cluster.sql(`CREATE TABLE ${table} AS SELECT g AS i, repeat('x', 100) AS pad FROM generate_series(1, 150000) g`);
    fill('filler1');
    const before = packs();
    const a = await job(['sync', source]);
    assert.equal(a.state, 'succeeded', JSON.stringify(a));
    const written = [...packs()].filter((f) => !before.has(f));
    assert.ok(written.length > 0, 'the synchronization wrote packs');
    fill('filler2');
    const b = await job(['sync', source]);
    assert.equal(b.state, 'succeeded', JSON.stringify(b));
    // The first synchronization's packs are lost: its own WAL, which the second's point holds by reference.
    for (const f of written) rmSync(f);

    const check = await job(['check', source]);
    assert.equal(check.state, 'succeeded', JSON.stringify(check));
    const shown = await server.cli(['job', 'show', String(check.id)]);
    assert.match(shown.stdout, /WAL segment [0-9A-F]{24} (is missing from the pool|can be read only to byte \d+)/, shown.stdout);
    assert.match(shown.stdout, new RegExp(`point ${(b.result as { point: string }).point} of .*\\(it replays up to [0-9A-F]+/[0-9A-F]+\\)`), shown.stdout);
    const alerts = await server.cliJson<Array<{ kind: string; subject: string; message: string }>>(['alert', 'list', '--json']);
    const gap = alerts.find((x) => x.kind === 'log-gap' && x.subject === source);
    assert.ok(gap, JSON.stringify(alerts));
    assert.match(gap.message, /point\(s\) damaged .* the times after .* UTC until the express full this check makes cannot be recovered to the minute/);
    // The check made an express full: the newest point, whole, and synchronization goes on from it.
    const points = await listPoints(server, source);
    assert.equal(points.at(-1)!.id, (check.result as { point: string }).point);
    assert.equal((check.result as { app: { point: string } }).app.point, 'full');
    const next = await job(['sync', source]);
    assert.equal(next.state, 'succeeded', JSON.stringify(next));
    const src = await server.cliJson<{ replicaState: string }>(['source', 'show', source, '--json']);
    assert.equal(src.replicaState, 'ok');
  });

  test('latest: the log not yet synchronized is read first — from the running cluster, and after the cluster was killed from what its pg_wal holds', async () => {
    const rows = (sql: (q: string) => string) => sql("SELECT string_agg(name, ',' ORDER BY name) FROM marker WHERE name IN ('live', 'last')");
    cluster.sql("INSERT INTO marker (name) VALUES ('live')");
    const live = join(work, 'latest-live');
    const r1 = await job(['recover', source, '--at', 'latest', '--to', `db1:${live}`]);
    assert.equal(r1.state, 'succeeded', JSON.stringify(r1));
    const sql1 = await startRecovered(live);
    await waitFor('promotion', async () => sql1('SELECT pg_is_in_recovery()') === 'f', 60_000, 200);
    assert.equal(rows(sql1), 'live', 'the running cluster synchronized its log for the latest');

    // The last commit, then the postmaster killed: its socket, its lock and its pg_wal stay behind.
    cluster.sql("INSERT INTO marker (name) VALUES ('last')");
    const pid = Number(readFileSync(join(cluster.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(pid, 'SIGKILL');
    await waitFor('the postmaster gone', async () => !existsSync(`/proc/${pid}`), 30_000, 100);
    try {
      const dead = join(work, 'latest-dead');
      const r2 = await job(['recover', source, '--at', 'latest', '--to', `db1:${dead}`]);
      assert.equal(r2.state, 'succeeded', JSON.stringify(r2));
      const shown = await server.cli(['job', 'show', String(r2.id)]);
      assert.match(shown.stdout, /read \d+ segment\(s\) of WAL from .*pg_wal through [0-9A-F]+\/[0-9A-F]+/, shown.stdout);
      assert.match(readFileSync(join(dead, 'data', 'postgresql.auto.conf'), 'utf8'), /recovery_target_timeline = 'latest'/);
      assert.doesNotMatch(readFileSync(join(dead, 'data', 'postgresql.auto.conf'), 'utf8'), /recovery_target_(name|time|lsn) /);
      const sql2 = await startRecovered(dead);
      await waitFor('promotion', async () => sql2('SELECT pg_is_in_recovery()') === 'f', 60_000, 200);
      assert.equal(rows(sql2), 'last,live', 'the last commit before the kill is recovered');
    } finally {
      cluster.ctl('start');
    }
    // Started again, the cluster writes over the torn end of what the tail read: synchronization goes on from the point before the tail.
    const again = await job(['sync', source]);
    assert.equal(again.state, 'succeeded', JSON.stringify(again));
  });

  test('recovered to a new instance on another port: started, promoted, with the rows of its point; the port taken refuses the next', async () => {
    // Where the recovered instance's socket goes (the compiled-in default; the package makes it).
    if (!existsSync('/var/run/postgresql')) {
      mkdirSync('/var/run/postgresql', { mode: 0o2775 });
      chownSync('/var/run/postgresql', cluster.owner.uid, cluster.owner.gid);
    }
    cluster.sql("INSERT INTO marker (name) VALUES ('instance')");
    const sync = await job(['sync', source]);
    assert.equal(sync.state, 'succeeded', JSON.stringify(sync));
    const point = (sync.result as { point: string }).point;
    const port = await freePort();
    const dir = join(work, 'instance');
    started.push(join(dir, 'data'));
    const rec = await job(['recover', source, '--point', point, '--to', `db1:postgres:${port}`, '--data-dir', dir]);
    assert.equal(rec.state, 'succeeded', JSON.stringify(rec));
    const result = rec.result as { instance: { port: number; state: string; socketDir: string }; dataDirectory: string };
    assert.deepEqual([result.instance.port, result.instance.state], [port, 'promoted']);
    assert.equal(result.dataDirectory, join(dir, 'data'));
    assert.match(readFileSync(join(dir, 'data', 'postgresql.auto.conf'), 'utf8'), new RegExp(`^port = ${port}  # custos`, 'm'));
    assert.match(readFileSync(join(dir, 'RECOVERY.txt'), 'utf8'), new RegExp(`started it as a new instance on port ${port}`));
    const psql = (q: string) => {
      const r = spawnSync(join(PG_BIN, 'psql'), ['-X', '-q', '-A', '-t', '-h', result.instance.socketDir, '-p', String(port), '-d', 'postgres', '-c', q], { uid: cluster.owner.uid, gid: cluster.owner.gid, cwd: '/', encoding: 'utf8', env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' } });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.trim();
    };
    assert.equal(psql('SELECT pg_is_in_recovery()'), 'f');
    assert.equal(psql("SELECT count(*) FROM marker WHERE name = 'instance'"), '1');
    // The port is taken now: a second recovery to it fails before it writes.
    const again = join(work, 'instance-2');
    const r = await server.cli(['recover', source, '--point', point, '--to', `db1:postgres:${port}`, '--data-dir', again, '--wait', '--json', '--timeout', '2m'], { timeoutMs: 150_000 });
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, new RegExp(`port ${port} is taken`), describeCli(['recover', 'again'], r));
    assert.ok(!existsSync(again));
    // A new instance needs its folder; a folder of files is not an instance.
    const bad = await server.cli(['recover', source, '--point', point, '--to', `db1:postgres:${port}`]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /needs --data-dir/);
  });

  test('a DBA (recovery-operator scoped to this cluster and a folder) lists and recovers only there; elsewhere, an instance or another source is refused', async () => {
    const mine = join(work, 'dba');
    const t = await server.cli(['token', 'create', '--name', 'dba', '--role', 'recovery-operator', '--scope', `source:${source}`, '--scope', `target:db1:${mine}`]);
    assert.equal(t.code, 0, describeCli(['token', 'create'], t));
    const token = t.stdout.trim();
    const as = (args: string[]) => server.cli(args, { token, timeoutMs: 150_000 });
    const listed = JSON.parse((await as(['source', 'list', '--json'])).stdout) as Array<{ id: string }>;
    assert.deepEqual(listed.map((x) => x.id), [source]);
    const points = JSON.parse((await as(['point', 'list', source, '--json'])).stdout) as Array<{ id: string }>;
    assert.ok(points.length > 0);
    const point = points.at(-1)!.id;
    const ok = await as(['recover', source, '--point', point, '--to', `db1:${mine}/monday`, '--wait', '--json', '--timeout', '2m']);
    assert.equal(ok.code, 0, describeCli(['recover', 'in scope'], ok));
    assert.ok(existsSync(join(mine, 'monday', 'data', 'PG_VERSION')));
    const refused = async (args: string[], why: RegExp) => {
      const r = await as(args);
      assert.notEqual(r.code, 0, describeCli(args, r));
      assert.match(r.stderr, why, describeCli(args, r));
    };
    await refused(['recover', source, '--point', point, '--to', `db1:${work}/elsewhere`], /outside this recovery-operator's target scopes/);
    await refused(['recover', source, '--point', point, '--to', `db1:${mine}-x/y`], /outside this recovery-operator's target scopes/);
    await refused(['recover', source, '--point', point, '--to', `db1:postgres:${await freePort()}`, '--data-dir', `${mine}/instance`], /a new instance on db1 port \d+ is outside/);
    await refused(['point', 'list', 'db1:fs:/etc', '--json'], /not found|no data source|does not exist/);
    assert.ok(!existsSync(join(work, 'elsewhere')));
  });

  test("a cluster whose log another tool takes is protected by express fulls only, and an alert says why (one log consumer)", async () => {
    const archived = await startTestCluster({ archive_mode: 'on', archive_command: "'/bin/true'" }, { socketDir: cluster.socketDir });
    const id = `db1:postgres:${archived.port}`;
    try {
      const g = await server.cli(['group', 'update', 'databases', '--add-source', id]);
      assert.equal(g.code, 0, describeCli(['group', 'update'], g));
      const alert = await waitFor('the log-consumer alert', async () => {
        const alerts = await server.cliJson<Array<{ kind: string; subject: string; message: string; severity: string }>>(['alert', 'list', '--json']);
        return alerts.find((a) => a.kind === 'log-consumer' && a.subject === id);
      }, 120_000);
      assert.equal(alert.severity, 'warning');
      assert.match(alert.message, /protected by express fulls only, so it can be recovered only to them: .*archive_command is '\/bin\/true'/);
      const refused = await server.cli(['sync', id]);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /protected by express fulls only/);
      assert.equal(archived.sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name ~ '^custos_'").trim(), '0', 'no slot of ours beside the other consumer');
      const r = await server.cli(['group', 'update', 'databases', '--remove-source', id]);
      assert.equal(r.code, 0, describeCli(['group', 'update'], r));
    } finally {
      archived.stop();
    }
  });

  test('recovered over itself (--to original): stopped, its data directory kept aside, the point in its place, started and promoted; a check then protects it again', async () => {
    cluster.sql("INSERT INTO marker (name) VALUES ('orig-before')");
    const sync = await job(['sync', source]);
    assert.equal(sync.state, 'succeeded', JSON.stringify(sync));
    cluster.sql("INSERT INTO marker (name) VALUES ('orig-after')");
    const rec = await job(['recover', source, '--point', (sync.result as { point: string }).point, '--to', 'original']);
    assert.equal(rec.state, 'succeeded', JSON.stringify(rec));
    assert.deepEqual((rec.result as { instance: { state: string } }).instance.state, 'promoted');
    // The same cluster, on its port and socket, as the point had it.
    assert.equal(cluster.sql('SELECT pg_is_in_recovery()').trim(), 'f');
    assert.equal(cluster.sql("SELECT string_agg(name, ',' ORDER BY name) FROM marker WHERE name LIKE 'orig-%'").trim(), 'orig-before');
    const keptAside = `${cluster.dataDir}.custos-${rec.id}`;
    assert.ok(existsSync(join(keptAside, 'PG_VERSION')), 'the old data directory is kept aside');
    // Its slot stayed with the old data directory: the replica is inconsistent until a check makes a new express full.
    const alerts = await server.cliJson<Array<{ kind: string; subject: string }>>(['alert', 'list', '--json']);
    assert.ok(alerts.some((a) => a.kind === 'replica-inconsistent' && a.subject === source), JSON.stringify(alerts));
    const check = await job(['check', source]);
    assert.equal(check.state, 'succeeded', JSON.stringify(check));
    await waitFor('the replica consistent again', async () => (await server.cliJson<{ replicaState: string }>(['source', 'show', source, '--json'])).replicaState === 'ok', 60_000);
    const next = await job(['sync', source]);
    assert.equal(next.state, 'succeeded', JSON.stringify(next));
  });

  test("leaving protection drops the data source's replication slot, so the cluster keeps no WAL for it", async () => {
    const slots = () => cluster.sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name ~ '^custos_[0-9a-f]{12}$'").trim();
    assert.equal(slots(), '1');
    const g = await server.cli(['group', 'delete', 'databases', '--keep-points']);
    assert.equal(g.code, 0, describeCli(['group', 'delete'], g));
    await waitFor('the slot dropped', async () => slots() === '0', 60_000, 200);
    const alerts = await server.cliJson<Array<{ kind: string; subject: string }>>(['alert', 'list', '--json']);
    assert.ok(!alerts.some((a) => a.kind === 'log-slot-kept' && a.subject === source), JSON.stringify(alerts));
  });
});
