/**
 * Server mode end to end, with real processes: a protection server
 * (`custos server start`, its clock scaled with CUSTOS_TEST_CLOCK so a
 * schedule runs in seconds) and protection agents (`custos agent attach`,
 * `custos agent start`) on this machine, driven through the CLI and the REST
 * API.
 *
 * - the happy path: attach, protect a tree with a protection group, two
 *   recovery points (the initial replica and a scheduled one) with a change
 *   between them, recovery of each to another directory bit for bit, jobs,
 *   data sources, /metrics and the OpenAPI document;
 * - the server killed (SIGKILL) during a backup: restarted on the same data
 *   directory and port, the job is retried and succeeds, and both the older
 *   and the new recovery point recover bit for bit;
 * - the agent killed (SIGKILL) during a transfer: started again, the job is
 *   retried and succeeds, the next sync succeeds, and the newest recovery
 *   point recovers bit for bit.
 */
import { after, describe, test } from 'node:test';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import assert from 'node:assert/strict';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanupTempDirs, describeCli, diffDigests, makeTempDir, memoryTmpBase, seededBytes, treeDigest, writeTree } from '../helpers/tree.js';
import {
  attachAgent,
  freePort,
  listJobs,
  listPoints,
  sleep,
  startServer,
  stopAllProcesses,
  waitFor,
  waitIdle,
  type ApiAgent,
  type ApiJob,
  type ApiPoint,
  type ApiSource,
  type TestServer,
} from '../helpers/server.js';

after(async () => {
  await stopAllProcesses();
  await cleanupTempDirs();
});

const MiB = 1024 * 1024;
/** File times of the trees written here: whole milliseconds, a fixed day. */
const T1 = Date.UTC(2026, 1, 20, 9, 30, 0, 123);
const T2 = Date.UTC(2026, 1, 21, 14, 5, 7, 456);

/** One job by id, through the API (cheaper than a CLI process when polling). */
async function getJob(server: TestServer, id: number): Promise<ApiJob> {
  const r = await server.request('GET', `/api/jobs/${id}`, { token: server.adminToken });
  assert.equal(r.status, 200, `GET /api/jobs/${id}: ${r.text}`);
  return r.json<ApiJob>();
}

async function waitJobDone(server: TestServer, id: number, timeoutMs: number): Promise<ApiJob> {
  return waitFor(`job ${id} to finish`, async () => {
    const j = await getJob(server, id);
    return ['succeeded', 'failed', 'cancelled'].includes(j.state) ? j : undefined;
  }, timeoutMs, 300);
}

/** The recovery points of a data source, through the API (oldest first). */
async function apiPoints(server: TestServer, source: string): Promise<ApiPoint[]> {
  const r = await server.request('GET', `/api/data-sources/${encodeURIComponent(source)}/recovery-points`, { token: server.adminToken });
  assert.equal(r.status, 200, r.text);
  return r.json<ApiPoint[]>();
}

/** Waits until a job is running (failing if it finishes first). */
async function waitRunning(server: TestServer, id: number): Promise<ApiJob> {
  return waitFor(`job ${id} to be running`, async () => {
    const j = await getJob(server, id);
    assert.ok(j.state === 'queued' || j.state === 'running', `job ${id} ended before it could be interrupted: ${JSON.stringify(j)}`);
    return j.state === 'running' ? j : undefined;
  }, 60_000, 100);
}

async function waitAgentConnected(server: TestServer, name: string, timeoutMs: number): Promise<ApiAgent> {
  return waitFor(`agent ${name} connected`, async () => {
    const r = await server.request('GET', '/api/agents', { token: server.adminToken });
    return r.json<ApiAgent[]>().find((a) => a.name === name && a.status === 'connected');
  }, timeoutMs, 300);
}

/** Recovers a point (by id, or `--at` a time) to `target` on `agent` with `custos recover --wait` and checks the tree there against `expected`. */
async function recoverAndCompare(server: TestServer, source: string, point: string | { at: string }, agent: string, target: string, expected: Map<string, string>, what: string): Promise<ApiJob> {
  const which = typeof point === 'string' ? ['--point', point] : ['--at', point.at];
  const args = ['recover', source, ...which, '--to', `${agent}:${target}`, '--wait', '--json', '--timeout', '5m'];
  const r = await server.cli(args, { timeoutMs: 330_000 });
  assert.equal(r.code, 0, describeCli(args, r));
  const job = JSON.parse(r.stdout) as ApiJob;
  assert.equal(job.kind, 'recovery');
  assert.equal(job.state, 'succeeded');
  const got = await treeDigest(target);
  const diff = diffDigests(expected, got);
  assert.deepEqual(diff, [], `${what}: the recovered tree differs:\n${diff.join('\n')}`);
  return job;
}

/** Writes `count` files of `size` seeded random bytes under `dir`, in a few subdirectories. */
async function writeBigFiles(dir: string, count: number, size: number, seed: string): Promise<void> {
  for (let i = 0; i < count; i++) {
    const sub = join(dir, `d${i % 5}`);
    await mkdir(sub, { recursive: true });
    await writeFile(join(sub, `blob-${String(i).padStart(3, '0')}.bin`), seededBytes(`${seed}-${i}`, size));
  }
}

function hhmm(d: Date): string {
  return d.toISOString().slice(11, 16);
}

describe('server mode: attach, protect, two recovery points, recover', { timeout: 240_000 }, () => {
  test('happy path', async () => {
    const work = await makeTempDir('custos-e2e-happy-', { base: memoryTmpBase() });
    const server = await startServer({ clock: { start: '2026-03-02T07:50:00Z', speed: 60 } });

    // --- attach an agent with a one-time token, start it, see it connected
    const agent = await attachAgent(server, 'happy');
    await agent.start();
    const agents = await waitFor('agent list to show happy connected', async () => {
      const list = await server.cliJson<ApiAgent[]>(['agent', 'list', '--json']);
      return list.find((a) => a.name === 'happy')?.status === 'connected' ? list : undefined;
    }, 30_000);
    assert.deepEqual(agents.map((a) => [a.name, a.status]), [['happy', 'connected']]);

    // --- the tree to protect: a 5 MiB file, a subdirectory, small files
    const src = join(work.path, 'src');
    const notes1 = 'first version of the notes\n';
    const notes2 = 'second version of the notes, longer than the first\n';
    const report = '# Report\n\nquarterly numbers\n';
    const doomed = 'this file goes away before the second point';
    await writeTree(src, {
      'big.bin': { random: { size: 5 * MiB, seed: 'happy-big' }, mode: 0o640 },
      'notes.txt': notes1,
      'docs/report.md': report,
      'docs/deep/nested/leaf.txt': 'leaf',
      'docs/to-delete.txt': doomed,
      'empty-dir': { type: 'dir' },
      'link-to-notes': { type: 'symlink', target: 'notes.txt' },
    }, { mtimeMs: T1 });
    const source = `happy:fs:${src}`;
    const digestAtFirst = await treeDigest(src);

    // --- a protection group whose one scheduled recovery point comes ~25 s (real) from now
    const clockNow = await server.clockNow();
    const pointAt = new Date(Math.ceil((clockNow.getTime() + 25 * 60_000) / 60_000) * 60_000);
    const createArgs = ['group', 'create', 'happy-group', '--source', source, '--sync', '15m', '--points', hhmm(pointAt), '--retention', '5d', '--json'];
    const created = await server.cli(createArgs);
    assert.equal(created.code, 0, describeCli(createArgs, created));
    const answer = JSON.parse(created.stdout) as { group: { name: string; sources: string[]; syncMinutes: number; pointTimes: string[] }; warnings: string[] };
    assert.equal(answer.group.name, 'happy-group');
    assert.deepEqual(answer.group.sources, [source]);
    assert.equal(answer.group.syncMinutes, 15);
    assert.deepEqual(answer.group.pointTimes, [hhmm(pointAt)]);

    // --- the initial replica is the first recovery point; then change the tree
    const first = await waitFor('the initial replica (first recovery point)', async () => {
      const pts = await apiPoints(server, source);
      return pts.length >= 1 ? pts : undefined;
    }, 60_000, 200);
    assert.equal(first.length, 1, `one point expected before the scheduled time: ${JSON.stringify(first)}`);
    assert.ok(new Date(first[0]!.time) < pointAt, `the first point (${first[0]!.time}) came before the scheduled time ${pointAt.toISOString()}`);
    assert.equal(first[0]!.partial, false);
    assert.equal(first[0]!.files, 5);
    assert.equal(first[0]!.logicalBytes, 5 * MiB + notes1.length + report.length + 4 + doomed.length);

    await rm(join(src, 'docs', 'to-delete.txt'));
    await writeTree(src, {
      'notes.txt': notes2,
      'new/added.bin': { random: { size: 300_000, seed: 'happy-added' } },
    }, { mtimeMs: T2 });
    const digestAtSecond = await treeDigest(src);
    assert.notDeepEqual(digestAtSecond, digestAtFirst);
    const changedAt = await server.clockNow();
    assert.ok(changedAt < pointAt, `the tree must change before the scheduled point: changed at ${changedAt.toISOString()}, point at ${pointAt.toISOString()} (machine too slow?)`);

    // --- the scheduled recovery point
    const points = await waitFor('a second recovery point (the scheduled one)', async () => {
      const pts = await listPoints(server, source);
      return pts.length >= 2 ? pts : undefined;
    }, 150_000, 1000);
    assert.equal(points[0]!.id, first[0]!.id, 'points are listed oldest first');
    const [older, newer] = points as [ApiPoint, ApiPoint];
    assert.ok(new Date(newer.time) >= pointAt, `the second point (${newer.time}) is not before its scheduled time ${pointAt.toISOString()}`);
    assert.equal(newer.files, 5);
    assert.equal(newer.logicalBytes, 5 * MiB + notes2.length + report.length + 4 + 300_000);

    // --- each recovers, to another directory, as the tree was when it was made
    await recoverAndCompare(server, source, { at: older.time }, 'happy', join(work.path, 'recovered-older'), digestAtFirst, 'the older point, chosen by its time (--at)');
    await recoverAndCompare(server, source, newer.id, 'happy', join(work.path, 'recovered-newer'), digestAtSecond, 'the newer point');

    // --- finding what to recover: browse, search and versions (answered by the file index)
    type Listing = { point: { id: string }; items: Array<{ name: string; type: string; size: number; mode: number }> };
    const docsNow = await server.cliJson<Listing>(['browse', source, 'docs', '--json']);
    assert.equal(docsNow.point.id, newer.id, 'without --point: the newest recovery point');
    assert.deepEqual(docsNow.items.map((i) => [i.name, i.type]), [['deep', 'dir'], ['report.md', 'file']]);
    const docsThen = await server.cliJson<Listing>(['browse', source, join(src, 'docs'), '--point', older.id.slice(0, 6), '--json']);
    assert.equal(docsThen.point.id, older.id, 'a point id prefix; an absolute path under the protected directory');
    assert.deepEqual(docsThen.items.map((i) => i.name), ['deep', 'report.md', 'to-delete.txt']);
    const rootArgs = ['browse', source];
    const rootTable = await server.cli(rootArgs);
    assert.equal(rootTable.code, 0, describeCli(rootArgs, rootTable));
    assert.match(rootTable.stdout, /^-rw-r-----\s+\S+\s+\S+\s+5\.0 MiB\s+.*big\.bin$/m, rootTable.stdout);
    assert.match(rootTable.stdout, /link-to-notes -> notes\.txt$/m, rootTable.stdout);
    type Hits = { pointsSearched: number; hits: Array<{ path: string; first: { id: string }; last: { id: string }; points: number }> };
    const hits = await server.cliJson<Hits>(['search', source, '*.txt', '--json']);
    assert.equal(hits.pointsSearched, 2);
    assert.deepEqual(hits.hits.map((h) => [h.path, h.first.id, h.last.id, h.points]), [
      ['docs/deep/nested/leaf.txt', older.id, newer.id, 2],
      ['docs/to-delete.txt', older.id, older.id, 1],
      ['notes.txt', older.id, newer.id, 2],
    ]);
    type Versions = { versions: Array<{ size: number; points: Array<{ id: string }> }> };
    const versions = await server.cliJson<Versions>(['versions', source, 'notes.txt', '--json']);
    assert.deepEqual(versions.versions.map((v) => [v.size, v.points.map((p) => p.id)]), [[notes1.length, [older.id]], [notes2.length, [newer.id]]]);
    const unchanged = await server.cliJson<Versions>(['versions', source, 'docs/report.md', '--json']);
    assert.deepEqual(unchanged.versions.map((v) => v.points.map((p) => p.id)), [[older.id, newer.id]], 'an unchanged file has one version');

    // --- jobs, data sources
    const jobs = await listJobs(server);
    const ofSource = jobs.filter((j) => j.source === source);
    assert.ok(ofSource.some((j) => j.kind === 'sync' && j.state === 'succeeded'), `a sync succeeded: ${JSON.stringify(ofSource.map((j) => [j.id, j.kind, j.state]))}`);
    const pointJobs = ofSource.filter((j) => j.kind === 'recovery-point');
    assert.ok(pointJobs.length >= 1 && pointJobs.every((j) => j.state === 'succeeded' || j.state === 'running' || j.state === 'queued'), `recovery-point jobs: ${JSON.stringify(pointJobs)}`);
    assert.ok(pointJobs.some((j) => j.state === 'succeeded' && (j.result as { point?: string } | null)?.point === newer.id), 'the scheduled point was made by a recovery-point job');
    assert.equal(ofSource.filter((j) => j.kind === 'recovery' && j.state === 'succeeded').length, 2);
    assert.deepEqual(jobs.filter((j) => j.state === 'failed'), [], 'no job failed');

    // --- the change journal: the initial replica walked everything, the scheduled point only what changed
    const replicaJob = await getJob(server, Math.min(...ofSource.filter((j) => j.kind === 'sync').map((j) => j.id)));
    assert.ok(replicaJob.log?.some((l) => /metadata scan/.test(l.message)), `the initial replica says it scanned:\n${replicaJob.log?.map((l) => l.message).join('\n')}`);
    const pointJob = await getJob(server, pointJobs.find((j) => (j.result as { point?: string } | null)?.point === newer.id)!.id);
    assert.ok(pointJob.log?.some((l) => /^change journal: \d+ changed path\(s\) since recovery point [0-9a-f]{32}$/.test(l.message)), `the scheduled point used the journal:\n${pointJob.log?.map((l) => l.message).join('\n')}`);
    assert.equal((pointJob.result as { walk?: { journal?: boolean } } | null)?.walk?.journal, true);

    const sources = await server.cliJson<ApiSource[]>(['source', 'list', '--json']);
    const s = sources.find((x) => x.id === source);
    assert.ok(s, `source list has ${source}: ${JSON.stringify(sources)}`);
    assert.equal(s.replicaState, 'ok');
    assert.equal(s.group, 'happy-group');
    assert.ok(s.recoveryPoints >= 2, `recoveryPoints ${s.recoveryPoints}`);

    // --- /metrics and the OpenAPI document, with the token
    const metrics = await server.request('GET', '/metrics', { token: server.adminToken });
    assert.equal(metrics.status, 200, metrics.text);
    assert.match(metrics.text, /^custos_jobs\{kind="sync",state="succeeded"\} [1-9]\d*$/m);
    assert.match(metrics.text, /^custos_jobs\{kind="recovery",state="succeeded"\} 2$/m);
    const age = new RegExp(`^custos_newest_recovery_point_age_seconds\\{data_source="${source.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}"\\} (\\d+)$`, 'm').exec(metrics.text);
    assert.ok(age, `a newest-point age for ${source} in:\n${metrics.text}`);

    const openapi = await server.request('GET', '/api/openapi.json', { token: server.adminToken });
    assert.equal(openapi.status, 200, openapi.text.slice(0, 500));
    const doc = openapi.json<{ openapi: string; paths: Record<string, Record<string, unknown>>; components: { securitySchemes: Record<string, { type: string; in?: string; name?: string }> } }>();
    assert.match(doc.openapi, /^3\./);
    assert.deepEqual(doc.components.securitySchemes['session'] && { in: doc.components.securitySchemes['session'].in, name: doc.components.securitySchemes['session'].name }, { in: 'cookie', name: '__Host-custos_session' }, 'console sessions are described beside tokens');
    assert.ok(doc.paths['/api/protection-groups']?.['post'], `paths: ${Object.keys(doc.paths).join(' ')}`);
    assert.ok(doc.paths['/api/jobs'], 'the jobs call is documented');

    // A clean stop of both.
    const agentStopped = await agent.process!.stop();
    assert.equal(agentStopped.code, 0, agent.process!.output().slice(-2000));
    const serverStopped = await server.process.stop();
    assert.equal(serverStopped.code, 0, server.process.output().slice(-2000));
    assert.match(server.process.output(), /"msg":"protection server stopped"/);
  });
});

describe('server mode: the server killed during a backup', { timeout: 240_000 }, () => {
  test('SIGKILL of the server mid-backup: restarted, the job is retried and succeeds; both points recover', async () => {
    const work = await makeTempDir('custos-e2e-srvkill-', { base: memoryTmpBase() });
    const port = await freePort();
    const speed = 10;
    let server = await startServer({ port, clock: { start: '2026-03-02T10:00:00Z', speed } });
    const dataDir = server.dataDir;
    const agent = await attachAgent(server, 'crash');
    await agent.start();

    const src = join(work.path, 'src');
    await writeTree(src, {
      'a.txt': 'alpha\n',
      'sub/b.bin': { random: { size: 700_000, seed: 'crash-b' } },
      'sub/c.txt': 'charlie\n',
    }, { mtimeMs: T1 });
    const source = `crash:fs:${src}`;
    const digestSmall = await treeDigest(src);
    // No scheduled work during the test: daily synchronization, a recovery point far away.
    const g = await server.cli(['group', 'create', 'crash-group', '--source', source, '--sync', '24h', '--points', '23:00', '--json']);
    assert.equal(g.code, 0, describeCli(['group', 'create'], g));
    const first = await waitFor('the initial replica', async () => {
      const pts = await listPoints(server, source);
      return pts.length === 1 ? pts[0] : undefined;
    }, 60_000);
    await waitIdle(server, 60_000);

    // 500 MiB in 250 files: a backup that takes several seconds.
    await writeBigFiles(join(src, 'big'), 250, 2 * MiB, 'crash');
    const digestBig = await treeDigest(src);
    const start = await server.cli(['point', 'create', source, '--json']);
    assert.equal(start.code, 0, describeCli(['point', 'create'], start));
    const jobId = (JSON.parse(start.stdout) as ApiJob).id;

    // Kill it a while into the transfer: once `job list` has shown it running (a CLI process
    // takes a second or more to start while agent and server are busy: delay enough). Progress is not waited for: the
    // agent reports it only every 256 items, so a backup of 150 big files shows none until its end.
    await waitRunning(server, jobId);
    const listed = await listJobs(server, ['--state', 'running']);
    assert.ok(listed.some((j) => j.id === jobId && j.state === 'running'), `job list --state running shows the job: ${JSON.stringify(listed)}`);
    const atKill = await getJob(server, jobId);
    assert.equal(atKill.state, 'running', `the job still runs when the server is killed: ${JSON.stringify(atKill)}`);
    const killed = await server.process.kill();
    assert.equal(killed.signal, 'SIGKILL');
    const clockAtRestart = server.clockEstimate();

    // Restart on the same data directory and port: the agent reconnects to the URL it was attached with.
    server = await startServer({ dataDir, port, clock: { start: clockAtRestart, speed } });
    assert.equal(server.port, port);
    await waitAgentConnected(server, 'crash', 60_000);
    const done = await waitJobDone(server, jobId, 180_000);
    assert.equal(done.state, 'succeeded', `job ${jobId}: ${JSON.stringify(done)}`);
    assert.ok(done.attempts >= 2, `attempts ${done.attempts}`);
    assert.ok(done.log?.some((l) => /interrupted/i.test(l.message)), `the log says the job was interrupted:\n${done.log?.map((l) => l.message).join('\n')}`);

    const points = await listPoints(server, source);
    assert.equal(points.length, 2, JSON.stringify(points));
    assert.equal(points[0]!.id, first.id);
    assert.equal(points[1]!.id, (done.result as { point?: string }).point);
    assert.equal(points[1]!.files, 253);

    await recoverAndCompare(server, source, first.id, 'crash', join(work.path, 'recovered-first'), digestSmall, 'the point made before the crash');
    await recoverAndCompare(server, source, points[1]!.id, 'crash', join(work.path, 'recovered-second'), digestBig, 'the point of the retried backup');

    const sources = await server.cliJson<ApiSource[]>(['source', 'list', '--json']);
    assert.equal(sources.find((x) => x.id === source)?.replicaState, 'ok');

    await agent.process!.stop();
    await server.process.stop();
  });
});

describe('server mode: the agent killed during a transfer', { timeout: 240_000 }, () => {
  test('SIGKILL of the agent mid-transfer: started again, the job is retried, the next sync succeeds, the newest point recovers', async () => {
    const work = await makeTempDir('custos-e2e-agentkill-', { base: memoryTmpBase() });
    const server = await startServer({ clock: { start: '2026-03-02T10:00:00Z', speed: 10 } });
    const agent = await attachAgent(server, 'flaky');
    const firstProcess = await agent.start();

    const src = join(work.path, 'src');
    await writeTree(src, { 'readme.txt': 'flaky agent\n', 'cfg/settings.json': '{"a":1}\n' }, { mtimeMs: T1 });
    const source = `flaky:fs:${src}`;
    const g = await server.cli(['group', 'create', 'flaky-group', '--source', source, '--sync', '24h', '--points', '23:00', '--json']);
    assert.equal(g.code, 0, describeCli(['group', 'create'], g));
    await waitFor('the initial replica', async () => ((await listPoints(server, source)).length === 1 ? true : undefined), 60_000);
    await waitIdle(server, 60_000);

    await writeBigFiles(join(src, 'big'), 240, 2 * MiB, 'flaky');
    const start = await server.cli(['point', 'create', source, '--json']);
    assert.equal(start.code, 0, describeCli(['point', 'create'], start));
    const jobId = (JSON.parse(start.stdout) as ApiJob).id;
    await waitRunning(server, jobId);
    await sleep(700);
    const running = await getJob(server, jobId);
    assert.equal(running.state, 'running', `the job still runs when the agent is killed: ${JSON.stringify(running)}`);
    const killed = await firstProcess.kill();
    assert.equal(killed.signal, 'SIGKILL');

    // The server notices: the attempt fails (to be retried) and the agent shows disconnected.
    const afterKill = await waitFor('the attempt to end after the agent died', async () => {
      const j = await getJob(server, jobId);
      return j.state !== 'running' ? j : undefined;
    }, 60_000, 200);
    assert.equal(afterKill.state, 'queued', `the job waits for a retry: ${JSON.stringify(afterKill)}`);
    assert.ok(afterKill.error, 'the failed attempt left an error');
    const list = await server.cliJson<ApiAgent[]>(['agent', 'list', '--json']);
    assert.equal(list.find((a) => a.name === 'flaky')?.status, 'disconnected');

    await agent.start();
    const done = await waitJobDone(server, jobId, 150_000);
    assert.equal(done.state, 'succeeded', `job ${jobId}: ${JSON.stringify(done)}`);
    assert.ok(done.attempts >= 2, `attempts ${done.attempts}`);
    assert.ok(done.log?.some((l) => l.level === 'warning' && /attempt 1 failed/.test(l.message)), `the log shows the failed attempt:\n${done.log?.map((l) => `${l.level} ${l.message}`).join('\n')}`);

    // A change, then the next synchronization and a recovery point.
    await writeTree(src, { 'after-crash.txt': 'written after the agent came back\n' }, { mtimeMs: T2 });
    const sync = await server.cli(['sync', source, '--wait', '--timeout', '3m'], { timeoutMs: 200_000 });
    assert.equal(sync.code, 0, describeCli(['sync', source, '--wait'], sync));
    await waitIdle(server, 120_000);
    const pc = await server.cli(['point', 'create', source, '--wait', '--json', '--timeout', '3m'], { timeoutMs: 200_000 });
    assert.equal(pc.code, 0, describeCli(['point', 'create', '--wait'], pc));
    const pcJob = JSON.parse(pc.stdout) as ApiJob;
    const digest = await treeDigest(src);

    const points = await listPoints(server, source);
    const newest = points.at(-1)!;
    assert.equal(newest.id, (pcJob.result as { point?: string }).point);
    assert.equal(newest.files, 243);
    await recoverAndCompare(server, source, 'latest', 'flaky', join(work.path, 'recovered'), digest, 'the newest point');

    const jobs = await listJobs(server);
    assert.deepEqual(jobs.filter((j) => j.state === 'failed').map((j) => [j.id, j.kind, j.error]), [], 'no job failed');
    const sources = await server.cliJson<ApiSource[]>(['source', 'list', '--json']);
    assert.equal(sources.find((x) => x.id === source)?.replicaState, 'ok');

    await agent.process!.stop();
    await server.process.stop();
  });
});

describe('server mode: a change journal lost while the agent runs', { timeout: 240_000 }, () => {
  test('the replica becomes inconsistent, an automatic consistency check runs and makes it ok again', async () => {
    const work = await makeTempDir('custos-e2e-journal-lost-', { base: memoryTmpBase() });
    const server = await startServer();
    const agent = await attachAgent(server, 'watcher');
    await agent.start();
    const src = join(work.path, 'src');
    await writeTree(src, { 'a.txt': 'first\n', 'sub/b.txt': 'second\n' }, { mtimeMs: T1 });
    const source = `watcher:fs:${src}`;
    const g = await server.cli(['group', 'create', 'watched', '--source', source, '--sync', '24h', '--points', '23:00', '--json']);
    assert.equal(g.code, 0, describeCli(['group', 'create'], g));
    await waitFor('the initial replica', async () => ((await listPoints(server, source)).length === 1 ? true : undefined), 60_000, 200);
    await waitIdle(server, 60_000);

    // The source directory goes away under the watcher (and comes back changed): events are lost.
    await rename(src, `${src}.away`);
    await writeFile(join(`${src}.away`, 'sub', 'c.txt'), 'written while away\n');
    await sleep(1000);
    await rename(`${src}.away`, src);

    const check = await waitFor('an automatic consistency check to succeed', async () => {
      const j = (await listJobs(server)).find((x) => x.kind === 'consistency-check' && x.source === source);
      return j && j.state === 'succeeded' ? j : undefined;
    }, 90_000, 300);
    const detail = await getJob(server, check.id);
    assert.ok(detail.log?.some((l) => /replica inconsistent: automatic consistency check/.test(l.message)), detail.log?.map((l) => l.message).join('\n'));
    const alerts = await server.cliJson<Array<{ kind: string; subject: string; state: string; message: string }>>(['alert', 'list', '--all', '--json']);
    const raised = alerts.find((a) => a.kind === 'replica-inconsistent' && a.subject === source);
    assert.ok(raised, `a replica-inconsistent alert was raised: ${JSON.stringify(alerts)}`);
    // The check may first run while the directory is away, fail midway (raising the alert anew) and be retried.
    assert.match(raised.message, /source directory was deleted or moved|failed midway/);
    assert.match(agent.process!.output(), /change journal lost \(the source directory was deleted or moved\)/);
    assert.equal(raised.state, 'resolved');
    const sources = await server.cliJson<ApiSource[]>(['source', 'list', '--json']);
    assert.equal(sources.find((x) => x.id === source)?.replicaState, 'ok');

    // The check's point holds the file written while the journal was blind, and recovers bit for bit.
    const digest = await treeDigest(src);
    await recoverAndCompare(server, source, (check.result as { point: string }).point, 'watcher', join(work.path, 'recovered'), digest, 'the checked replica');

    await agent.process!.stop();
    await server.process.stop();
  });
});

/** python3 FILE: maps FILE shared, rewrites its first five bytes through the map, flushes, says "written" and holds the file open until stdin ends. */
const MMAP_WRITE = [
  'import mmap, sys',
  'f = open(sys.argv[1], "r+b")',
  'm = mmap.mmap(f.fileno(), 0)',
  'm[0:5] = b"FIRST"',
  'm.flush()',
  'print("written", flush=True)',
  'sys.stdin.read()',
].join('\n');

describe('server mode: the change journal verified', { timeout: 240_000 }, () => {
  test('an idle synchronization (here a recovery point) commits the previous manifest as it is; the next change is synchronized by the journal; both points recover as the disk was', async () => {
    const work = await makeTempDir('custos-e2e-journal-idle-', { base: memoryTmpBase() });
    const server = await startServer();
    const agent = await attachAgent(server, 'idle');
    await agent.start(true);
    const src = join(work.path, 'src');
    await writeTree(src, { 'docs/a.txt': 'a\n', 'docs/b.txt': 'b\n', 'c.txt': 'c\n' }, { mtimeMs: T1 });
    const source = `idle:fs:${src}`;
    const g = await server.cli(['group', 'create', 'idle', '--source', source, '--sync', '24h', '--points', '23:00', '--json']);
    assert.equal(g.code, 0, describeCli(['group', 'create'], g));
    await waitFor('the initial replica', async () => ((await listPoints(server, source)).length === 1 ? true : undefined), 60_000, 200);
    await waitIdle(server, 60_000);
    /** A synchronization, or a recovery point (`point create`: kept, where a synchronization's replica-only point goes once a newer point exists). */
    const sync = async (args: readonly string[] = ['sync', source]) => {
      const r = await server.cli([...args, '--wait', '--json']);
      assert.equal(r.code, 0, describeCli([...args], r));
      const job = JSON.parse(r.stdout) as ApiJob;
      const shown = await server.cliJson<ApiJob>(['job', 'show', String(job.id), '--json']);
      return { result: job.result as { point: string; walk: { itemsStatted: number; journal: boolean }; summary: { filesUnchanged: number; filesChanged: number } }, log: (shown.log ?? []).map((l) => l.message) };
    };
    // Whatever the first synchronization finds (the journal began during the initial replica), the recovery point after it has nothing to look at.
    await sync();
    const idle = await sync(['point', 'create', source]);
    assert.ok(idle.log.includes('nothing changed: the manifest of the previous point is taken as it is'), idle.log.join('\n'));
    assert.deepEqual([idle.result.walk.itemsStatted, idle.result.walk.journal, idle.result.summary.filesUnchanged, idle.result.summary.filesChanged], [0, true, 3, 0]);
    await writeFile(join(src, 'docs/a.txt'), 'a, changed\n');
    const changed = await sync(['point', 'create', source]);
    assert.ok(!changed.log.includes('nothing changed: the manifest of the previous point is taken as it is'), changed.log.join('\n'));
    assert.ok(changed.log.some((l) => /^change journal: \d+ changed path\(s\)/.test(l)), changed.log.join('\n'));
    assert.equal(changed.result.summary.filesChanged, 1);
    for (const [point, expect] of [[idle.result.point, 'a\n'], [changed.result.point, 'a, changed\n']] as const) {
      const target = join(work.path, `recovered-${point}`);
      const rec = await server.cli(['recover', source, '--point', point, '--to', `idle:${target}`, '--wait']);
      assert.equal(rec.code, 0, describeCli(['recover'], rec));
      assert.equal(readFileSync(join(target, 'docs/a.txt'), 'utf8'), expect);
      assert.equal(readFileSync(join(target, 'c.txt'), 'utf8'), 'c\n');
    }
  });

  test('a change the journal cannot see (a write through a shared memory map) is found by the verification scan: logged, the replica inconsistent, counted', async () => {
    // On disk, not tmpfs: a write through a map updates the mtime only where the file system does so on a write fault (ext4 does, tmpfs does not).
    const work = await makeTempDir('custos-e2e-journal-verify-');
    const server = await startServer();
    const agent = await attachAgent(server, 'verified');
    // Every synchronization is a metadata scan that verifies the journal.
    await agent.start(true, ['--journal-scan-every', '0s']);
    const src = join(work.path, 'src');
    await writeTree(src, { 'docs/report.txt': 'first\n', 'other.txt': 'o\n' }, { mtimeMs: T1 });
    const source = `verified:fs:${src}`;
    const g = await server.cli(['group', 'create', 'verified', '--source', source, '--sync', '24h', '--points', '23:00', '--check', 'daily@03:00', '--json']);
    assert.equal(g.code, 0, describeCli(['group', 'create'], g));
    await waitFor('the initial replica', async () => ((await listPoints(server, source)).length === 1 ? true : undefined), 60_000, 200);
    await waitIdle(server, 60_000);

    // A write through a shared map (issue 9, case 11): neither inotify nor fanotify reports it; the
    // descriptor stays open until the synchronization is done, so not even its close is an event.
    const writer = spawn('python3', ['-c', MMAP_WRITE, join(src, 'docs/report.txt')], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      writer.stdout.on('data', (d: Buffer) => (d.toString().includes('written') ? resolve() : undefined));
      writer.once('exit', (code) => reject(new Error(`python3 ended (${code}) before writing`)));
    });
    const r = await server.cli(['sync', source, '--wait', '--json']);
    writer.stdin.end();
    await once(writer, 'exit');
    assert.equal(r.code, 0, describeCli(['sync', source], r));
    const job = JSON.parse(r.stdout) as ApiJob;
    const walk = (job.result as { walk?: { journalMissed?: number; journalMissedPaths?: string[] } }).walk;
    assert.equal(walk?.journalMissed, 1, JSON.stringify(job.result));
    assert.deepEqual(walk?.journalMissedPaths, ['docs/report.txt']);
    const shown = await server.cliJson<ApiJob>(['job', 'show', String(job.id), '--json']);
    assert.ok(shown.log?.some((l) => /change journal verification: 1 changed item\(s\) the journal had not recorded \(docs\/report\.txt\)/.test(l.message)), shown.log?.map((l) => l.message).join('\n'));
    // The point is complete all the same: the scan looked at every item.
    const target = join(work.path, 'recovered');
    const synced = String((job.result as { point?: string }).point);
    const rec = await server.cli(['recover', source, '--point', synced, '--to', `verified:${target}`, '--wait']);
    assert.equal(rec.code, 0, describeCli(['recover'], rec));
    assert.deepEqual(diffDigests(await treeDigest(src), await treeDigest(target)), []);

    const sources = await server.cliJson<ApiSource[]>(['source', 'list', '--json']);
    assert.equal(sources.find((s) => s.id === source)?.replicaState, 'inconsistent');
    const alerts = await server.cliJson<Array<{ kind: string; subject: string; message: string }>>(['alert', 'list', '--json']);
    assert.ok(alerts.some((a) => a.kind === 'replica-inconsistent' && a.subject === source && /verification scan found 1 changed item.*docs\/report\.txt/.test(a.message)), JSON.stringify(alerts));
    const metrics = await server.request('GET', '/metrics', { token: server.adminToken });
    assert.equal(metrics.status, 200);
    assert.ok(metrics.text.includes(`custos_journal_missed_items_total{data_source="${source}"} 1`), metrics.text);
  });
});
