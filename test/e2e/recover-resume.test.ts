/**
 * Server mode (issue 11 §2): a recovery interrupted by a kill (SIGKILL) of
 * the agent, or of the server, completes when the job is retried. Real
 * server and agent processes; the recovery is throttled (--throttle) so the
 * kill lands mid-way on any machine, without a race on timing. The retried
 * job leaves a tree identical to the source, and its result shows that the
 * files complete before the kill were found identical and not written again.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTempDirs, describeCli, diffDigests, listFilesRecursive, makeTempDir, memoryTmpBase, treeDigest, writeTree, type TreeSpec } from '../helpers/tree.js';
import { attachAgent, freePort, listPoints, startServer, stopAllProcesses, waitFor, waitIdle, type ApiAgent, type ApiJob, type TestAgent, type TestServer } from '../helpers/server.js';

const FILES = 240;
/** Files written before the kill, at least. */
const BEFORE_KILL = 40;
/** The server's clock runs this much faster: the retry 30 s after a failed attempt comes in half a second. */
const SPEED = 60;

interface Setup {
  server: TestServer;
  agent: TestAgent;
  src: string;
  source: string;
  target: string;
}

async function setUp(name: string): Promise<Setup> {
  const work = await makeTempDir(`custos-e2e-recover-resume-${name}-`, { base: memoryTmpBase() });
  const server = await startServer({ port: await freePort(), clock: { start: '2026-03-02T08:00:00Z', speed: SPEED } });
  const agent = await attachAgent(server, name);
  await agent.start();
  const src = join(work.path, 'src');
  const spec: Array<[string, { random: { size: number; seed: string } }]> = [];
  for (let i = 0; i < FILES; i++) spec.push([`d${i % 8}/f${i}.bin`, { random: { size: 20_000 + i, seed: `r${i}` } }]);
  await writeTree(src, spec as TreeSpec);
  const source = `${name}:fs:${src}`;
  const g = await server.cli(['group', 'create', name, '--source', source, '--sync', '24h', '--points', '23:00', '--json']);
  assert.equal(g.code, 0, describeCli(['group', 'create'], g));
  await waitFor('the initial replica', async () => ((await listPoints(server, source)).length === 1 ? true : undefined), 60_000, 200);
  await waitIdle(server, 60_000);
  return { server, agent, src, source, target: join(work.path, 'recovered') };
}

/** Starts the throttled recovery and waits until some files have their real names at the target. */
async function startSlowRecovery(s: Setup): Promise<ApiJob> {
  // About 5 MB at 512 KiB/s: ten seconds of writing, whatever the machine's speed.
  const args = ['recover', s.source, '--point', 'latest', '--to', `${s.agent.name}:${s.target}`, '--throttle', '512KiB/s', '--json'];
  const job = await s.server.cliJson<ApiJob>(args);
  const written = await waitFor('some files recovered', async () => {
    const n = existsSync(s.target) ? (await listFilesRecursive(s.target)).filter((f) => !f.path.includes('.custos-tmp-')).length : 0;
    return n >= BEFORE_KILL ? n : undefined;
  }, 60_000, 50);
  assert.ok(written < FILES, 'the recovery finished before the kill');
  return job;
}

/** Waits for the job to end and checks: succeeded on a later attempt, identical files not rewritten, the tree as the source. */
async function checkCompleted(s: Setup, id: number): Promise<string[]> {
  const done = await waitFor(`job ${id} to finish`, async () => {
    const j = await s.server.cliJson<ApiJob>(['job', 'show', String(id), '--json']);
    return ['succeeded', 'failed', 'cancelled'].includes(j.state) ? j : undefined;
  }, 180_000, 300);
  const log = (done.log ?? []).map((l) => l.message);
  assert.equal(done.state, 'succeeded', `${JSON.stringify(done)}\n${log.join('\n')}`);
  assert.ok(done.attempts >= 2, `the job was retried: ${JSON.stringify(done)}`);
  const result = done.result as { files: number; identical: number };
  assert.equal(result.files + result.identical, FILES, JSON.stringify(result));
  assert.ok(result.identical >= BEFORE_KILL, `files complete before the kill are found identical: ${JSON.stringify(result)}\n${log.join("\n")}`);
  assert.ok(result.files <= FILES - BEFORE_KILL, JSON.stringify(result));
  assert.ok(log.some((l) => l.startsWith('recovering to ') && l.includes('conflict overwrite, security point, throttle 512KiB/s')), log.join('\n'));
  assert.ok(log.some((l) => l.includes(`already identical, not rewritten: ${result.identical}`)), log.join('\n'));
  const diff = diffDigests(await treeDigest(s.src), await treeDigest(s.target));
  assert.deepEqual(diff, [], `the recovered tree differs:\n${diff.join('\n')}`);
  return log;
}

describe('server mode: a recovery interrupted by a kill', { timeout: 300_000 }, () => {
  after(async () => {
    await stopAllProcesses();
    await cleanupTempDirs();
  });

  test('of the agent (SIGKILL) is retried when the agent is back and completes; files already identical are not rewritten', async () => {
    const s = await setUp('resume-agent');
    const job = await startSlowRecovery(s);
    const killed = await s.agent.process!.kill();
    assert.equal(killed.signal, 'SIGKILL');
    await s.agent.start();
    const log = await checkCompleted(s, job.id);
    assert.ok(log.some((l) => /attempt 1 failed/.test(l)), log.join('\n'));
  });

  test('of the server (SIGKILL) is retried when the server is back and completes; files already identical are not rewritten', async () => {
    let s = await setUp('resume-server');
    const job = await startSlowRecovery(s);
    const killed = await s.server.process.kill();
    assert.equal(killed.signal, 'SIGKILL');
    // Restarted on the same data directory and port (the agent reconnects to the URL it was attached with), its clock not going back.
    const server = await startServer({ dataDir: s.server.dataDir, port: s.server.port, clock: { start: s.server.clockEstimate(), speed: SPEED } });
    s = { ...s, server };
    await waitFor('the agent to reconnect', async () => {
      const agents = await server.cliJson<ApiAgent[]>(['agent', 'list', '--json']);
      return agents.find((a) => a.name === s.agent.name)?.status === 'connected' ? true : undefined;
    }, 90_000, 300);
    const log = await checkCompleted(s, job.id);
    assert.ok(log.some((l) => /interrupted/.test(l)), log.join('\n'));
  });
});
