/**
 * The server maintains its pool, end to end with a real protection agent
 * process: points deleted with their protection group are collected by a
 * server gc job (the pool's bytes on disk go down, the other group's points
 * still recover bit for bit), and a server verify job finds a flipped byte
 * and raises an alert naming the damaged recovery point.
 *
 * The server runs in this process (startServer from src/server) so the test
 * can ask its job engine for the gc and verify jobs the REST routes
 * (POST /api/pool/gc, /api/pool/verify) will queue, with a zero grace
 * period; the agent and every CLI command are real processes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanupTempDirs, describeCli, diffDigests, makeTempDir, memoryTmpBase, treeDigest, writeTree } from '../helpers/tree.js';
import { attachAgent, stopAllProcesses, waitFor, type ApiJob, type ApiPoint, type TestAgent } from '../helpers/server.js';
import { startInProcessServer, waitJobRow as waitJob, waitNoJobs as waitIdle, type InProcessServer as Harness } from '../helpers/in-process-server.js';

const MiB = 1024 * 1024;
const T1 = Date.UTC(2026, 1, 20, 9, 30, 0, 123);

async function poolBytesUsed(h: Harness): Promise<number> {
  const r = await h.server.cliJson<{ directories: Array<{ path: string; bytesUsed: number }> }>(['pool', 'list', '--json']);
  const d = r.directories[0]!;
  assert.equal(typeof d.bytesUsed, 'number', JSON.stringify(r));
  return d.bytesUsed;
}

async function packFiles(poolDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(join(poolDir, 'packs'), { withFileTypes: true })) {
    if (d.isDirectory()) for (const f of await readdir(join(poolDir, 'packs', d.name))) out.push(join(poolDir, 'packs', d.name, f));
  }
  return out;
}

describe('the server maintains its pool', { timeout: 300_000 }, () => {
  let h: Harness;
  let agent: TestAgent;
  let work: string;

  before(async () => {
    work = (await makeTempDir('custos-e2e-maint-', { base: memoryTmpBase() })).path;
    h = await startInProcessServer(join(work, 'server'), { maintenance: { gcGraceMs: 0 } });
    agent = await attachAgent(h.server, 'm1');
    await agent.start();
  });

  after(async () => {
    await stopAllProcesses();
    await h?.close();
    await cleanupTempDirs();
  });

  const pointsOf = (source: string) => h.server.cliJson<ApiPoint[]>(['point', 'list', source, '--json']);

  test('points deleted with their group: a gc job frees their packs; the other group still recovers bit for bit', async () => {
    const a = join(work, 'a');
    const b = join(work, 'b');
    await writeTree(a, { 'one.bin': { random: { size: 3 * MiB, seed: 'maint-a1' } }, 'two.bin': { random: { size: 2 * MiB, seed: 'maint-a2' } } }, { mtimeMs: T1 });
    await writeTree(b, { 'keep.bin': { random: { size: MiB, seed: 'maint-b1' } }, 'sub/note.txt': 'kept\n' }, { mtimeMs: T1 });
    const sa = `m1:fs:${a}`;
    const sb = `m1:fs:${b}`;
    for (const [g, s] of [['ga', sa], ['gb', sb]] as const) {
      const r = await h.server.cli(['group', 'create', g, '--source', s, '--sync', '24h', '--points', '23:00', '--json']);
      assert.equal(r.code, 0, describeCli(['group', 'create', g], r));
    }
    await waitFor('the initial replicas', async () => (await pointsOf(sa)).length === 1 && (await pointsOf(sb)).length === 1, 120_000);
    await waitIdle(h);
    // A second point of A with new data.
    await writeTree(a, { 'three.bin': { random: { size: 2 * MiB, seed: 'maint-a3' } } }, { mtimeMs: T1 + 1000 });
    const pc = await h.server.cliJson<ApiJob>(['point', 'create', sa, '--json']);
    assert.equal((await waitJob(h, pc.id)).state, 'succeeded');
    await waitIdle(h);
    const digestB = await treeDigest(b);
    const [pointB] = await pointsOf(sb);

    // A synchronization leaves a replica-only point beside the recovery points.
    assert.equal((await h.server.cli(['sync', sa, '--wait'])).code, 0);
    await waitIdle(h);
    const held = await h.running.context.catalog.listPoints(sa);
    const recoveryHeld = held.filter((p) => p.recovery_point === 1).length;
    assert.deepEqual([recoveryHeld, held.length - recoveryHeld], [2, 1]);

    const before = await poolBytesUsed(h);
    const del = await h.server.cli(['group', 'delete', 'ga', '--delete-points', '--json']);
    assert.equal(del.code, 0, describeCli(['group', 'delete'], del));
    const counts = JSON.parse(del.stdout) as { recoveryPointsDeleted: number; replicaOnlyPointsDeleted: number };
    assert.deepEqual([counts.recoveryPointsDeleted, counts.replicaOnlyPointsDeleted], [2, 1], 'recovery points and replica-only points counted apart');
    assert.equal((await h.running.context.catalog.listPoints(sa)).length, 0);
    // Deleting points frees nothing by itself.
    const ctx = h.running.context;
    const gc = await ctx.engine.requestPoolJob('gc', {}, 'test: on demand');
    assert.equal(gc.kind, 'gc');
    const again = await ctx.engine.requestPoolJob('gc', {}, 'test: asked twice');
    assert.ok(again.id === gc.id || again.state !== 'queued' || (await ctx.catalog.job(gc.id))!.state !== 'queued', 'a queued gc is reused');
    const done = await waitJob(h, gc.id);
    assert.equal(done.state, 'succeeded', `${done.error}`);
    const result = JSON.parse(done.result!) as { packsDeleted: number; bytesFreed: number; cursor: string | null };
    assert.ok(result.packsDeleted >= 1 && result.bytesFreed >= 7 * MiB, done.result!);
    assert.equal(result.cursor, null, 'a small pool is swept in one run');
    const afterGc = await poolBytesUsed(h);
    assert.ok(afterGc <= before - 7 * MiB, `pool bytes went from ${before} to ${afterGc}`);

    // B is intact: it recovers bit for bit.
    const target = join(work, 'recovered-b');
    const args = ['recover', sb, '--point', pointB!.id, '--to', `m1:${target}`, '--wait', '--json', '--timeout', '2m'];
    const r = await h.server.cli(args, { timeoutMs: 150_000 });
    assert.equal(r.code, 0, describeCli(args, r));
    assert.deepEqual(diffDigests(digestB, await treeDigest(target)), []);
    // And the pool verifies clean.
    const verify = await ctx.engine.requestPoolJob('verify', { full: true }, 'test');
    const v = await waitJob(h, verify.id);
    assert.equal(v.state, 'succeeded', `${v.error}`);
    assert.equal((JSON.parse(v.result!) as { ok: boolean }).ok, true);
  });

  test('a verify job finds a flipped byte and raises an alert naming the damaged point', async () => {
    const c = join(work, 'c');
    await writeTree(c, { 'data.bin': { random: { size: 4 * MiB, seed: 'maint-c1' } } }, { mtimeMs: T1 });
    const sc = `m1:fs:${c}`;
    const g = await h.server.cli(['group', 'create', 'gc-damage', '--source', sc, '--sync', '24h', '--points', '23:00', '--json']);
    assert.equal(g.code, 0, describeCli(['group', 'create'], g));
    const [pointC] = await waitFor('the replica of c', async () => {
      const p = await pointsOf(sc);
      return p.length === 1 ? p : undefined;
    }, 120_000);
    await waitIdle(h);
    // The largest pack holds c's 4 MiB of random data (newer than, and larger than, anything of b).
    const ctx = h.running.context;
    const packs = (await packFiles(ctx.pool.dir)).map((f) => ({ f, s: statSync(f) })).sort((x, y) => y.s.mtimeMs - x.s.mtimeMs || y.s.size - x.s.size);
    const victim = packs.find((p) => p.s.size > 3 * MiB)!;
    assert.ok(victim, 'a pack with the new data');
    const fd = openSync(victim.f, 'r+');
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, 1000);
    byte[0] = byte[0]! ^ 0xff;
    writeSync(fd, byte, 0, 1, 1000);
    closeSync(fd);

    const verify = await ctx.engine.requestPoolJob('verify', { full: true }, 'test');
    const v = await waitJob(h, verify.id);
    assert.equal(v.state, 'failed', `verify: ${v.state} ${v.result}`);
    assert.match(v.error ?? '', new RegExp(pointC!.id), 'the job names the damaged point');
    const alerts = await h.server.cliJson<Array<{ kind: string; subject: string; message: string; state: string }>>(['alert', 'list', '--json']);
    const alert = alerts.find((x) => x.kind === 'pool-damaged' && x.state === 'active');
    assert.ok(alert, JSON.stringify(alerts));
    assert.equal(alert.subject, sc);
    assert.match(alert.message, new RegExp(pointC!.id));
    // No other data source's point is named.
    assert.ok(!alerts.some((x) => x.kind === 'pool-damaged' && x.subject !== sc), JSON.stringify(alerts));
  });
});
