/**
 * Discovery with a real server, a real agent and a real PostgreSQL 15
 * cluster (initdb as postgres in a temporary directory, its own port and
 * socket directory): `custos source discover` lists the cluster as
 * `AGENT:postgres:PORT` with its version, data directory, size and owner,
 * and the root file system; a planted socket beside it is reported as not a
 * cluster; an operator and a viewer are refused; an unknown agent is 404;
 * every discovery is audited.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type { Discovery } from '../../src/protocol/rest/index.js';
import { postgresMissing, startTestCluster, type TestCluster } from '../helpers/postgres.js';
import { attachAgent, startServer, stopAllProcesses, type TestServer } from '../helpers/server.js';
import { cleanupTempDirs, describeCli, makeTempDir } from '../helpers/tree.js';

describe('server mode: discovering what a computer can protect, with a real PostgreSQL', { skip: postgresMissing() ?? false, timeout: 300_000 }, () => {
  let server: TestServer;
  let cluster: TestCluster;
  let liar: string;
  let planted: Server;

  before(async () => {
    cluster = await startTestCluster();
    // A socket planted by someone else in a directory the agent looks in: its lock names this test process.
    liar = (await makeTempDir('custos-e2e-pgliar-')).path;
    planted = createServer();
    await new Promise<void>((resolve) => planted.listen(join(liar, '.s.PGSQL.7'), resolve));
    writeFileSync(join(liar, '.s.PGSQL.7.lock'), `${process.pid}\n${cluster.dataDir}\n1\n7\n${liar}\n`);
    server = await startServer();
    const db1 = await attachAgent(server, 'db1');
    await db1.start(true, ['--pg-socket-dir', cluster.socketDir, '--pg-socket-dir', liar]);
  });

  after(async () => {
    planted?.close();
    await stopAllProcesses();
    cluster?.stop();
    await cleanupTempDirs();
  });

  test('the cluster is listed as db1:postgres:PORT with its version, data directory, size and owner; the planted socket is not a cluster', async () => {
    const d = await server.cliJson<Discovery>(['source', 'discover', 'db1', '--json']);
    assert.equal(d.agent, 'db1');
    const pg = d.instances.find((i) => i.port === cluster.port);
    assert.ok(pg, JSON.stringify(d.instances));
    assert.equal(pg.id, `db1:postgres:${cluster.port}`);
    assert.equal(pg.kind, 'postgres');
    assert.equal(pg.version, 15);
    assert.equal(pg.dataDirectory, cluster.dataDir);
    assert.equal(pg.socketDir, cluster.socketDir);
    assert.equal(pg.owner, 'postgres');
    assert.equal(pg.state, 'running');
    assert.equal(pg.protectable, true);
    assert.equal(pg.logMode, 'logs');
    assert.equal(pg.systemIdentifier, cluster.sql('SELECT system_identifier FROM pg_control_system()').trim());
    assert.ok(pg.sizeBytes > 20_000_000, String(pg.sizeBytes));
    assert.ok(!d.instances.some((i) => i.port === 7));
    const problem = d.problems.find((p) => p.path === join(liar, '.s.PGSQL.7'));
    assert.match(problem?.why ?? '', /is not a postgres server/);
    assert.ok(d.fileSystems.some((f) => f.mountPoint === '/' && f.sizeBytes > 0), JSON.stringify(d.fileSystems));

    const text = await server.cli(['source', 'discover', 'db1']);
    assert.equal(text.code, 0, describeCli(['source', 'discover', 'db1'], text));
    assert.match(text.stdout, new RegExp(`db1:postgres:${cluster.port} +15 +running +${cluster.dataDir.replace(/[.]/g, '\\.')} .* postgres +yes`));
    assert.match(text.stdout, /MOUNT POINT/);
    assert.match(text.stdout, new RegExp(`not a cluster: ${liar.replace(/[.]/g, '\\.')}/\\.s\\.PGSQL\\.7: pid \\d+ is not a postgres server`));
  });

  test('an operator and a viewer are refused, an unknown agent is 404, and each discovery is audited', async () => {
    for (const role of ['operator', 'viewer']) {
      const token = (await server.cli(['token', 'create', '--name', `t-${role}`, '--role', role])).stdout.trim();
      const r = await server.request('GET', '/api/agents/db1/discovery', { token });
      assert.equal(r.status, 403, r.text);
      const cli = await server.cli(['source', 'discover', 'db1'], { token });
      assert.notEqual(cli.code, 0);
      assert.match(cli.stderr, new RegExp(`role ${role} may not GET /api/agents/:name/discovery`));
    }
    assert.equal((await server.request('GET', '/api/agents/db1/discovery')).status, 401);
    const unknown = await server.cli(['source', 'discover', 'nobody']);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /agent nobody/);
    const entries = await server.cliJson<Array<{ action: string; target: string | null; outcome: string; detail: unknown }>>(['audit', 'list', '--json', '--limit', '1000']);
    const discovers = entries.filter((e) => e.action === 'agent.discover');
    assert.ok(discovers.some((e) => e.target === 'db1' && e.outcome === 'ok'), JSON.stringify(discovers));
    assert.ok(discovers.some((e) => e.target === 'nobody' && e.outcome === 'failed'), 'the unknown agent');
    assert.equal(entries.filter((e) => e.outcome === 'denied' && JSON.stringify(e.detail).includes('/api/agents/:name/discovery')).length, 5, 'the operator and the viewer (REST and CLI each) and the call without a token');
  });
});
