/**
 * Server mode (issue 11 §2): a recovery interrupted by a kill of the agent
 * (SIGKILL) completes when the job is retried: a real server and agent
 * process; the recovery is throttled (--throttle) so the kill lands
 * mid-way on any machine, without a race on timing. The retried job leaves
 * a tree identical to the source, and its result shows that the files
 * complete before the kill were found identical and not written again.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTempDirs, describeCli, diffDigests, listFilesRecursive, makeTempDir, memoryTmpBase, treeDigest, writeTree, type TreeSpec } from '../helpers/tree.js';
import { attachAgent, listPoints, startServer, stopAllProcesses, waitFor, waitIdle, type ApiJob } from '../helpers/server.js';

const FILES = 240;

describe('server mode: a recovery interrupted by a kill of the agent', { timeout: 300_000 }, () => {
  after(async () => {
    await stopAllProcesses();
    await cleanupTempDirs();
  });

  test('is retried and completes; files already identical are not rewritten', async () => {
    const work = await makeTempDir('custos-e2e-recover-resume-', { base: memoryTmpBase() });
    // The server's clock runs 60× faster: the retry 30 s after the failed attempt comes in half a second.
    const server = await startServer({ clock: { start: '2026-03-02T08:00:00Z', speed: 60 } });
    const agent = await attachAgent(server, 'resume');
    await agent.start();
    const src = join(work.path, 'src');
    const spec: Array<[string, { random: { size: number; seed: string } }]> = [];
    for (let i = 0; i < FILES; i++) spec.push([`d${i % 8}/f${i}.bin`, { random: { size: 20_000 + i, seed: `r${i}` } }]);
    await writeTree(src, spec as TreeSpec);
    const source = `resume:fs:${src}`;
    const g = await server.cli(['group', 'create', 'resume', '--source', source, '--sync', '24h', '--points', '23:00', '--json']);
    assert.equal(g.code, 0, describeCli(['group', 'create'], g));
    await waitFor('the initial replica', async () => ((await listPoints(server, source)).length === 1 ? true : undefined), 60_000, 200);
    await waitIdle(server, 60_000);

    const target = join(work.path, 'recovered');
    // About 5 MB at 512 KiB/s: ten seconds of writing, whatever the machine's speed.
    const args = ['recover', source, '--point', 'latest', '--to', `resume:${target}`, '--throttle', '512KiB/s', '--json'];
    const started = await server.cliJson<ApiJob>(args);
    const before = await waitFor('some files recovered', async () => {
      const n = existsSync(target) ? (await listFilesRecursive(target)).filter((f) => !f.path.includes('.custos-tmp-')).length : 0;
      return n >= 40 ? n : undefined;
    }, 60_000, 50);
    await agent.process!.kill();
    assert.ok(before < FILES);
    await agent.start();

    const done = await waitFor(`job ${started.id} to finish`, async () => {
      const j = await server.cliJson<ApiJob>(['job', 'show', String(started.id), '--json']);
      return ['succeeded', 'failed', 'cancelled'].includes(j.state) ? j : undefined;
    }, 180_000, 300);
    const log = (done.log ?? []).map((l) => l.message);
    assert.equal(done.state, 'succeeded', `${JSON.stringify(done)}\n${log.join('\n')}`);
    assert.ok(done.attempts >= 2, `the job was retried: ${JSON.stringify(done)}`);
    const result = done.result as { files: number; identical: number };
    assert.equal(result.files + result.identical, FILES, JSON.stringify(result));
    assert.ok(result.identical >= 40, `files complete before the kill are found identical: ${JSON.stringify(result)}`);
    assert.ok(result.files <= FILES - 40, JSON.stringify(result));
    assert.ok(log.some((l) => l.startsWith('recovering to ') && l.includes('conflict overwrite, security point, throttle 512KiB/s')), log.join('\n'));
    assert.ok(log.some((l) => l.includes(`already identical, not rewritten: ${result.identical}`)), log.join('\n'));
    const diff = diffDigests(await treeDigest(src), await treeDigest(target));
    assert.deepEqual(diff, [], `the recovered tree differs:\n${diff.join('\n')}`);
  });
});
