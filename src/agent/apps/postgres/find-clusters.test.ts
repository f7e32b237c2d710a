import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postgresMissing, startTestCluster, type TestCluster } from '../../../../test/helpers/postgres.js';
import { parsePostmasterLock, systemIdentifierOf } from '../../../format/postgres/lock-file.js';
import { findClusters, parseLsClusters } from './find-clusters.js';
import { parseAnswerBody } from '../../../protocol/validate.js';

test("pg_lsclusters' JSON, strictly", () => {
  const text = JSON.stringify([
    { version: 15, cluster: 'main', port: '5432', running: 0, pgdata: '/var/lib/postgresql/15/main', socketdir: '/var/run/postgresql', owneruid: 101 },
    { version: 15, cluster: '../x', port: '5433', running: 1, pgdata: '/d', owneruid: 101 },
    { version: 15, cluster: 'b', port: '70000', running: 1, pgdata: '/d', owneruid: 101 },
    { version: 15, cluster: 'c', port: '5434', running: 1, pgdata: 'relative', owneruid: 101 },
    'junk', null,
  ]);
  assert.deepEqual(parseLsClusters(text), [{ version: 15, name: '15/main', port: 5432, running: false, dataDirectory: '/var/lib/postgresql/15/main', socketDir: '/var/run/postgresql', ownerUid: 101 }]);
  assert.deepEqual(parseLsClusters('not json'), []);
  assert.deepEqual(parseLsClusters('{}'), []);
});

describe('clusters found through their sockets, with a real PostgreSQL', { skip: postgresMissing() ?? false, timeout: 120_000 }, () => {
  let cluster: TestCluster;
  let liar: string;
  const servers: Server[] = [];
  before(async () => {
    cluster = await startTestCluster();
    liar = mkdtempSync(join(tmpdir(), 'custos-liar-'));
  });
  after(() => {
    for (const s of servers) s.close();
    cluster?.stop();
    if (liar) rmSync(liar, { recursive: true, force: true });
  });

  const listen = (path: string) => new Promise<void>((resolve) => {
    const s = createServer();
    servers.push(s);
    s.listen(path, resolve);
  });

  test('the test cluster: port, socket directory, data directory, version, identifier, owner, size; what its files say', async () => {
    const found = await findClusters({ socketDirs: [cluster.socketDir, cluster.socketDir], listed: [] });
    assert.deepEqual(found.problems, []);
    assert.equal(found.instances.length, 1);
    const [c] = found.instances;
    assert.equal(c!.port, cluster.port);
    assert.equal(c!.socketDir, cluster.socketDir);
    assert.equal(c!.dataDirectory, cluster.dataDir);
    assert.equal(c!.version, Number(cluster.sql('SHOW server_version_num').trim().slice(0, 2)));
    assert.equal(c!.systemIdentifier, cluster.sql('SELECT system_identifier FROM pg_control_system()').trim());
    assert.equal(c!.owner, 'postgres');
    assert.equal(c!.state, 'running');
    assert.equal(c!.protectable, true);
    assert.equal(c!.logMode, 'logs');
    assert.equal(c!.why, null);
    assert.ok(c!.sizeBytes > 20_000_000, `${c!.sizeBytes} bytes`);
    // The real files parse as the unit tests say.
    const lock = parsePostmasterLock(readFileSync(join(cluster.socketDir, `.s.PGSQL.${cluster.port}.lock`)), 'socket');
    assert.equal(lock.port, cluster.port);
    assert.equal(lock.socketDir, cluster.socketDir);
    assert.equal(lock.dataDirectory, cluster.dataDir);
    assert.equal(parsePostmasterLock(readFileSync(join(cluster.dataDir, 'postmaster.pid')), 'data').status, 'ready');
    assert.equal(systemIdentifierOf(readFileSync(join(cluster.dataDir, 'global/pg_control'))), c!.systemIdentifier);
    // pg_lsclusters' name is added to a running cluster it knows.
    const named = await findClusters({ socketDirs: [cluster.socketDir], listed: [{ version: 15, name: '15/test', port: cluster.port, running: true, dataDirectory: cluster.dataDir, socketDir: cluster.socketDir, ownerUid: cluster.owner.uid }] });
    assert.equal(named.instances[0]!.name, '15/test');
  });

  test('sockets that lie are problems with a reason, never clusters', async () => {
    const lock = readFileSync(join(cluster.socketDir, `.s.PGSQL.${cluster.port}.lock`), 'utf8');
    const pid = lock.split('\n')[0]!;
    // A socket whose lock names this test process: alive, but not postgres.
    await listen(join(liar, '.s.PGSQL.1001'));
    writeFileSync(join(liar, '.s.PGSQL.1001.lock'), `${process.pid}\n${cluster.dataDir}\n1\n1001\n${liar}\n`);
    // The real postmaster's pid, but a lock file root wrote (not the server's owner).
    await listen(join(liar, '.s.PGSQL.1002'));
    writeFileSync(join(liar, '.s.PGSQL.1002.lock'), lock.replace(`\n${cluster.port}\n`, '\n1002\n'));
    // Owned by postgres, but its data directory is root's.
    await listen(join(liar, '.s.PGSQL.1003'));
    writeFileSync(join(liar, '.s.PGSQL.1003.lock'), `${pid}\n${liar}\n1\n1003\n${liar}\n`);
    chownSync(join(liar, '.s.PGSQL.1003.lock'), cluster.owner.uid, cluster.owner.gid);
    chownSync(join(liar, '.s.PGSQL.1003'), cluster.owner.uid, cluster.owner.gid);
    // The real lock file's twin, owned by postgres, beside a socket root made.
    await listen(join(liar, '.s.PGSQL.1010'));
    writeFileSync(join(liar, '.s.PGSQL.1010.lock'), lock.replace(`\n${cluster.port}\n`, '\n1010\n'));
    chownSync(join(liar, '.s.PGSQL.1010.lock'), cluster.owner.uid, cluster.owner.gid);
    // A lock file that is a link to the real one.
    await listen(join(liar, '.s.PGSQL.1004'));
    symlinkSync(join(cluster.socketDir, `.s.PGSQL.${cluster.port}.lock`), join(liar, '.s.PGSQL.1004.lock'));
    // A dead pid, garbage, no lock file at all, a lock naming another port, and a plain file with a socket's name.
    await listen(join(liar, '.s.PGSQL.1005'));
    writeFileSync(join(liar, '.s.PGSQL.1005.lock'), `4194000\n/d\n1\n1005\n${liar}\n`);
    await listen(join(liar, '.s.PGSQL.1006'));
    writeFileSync(join(liar, '.s.PGSQL.1006.lock'), '\x1b[31mhello\n');
    await listen(join(liar, '.s.PGSQL.1007'));
    await listen(join(liar, '.s.PGSQL.1008'));
    writeFileSync(join(liar, '.s.PGSQL.1008.lock'), lock);
    writeFileSync(join(liar, '.s.PGSQL.1009'), '');
    // A data directory with a terminal escape and a very long one: refused, and the answer stays printable and short.
    await listen(join(liar, '.s.PGSQL.1011'));
    writeFileSync(join(liar, '.s.PGSQL.1011.lock'), `${process.pid}\n/x\x1b[2J\n1\n1011\n${liar}\n`);
    await listen(join(liar, '.s.PGSQL.1012'));
    writeFileSync(join(liar, '.s.PGSQL.1012.lock'), `${process.pid}\n/${'y'.repeat(4000)}\n1\n1012\n${liar}\n`);

    const found = await findClusters({ socketDirs: [liar], listed: [] });
    assert.deepEqual(found.instances, []);
    const why = Object.fromEntries(found.problems.map((p) => [p.path.slice(liar.length + 1), p.why]));
    assert.match(why['.s.PGSQL.1001']!, /is not a postgres server/);
    assert.match(why['.s.PGSQL.1002']!, /lock file belongs to uid 0/);
    assert.match(why['.s.PGSQL.1003']!, /data directory belongs to uid 0/);
    assert.match(why['.s.PGSQL.1004']!, /no readable lock file.*ELOOP/);
    assert.match(why['.s.PGSQL.1005']!, /not running: a socket left behind/);
    assert.match(why['.s.PGSQL.1006']!, /is not a PostgreSQL lock file/);
    assert.match(why['.s.PGSQL.1007']!, /no readable lock file/);
    assert.match(why['.s.PGSQL.1008']!, new RegExp(`names port ${cluster.port}`));
    assert.match(why['.s.PGSQL.1010']!, /the socket belongs to uid 0/);
    assert.equal(why['.s.PGSQL.1009'], undefined, 'not a socket: not looked at');
    assert.match(why['.s.PGSQL.1011']!, /line 2 is not an absolute data directory/);
    assert.match(why['.s.PGSQL.1012']!, /is not a postgres server/);
    assert.equal(found.problems.length, 11);
    // What the agent would send passes the server's validator.
    assert.doesNotThrow(() => parseAnswerBody({ kind: 'discover', fileSystems: [], instances: found.instances, problems: found.problems }));

    // With the real directory too: the cluster, and the liars beside it.
    const both = await findClusters({ socketDirs: [liar, cluster.socketDir], listed: [] });
    assert.equal(both.instances.length, 1);
    assert.equal(both.problems.length, 11);
  });

  test('a cluster pg_lsclusters knows and that is down is listed, not protectable, with how to start it', async () => {
    const found = await findClusters({ socketDirs: [], listed: [{ version: 15, name: '15/main', port: 5432, running: false, dataDirectory: cluster.dataDir + '-absent', socketDir: null, ownerUid: cluster.owner.uid }] });
    assert.equal(found.instances.length, 1);
    assert.equal(found.instances[0]!.state, 'down');
    assert.equal(found.instances[0]!.protectable, false);
    assert.match(found.instances[0]!.why!, /pg_ctlcluster 15 main start/);
  });
});
