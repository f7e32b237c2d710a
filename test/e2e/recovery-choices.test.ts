/**
 * What a recovery names, end to end in server mode (a real protection server
 * in this process, a real agent process, `custos` commands), as issue 11's
 * new user met it:
 *
 * - `--item` is a path inside the data source, absolute (under its path) or
 *   relative to it; one the point does not hold is refused before the job is
 *   queued (not found, status 4, nothing written), and the agent refuses it
 *   too when a job names it anyway;
 * - `--point` takes a prefix of 4+ hex digits; an ambiguous one is refused,
 *   listing the candidates;
 * - a target that is a file, or lies below one, fails with one clear line
 *   (bad-target) and nothing written;
 * - a synchronization's point says it is replica-only, `point list --all`
 *   shows it, and `source list` keeps the newest recovery point and the last
 *   synchronization apart;
 * - `--to original` recovers to the data source's own agent and path, is
 *   refused when that agent is gone, and meets the system-target guard.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTempDirs, describeCli, makeTempDir, writeTree } from '../helpers/tree.js';
import { attachAgent, stopAllProcesses, type ApiJob, type ApiPoint, type ApiSource, type TestAgent } from '../helpers/server.js';
import { protectAndWaitFirstPoint, startInProcessServer, waitJobRow, type InProcessServer } from '../helpers/in-process-server.js';

const T1 = Date.UTC(2026, 1, 20, 9, 30, 0, 123);

describe('recovery choices', { timeout: 300_000 }, () => {
  let s: InProcessServer;
  let agent: TestAgent;
  let work: string;
  let src: string;
  let source: string;
  let point: ApiPoint;

  before(async () => {
    work = (await makeTempDir('custos-e2e-choices-')).path;
    s = await startInProcessServer(join(work, 'server'));
    agent = await attachAgent(s.server, 'c1');
    await agent.start();
    src = join(work, 'src');
    await writeTree(src, { 'a.txt': 'alpha\n', 'sub/b.txt': 'bravo\n' }, { mtimeMs: T1 });
    source = `c1:fs:${src}`;
    // Scheduled recovery points only three days from now: none comes between the ones the tests make.
    const day = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'][(new Date().getDay() + 3) % 7]!;
    point = await protectAndWaitFirstPoint(s, 'choices', source, ['--days', day]);
  });

  after(async () => {
    await stopAllProcesses();
    await s?.close();
    await cleanupTempDirs();
  });

  const recoveryJobs = async () => s.server.cliJson<ApiJob[]>(['job', 'list', '--kind', 'recovery', '--json', '--limit', '1000']);
  const recover = (args: string[]) => s.server.cli(['recover', source, ...args], { timeoutMs: 150_000 });

  test('an item the point does not hold is refused before the job is queued: status 4, the item and the point named, nothing written', async () => {
    const before = (await recoveryJobs()).length;
    const to = join(work, 'r-missing');
    for (const items of [['nope/none'], ['a.txt', 'nope/none'], [join(src, 'no-such.txt')]]) {
      const args = ['--point', point.id, '--to', `c1:${to}`, ...items.flatMap((i) => ['--item', i]), '--wait'];
      const r = await recover(args);
      assert.equal(r.code, 4, describeCli(args, r));
      const missing = items.filter((i) => i !== 'a.txt').join(', ');
      assert.equal(r.stderr, `custos: not in recovery point ${point.id} (${point.time}): ${missing}; nothing was recovered (an item is a path inside ${src}, absolute or relative to it)\n`);
    }
    assert.equal((await recoveryJobs()).length, before, 'no recovery job was queued');
    assert.equal(existsSync(to), false, 'the target was not made');
  });

  test('an absolute item outside the data source is a usage error; one inside it is recovered at its relative place', async () => {
    const to = join(work, 'r-abs');
    const bad = await recover(['--point', point.id, '--to', `c1:${to}`, '--item', '/etc/passwd']);
    assert.equal(bad.code, 2, describeCli(['recover'], bad));
    assert.match(bad.stderr, new RegExp(`^custos: --item /etc/passwd is not under the protected directory ${src}: give a path inside it`));
    const ok = await recover(['--point', point.id, '--to', `c1:${to}`, '--item', join(src, 'sub', 'b.txt'), '--wait']);
    assert.equal(ok.code, 0, describeCli(['recover'], ok));
    assert.equal(readFileSync(join(to, 'sub', 'b.txt'), 'utf8'), 'bravo\n');
    assert.equal(existsSync(join(to, 'a.txt')), false, 'only the item');
  });

  test('the agent refuses a missing item too (a job that names one anyway): nothing written', async () => {
    const to = join(work, 'r-agent');
    const row = await s.running.context.engine.enqueue({
      kind: 'recovery',
      source,
      agent: 'c1',
      params: { point: point.id, target: to, items: ['a.txt', 'nope/none'], conflict: 'skip', allowSystemTarget: false, requestedBy: 'test' },
      reason: 'a recovery the route did not check',
    });
    const done = await waitJobRow(s, row.id);
    assert.equal(done.state, 'failed', JSON.stringify(done));
    assert.equal(done.result, JSON.stringify({ errorCode: 'not-found' }));
    assert.match(done.error ?? '', new RegExp(`^not in recovery point ${point.id}: nope/none; nothing was recovered`));
    assert.equal(existsSync(to), false, 'the target was not made');
  });

  test('--point takes a prefix of 4+ hex digits; fewer is a usage error before anything is sent', async () => {
    const to = join(work, 'r-prefix');
    const ok = await recover(['--point', point.id.slice(0, 6).toUpperCase(), '--to', `c1:${to}`, '--item', 'a.txt', '--wait']);
    assert.equal(ok.code, 0, describeCli(['recover'], ok));
    assert.equal(readFileSync(join(to, 'a.txt'), 'utf8'), 'alpha\n');
    const short = await recover(['--point', point.id.slice(0, 3), '--to', `c1:${to}`]);
    assert.equal(short.code, 2, describeCli(['recover'], short));
    assert.match(short.stderr, /is not a recovery point id: give the whole id or its first 4 or more hex digits/);
    const absent = ['ffffffff', '00000000'].find((p) => !point.id.startsWith(p))!;
    const none = await recover(['--point', absent, '--to', `c1:${to}`]);
    assert.equal(none.code, 4, describeCli(['recover'], none));
    assert.equal(none.stderr, `custos: no recovery point ${absent} of ${source}\n`);
  });

  test('an ambiguous prefix is refused, listing the candidates', async () => {
    const c = s.running.context.catalog;
    const fake = 'c1:fs:/srv/fake-ambiguous';
    await c.insertSource({
      id: fake, agent: 'c1', kind: 'fs', path: '/srv/fake-ambiguous', group_name: null, replica_state: 'ok', allocation_bytes: 0, used_bytes: 0,
      created_at: new Date(T1).toISOString(), last_sync_started_at: null, last_sync_ok_at: null, last_point_slot: null, last_check_slot: null, added_to_group_at: null,
    });
    const ids = ['abcd0000000000000000000000000001', 'abcd0000000000000000000000000002'];
    for (const [i, id] of ids.entries()) {
      await c.insertPoint({ id, source_id: fake, time: new Date(T1 + i * 60_000).toISOString(), recovery_point: 1, partial: 0, files: 1, logical_bytes: 1, bytes_added: 1, job_id: null });
    }
    const args = ['recover', fake, '--point', 'abcd', '--to', `c1:${join(work, 'r-amb')}`];
    const r = await s.server.cli(args);
    assert.equal(r.code, 2, describeCli(args, r));
    assert.match(r.stderr, new RegExp(`^custos: recovery point abcd is ambiguous: 2 points of ${fake} begin with it: ${ids[0]} \\([^)]+\\), ${ids[1]} \\([^)]+\\); give more digits\\n$`));
  });

  test('a target that is a file, or lies below one, fails with one clear line (bad-target) and nothing written', async () => {
    const file = join(work, 'a-file');
    writeFileSync(file, 'keep me\n');
    for (const [to, message] of [
      [file, new RegExp(`recovery target ${file} is not a directory: give a directory, or a path that does not exist yet\n?$`)],
      [join(file, 'below'), new RegExp(`recovery target ${file}/below lies below ${file}, which is not a directory`)],
    ] as const) {
      const args = ['--point', point.id, '--to', `c1:${to}`, '--wait', '--json'];
      const r = await recover(args);
      assert.equal(r.code, 16, `as restore: ${describeCli(args, r)}`);
      assert.match(r.stderr, message);
      const job = (await recoveryJobs())[0]!;
      assert.equal(job.state, 'failed');
      assert.deepEqual(job.result, { errorCode: 'bad-target' });
      assert.match(job.error ?? '', message);
      assert.doesNotMatch(job.error ?? '', /internal|EEXIST|ENOTDIR/);
    }
    assert.equal(readFileSync(file, 'utf8'), 'keep me\n', 'the file is untouched');
  });

  test("a synchronization's point is replica-only and says so; source list keeps the newest recovery point and the last synchronization apart", async () => {
    writeFileSync(join(src, 'a.txt'), 'alpha, changed\n');
    const r = await s.server.cli(['sync', source, '--wait']);
    assert.equal(r.code, 0, describeCli(['sync'], r));
    const syncJob = (await s.server.cliJson<ApiJob[]>(['job', 'list', '--kind', 'sync', '--json', '--limit', '1']))[0]!;
    const job = await s.server.cliJson<ApiJob>(['job', 'show', String(syncJob.id), '--json']);
    const syncPoint = job.result?.['point'] as string;
    assert.match(syncPoint, /^[0-9a-f]{32}$/);
    assert.equal(job.result?.['recoveryPoint'], false, JSON.stringify(job.result));
    assert.ok(job.log?.some((l) => l.message.startsWith(`replica-only synchronization point ${syncPoint} committed (not a recovery point`) && l.message.includes(`custos point list ${source} --all`)),
      JSON.stringify(job.log));
    assert.match(r.stdout, new RegExp(`^note: ${syncPoint} is a replica-only synchronization point, not a recovery point .*custos point list ${source} --all shows it\\)$`, 'm'));

    const points = await s.server.cliJson<Array<ApiPoint & { recoveryPoint: boolean }>>(['point', 'list', source, '--json']);
    assert.deepEqual(points.map((p) => p.id), [point.id], 'point list: recovery points only');
    const all = await s.server.cliJson<Array<ApiPoint & { recoveryPoint: boolean }>>(['point', 'list', source, '--all', '--json']);
    assert.deepEqual(all.map((p) => [p.id, p.recoveryPoint]), [[point.id, true], [syncPoint, false]]);
    const table = await s.server.cli(['point', 'list', source, '--all']);
    assert.match(table.stdout, new RegExp(`^${syncPoint} .*replica-only \\(synchronization\\)$`, 'm'));

    const listed = (await s.server.cliJson<Array<ApiSource & { lastSynchronized: string | null }>>(['source', 'list', '--json'])).find((x) => x.id === source)!;
    assert.equal(listed.newestPoint, point.time, 'newestPoint: the newest recovery point, not the synchronization');
    assert.equal(listed.recoveryPoints, 1);
    const syncTime = all[1]!.time;
    assert.ok(listed.lastSynchronized !== null && listed.lastSynchronized >= syncTime, `lastSynchronized ${listed.lastSynchronized} after ${syncTime}`);
    const text = await s.server.cli(['source', 'list']);
    assert.match(text.stdout, /^ID +GROUP +REPLICA +NEWEST POINT +POINTS +LAST SYNC +ALLOCATION$/m);

    // Recovering the replica-only point by a prefix works too: it is one of the source's points.
    const to = join(work, 'r-sync');
    const rec = await recover(['--point', syncPoint.slice(0, 8), '--to', `c1:${to}`, '--item', 'a.txt', '--wait']);
    assert.equal(rec.code, 0, describeCli(['recover'], rec));
    assert.equal(readFileSync(join(to, 'a.txt'), 'utf8'), 'alpha, changed\n');
  });

  test('--to original recovers to the data source’s own agent and path', async () => {
    rmSync(join(src, 'sub', 'b.txt'));
    const r = await recover(['--point', point.id, '--to', 'original', '--item', 'sub/b.txt', '--wait', '--json']);
    assert.equal(r.code, 0, describeCli(['recover'], r));
    const job = (await recoveryJobs())[0]!;
    assert.equal(job.agent, 'c1');
    assert.equal(job.result?.['target'], src, JSON.stringify(job.result));
    assert.equal(readFileSync(join(src, 'sub', 'b.txt'), 'utf8'), 'bravo\n');
  });

  test('--to original is refused when the agent is gone, and meets the system-target guard', async () => {
    const c = s.running.context.catalog;
    const row = (id: string, agentName: string, path: string) => ({
      id, agent: agentName, kind: 'fs', path, group_name: null, replica_state: 'ok', allocation_bytes: 0, used_bytes: 0,
      created_at: new Date(T1).toISOString(), last_sync_started_at: null, last_sync_ok_at: null, last_point_slot: null, last_check_slot: null, added_to_group_at: null,
    });
    const gone = 'gone:fs:/data';
    await c.insertSource(row(gone, 'gone', '/data'));
    await c.insertPoint({ id: 'e0e0e0e0000000000000000000000001', source_id: gone, time: new Date(T1).toISOString(), recovery_point: 1, partial: 0, files: 1, logical_bytes: 1, bytes_added: 1, job_id: null });
    const a = await s.server.cli(['recover', gone, '--point', 'e0e0', '--to', 'original']);
    assert.equal(a.code, 2, describeCli(['recover'], a));
    assert.match(a.stderr, /^custos: the agent of gone:fs:\/data \(gone\) is no longer attached, so there is no original location to recover to/);

    const system = 'c1:fs:/usr/share/custos-fake';
    await c.insertSource(row(system, 'c1', '/usr/share/custos-fake'));
    await c.insertPoint({ id: 'e1e1e1e1000000000000000000000001', source_id: system, time: new Date(T1).toISOString(), recovery_point: 1, partial: 0, files: 1, logical_bytes: 1, bytes_added: 1, job_id: null });
    const b = await s.server.cli(['recover', system, '--point', 'e1e1', '--to', 'original']);
    assert.equal(b.code, 12, describeCli(['recover'], b));
    assert.match(b.stderr, /recovering onto \/usr\/share\/custos-fake would replace system files/);
  });
});
