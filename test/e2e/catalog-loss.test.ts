/**
 * Losing the catalog is survivable (issue 8, finding 3), with real
 * processes: a protection server and an agent, three recovery points, a
 * catalog backup taken after the first. The catalog is deleted: the server
 * refuses to start (instead of starting fresh and forgetting everything);
 * `custos server catalog restore` puts the backup back and resyncs it with
 * the pool (the two later points are found and registered); the agent
 * reconnects and synchronizes; all three points are listed and recover bit
 * for bit; an agent attached after the backup is accepted again (from the
 * CA's issuance record). Also: a damaged catalog (garbage bytes) is refused with a clear
 * line and its own exit status, --new-catalog starts anyway keeping the
 * admin token and the damaged file, and the backup commands' errors (no such
 * backup, server running) are clear lines.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanupTempDirs, type TreeSpec, describeCli, diffDigests, makeTempDir, memoryTmpBase, runCli, seededBytes, treeDigest, writeTree } from '../helpers/tree.js';
import {
  attachAgent,
  freePort,
  listJobs,
  listPoints,
  startServer,
  stopAllProcesses,
  waitFor,
  waitIdle,
  type ApiAgent,
  type ApiJob,
  type ApiSource,
  type TestServer,
} from '../helpers/server.js';

after(async () => {
  await stopAllProcesses();
  await cleanupTempDirs();
});

const NO_SERVER_ENV = { CUSTOS_SERVER: undefined, CUSTOS_TOKEN: undefined, CUSTOS_CA: undefined, TZ: 'UTC' };
const T1 = Date.UTC(2026, 1, 20, 9, 30, 0, 123);

/** `custos ...args` with no server configured (the offline catalog commands, a server start that must fail). */
function offline(args: readonly string[], timeoutMs = 120_000) {
  return runCli(args, { env: NO_SERVER_ENV, timeoutMs });
}

async function recoverAndCompare(server: TestServer, source: string, point: string, target: string, expected: Map<string, string>, what: string): Promise<void> {
  const args = ['recover', source, '--point', point, '--to', `keeper:${target}`, '--wait', '--json', '--timeout', '5m'];
  const r = await server.cli(args, { timeoutMs: 330_000 });
  assert.equal(r.code, 0, describeCli(args, r));
  const diff = diffDigests(expected, await treeDigest(target));
  assert.deepEqual(diff, [], `${what}: the recovered tree differs:\n${diff.join('\n')}`);
}

function catalogFiles(dataDir: string): string[] {
  return readdirSync(dataDir).filter((n) => n.startsWith('catalog.sqlite')).sort();
}

describe('catalog loss', { timeout: 600_000 }, () => {
  test('deleted catalog: refused start, restore of an older backup, resync, agent back, all three points recover', async () => {
    const work = await makeTempDir('custos-e2e-catalog-loss-', { base: memoryTmpBase() });
    const port = await freePort();
    const clockStart = '2026-03-02T10:00:00Z';
    let server = await startServer({ port, clock: { start: clockStart, speed: 1 } });
    const dataDir = server.dataDir;
    const adminToken = server.adminToken;
    const agent = await attachAgent(server, 'keeper');
    await agent.start();

    const src = join(work.path, 'src');
    await writeTree(src, { 'a.txt': 'first version\n', 'sub/b.bin': { random: { size: 300_000, seed: 'loss-b' } } }, { mtimeMs: T1 });
    const source = `keeper:fs:${src}`;
    const digests: Array<Map<string, string>> = [await treeDigest(src)];
    const g = await server.cli(['group', 'create', 'loss-group', '--source', source, '--sync', '24h', '--points', '23:00', '--json']);
    assert.equal(g.code, 0, describeCli(['group', 'create'], g));
    const first = await waitFor('the initial replica', async () => {
      const pts = await listPoints(server, source);
      return pts.length === 1 ? pts[0] : undefined;
    }, 120_000);
    await waitIdle(server, 120_000);

    // The catalog backup taken after the first point.
    const backupArgs = ['server', 'catalog', 'backup', '--wait', '--json', '--timeout', '2m'];
    const b = await server.cli(backupArgs);
    assert.equal(b.code, 0, describeCli(backupArgs, b));
    const backupJob = JSON.parse(b.stdout) as ApiJob;
    assert.equal(backupJob.kind, 'catalog-backup');
    assert.equal(backupJob.state, 'succeeded');
    const backupId = String((backupJob.result as { backup?: string }).backup);
    assert.match(backupId, /^\d{8}T\d{6}Z-[0-9a-f]{8}$/);
    const kinds = (await listJobs(server, ['--kind', 'catalog-backup'])).map((j) => j.kind);
    assert.ok(kinds.length >= 1 && kinds.every((k) => k === 'catalog-backup'), 'job list --kind catalog-backup shows them');

    // An agent attached after the backup: the catalog backup does not know it, the CA's issuance record does.
    const late = await attachAgent(server, 'late');
    await late.start();

    // Two more recovery points, each after a change.
    const pointIds = [first.id];
    const changes: TreeSpec[] = [{ 'a.txt': 'second version, longer\n' }, { 'c/new.txt': 'third\n', 'sub/b.bin': seededBytes('loss-b2', 250_000) }];
    for (const [i, change] of changes.entries()) {
      await writeTree(src, change, { mtimeMs: T1 + (i + 1) * 86_400_000 });
      digests.push(await treeDigest(src));
      const args = ['point', 'create', source, '--wait', '--json', '--timeout', '3m'];
      const r = await server.cli(args, { timeoutMs: 200_000 });
      assert.equal(r.code, 0, describeCli(args, r));
      pointIds.push(String(((JSON.parse(r.stdout) as ApiJob).result as { point?: string }).point));
    }
    assert.deepEqual((await listPoints(server, source)).map((p) => p.id), pointIds);
    await waitIdle(server, 120_000);

    // Restore refuses while the server runs on the directory (the pool lock tells), and changes nothing.
    const busy = await offline(['server', 'catalog', 'restore', '--data', dataDir]);
    assert.equal(busy.code, 6, describeCli(['server', 'catalog', 'restore'], busy));
    assert.match(busy.stderr, /needs the server stopped.*locked by server.*Stop the server first/);
    assert.deepEqual(catalogFiles(dataDir).filter((n) => !n.endsWith('-wal') && !n.endsWith('-shm')), ['catalog.sqlite']);

    // The catalog is lost.
    const clockAtStop = server.clockEstimate();
    assert.equal((await server.process.stop()).code, 0);
    for (const f of catalogFiles(dataDir)) await rm(join(dataDir, f));
    const refused = await offline(['server', 'start', '--data', dataDir, '--listen', `127.0.0.1:${port}`]);
    assert.equal(refused.code, 4, describeCli(['server', 'start'], refused));
    assert.match(refused.stderr, /catalog .*catalog\.sqlite is missing, but .* holds a storage pool, a CA, an admin token/);
    assert.match(refused.stderr, new RegExp(`custos server catalog restore --data ${dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.equal(refused.stderr.trim().split('\n').length, 1, 'one line');
    assert.ok(!existsSync(join(dataDir, 'catalog.sqlite')), 'the refused start created no catalog');
    assert.equal(readFileSync(join(dataDir, 'admin.token'), 'utf8').trim(), adminToken, 'admin.token is untouched');

    // Backup errors are clear lines.
    const noSuch = await offline(['server', 'catalog', 'restore', '--data', dataDir, '19990101']);
    assert.equal(noSuch.code, 4, describeCli(['server', 'catalog', 'restore', '19990101'], noSuch));
    assert.match(noSuch.stderr, /no catalog backup 19990101 .*custos server catalog list/);
    assert.ok(!existsSync(join(dataDir, 'catalog.sqlite')));

    const listArgs = ['server', 'catalog', 'list', '--data', dataDir, '--json'];
    const listed = await offline(listArgs);
    assert.equal(listed.code, 0, describeCli(listArgs, listed));
    const backups = JSON.parse(listed.stdout) as Array<{ id: string; time: string }>;
    assert.ok(backups.some((x) => x.id === backupId), `the backup is listed: ${listed.stdout}`);

    // Restore the backup taken after the first point; it resyncs with the pool.
    const restoreArgs = ['server', 'catalog', 'restore', '--data', dataDir, backupId, '--json'];
    const restored = await offline(restoreArgs);
    assert.equal(restored.code, 0, describeCli(restoreArgs, restored));
    const r = JSON.parse(restored.stdout) as {
      restored: { id: string };
      setAside: string | null;
      resync: { pointsRegistered: Array<{ id: string; source: string }>; pointsDropped: unknown[]; replicasInconsistent: string[]; sourcesAdded: string[]; agentsRegistered: string[] };
    };
    assert.equal(r.restored.id, backupId);
    assert.equal(r.setAside, null);
    assert.deepEqual(r.resync.pointsRegistered.map((p) => [p.id, p.source]), [[pointIds[1], source], [pointIds[2], source]]);
    assert.deepEqual(r.resync.pointsDropped, []);
    assert.deepEqual(r.resync.sourcesAdded, []);
    assert.deepEqual(r.resync.replicasInconsistent, [source]);
    assert.deepEqual(r.resync.agentsRegistered, ['late'], 'the agent attached after the backup is registered from the issuance record');

    // A second resync finds nothing to do.
    const again = await offline(['server', 'resync', '--data', dataDir, '--json']);
    assert.equal(again.code, 0, describeCli(['server', 'resync'], again));
    const second = JSON.parse(again.stdout) as Record<string, unknown[] | number>;
    for (const [k, v] of Object.entries(second)) assert.ok(Array.isArray(v) ? v.length === 0 : v === 0, `second resync changed ${k}: ${JSON.stringify(v)}`);

    // The server starts on the restored catalog; the agent reconnects by itself and synchronizes.
    server = await startServer({ dataDir, port, clock: { start: clockAtStop, speed: 1 } });
    assert.equal(server.adminToken, adminToken);
    await waitFor('agents keeper and late connected', async () => {
      const agents = await server.cliJson<ApiAgent[]>(['agent', 'list', '--json']);
      return ['keeper', 'late'].every((n) => agents.some((a) => a.name === n && a.status === 'connected'));
    }, 120_000, 500);
    await waitFor('the automatic consistency check', async () => {
      const jobs = await listJobs(server, ['--source', source]);
      return jobs.some((j) => j.kind === 'consistency-check' && j.state === 'succeeded') ? true : undefined;
    }, 180_000, 1000);
    // The restore and the resync, run with the server stopped, are in the audit log.
    const audit = await server.request('GET', '/api/audit?limit=1000', { token: adminToken });
    assert.equal(audit.status, 200, audit.text);
    const entries = audit.json<Array<{ action: string; target: string | null; actor: string }>>();
    assert.ok(entries.some((e) => e.action === 'catalog.restore' && e.target === backupId && /local/.test(e.actor)), `audit: ${audit.text.slice(0, 2000)}`);
    assert.ok(entries.some((e) => e.action === 'catalog.resync'), 'the second resync is audited');
    const sync = await server.cli(['sync', source, '--wait', '--timeout', '3m'], { timeoutMs: 200_000 });
    assert.equal(sync.code, 0, describeCli(['sync', source, '--wait'], sync));
    const sources = await server.cliJson<ApiSource[]>(['source', 'list', '--json']);
    assert.equal(sources.find((s) => s.id === source)?.replicaState, 'ok');

    const listedPoints = (await listPoints(server, source)).map((p) => p.id);
    for (const id of pointIds) assert.ok(listedPoints.includes(id), `point ${id} is listed: ${JSON.stringify(listedPoints)}`);
    for (const [i, id] of pointIds.entries()) {
      await recoverAndCompare(server, source, id, join(work.path, `recovered-${i + 1}`), digests[i]!, `point ${i + 1}`);
    }
    await agent.process!.stop();
    await late.process!.stop();
    assert.equal((await server.process.stop()).code, 0);
  });

  test('damaged catalog: a clear refusal and exit status 7; --new-catalog starts anyway, keeps the admin token and the damaged file', async () => {
    let server = await startServer();
    const { dataDir, adminToken } = server;
    assert.equal((await server.process.stop()).code, 0);
    for (const f of catalogFiles(dataDir)) await rm(join(dataDir, f));
    const garbage = seededBytes('garbage', 64 * 1024);
    await writeFile(join(dataDir, 'catalog.sqlite'), garbage);

    const args = ['server', 'start', '--data', dataDir, '--listen', '127.0.0.1:0'];
    const refused = await offline(args);
    assert.equal(refused.code, 7, describeCli(args, refused));
    assert.match(refused.stderr, /^custos: the catalog .*catalog\.sqlite is damaged \(.+\); the server does not start on it\. Restore the newest catalog backup: custos server catalog restore --data /);
    assert.equal(refused.stderr.trim().split('\n').length, 1, 'one line');
    assert.deepEqual(readFileSync(join(dataDir, 'catalog.sqlite')), garbage, 'the damaged catalog is left as it was');

    server = await startServer({ dataDir, extraArgs: ['--new-catalog'] });
    assert.equal(server.adminToken, adminToken, 'admin.token is not replaced');
    const agents = await server.request('GET', '/api/agents', { token: adminToken });
    assert.equal(agents.status, 200, `the existing admin token works on the new catalog: ${agents.text}`);
    const aside = catalogFiles(dataDir).filter((n) => n.startsWith('catalog.sqlite.damaged-'));
    assert.equal(aside.length, 1, `the damaged catalog is kept aside: ${catalogFiles(dataDir).join(' ')}`);
    assert.deepEqual(readFileSync(join(dataDir, aside[0]!)), garbage);
    assert.equal((await server.process.stop()).code, 0);
  });
});
