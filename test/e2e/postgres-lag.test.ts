/**
 * The lag watch of a PostgreSQL data source (docs/design/postgresql.md
 * §5.6), through a real server, agent and cluster: the server looks at the
 * source's replication slot every 5 minutes of its clock (here 20 times
 * faster than real time); WAL written and not synchronized raises
 * `log-retained` once the slot holds the amount of `--slot-alert`, and a
 * synchronization that takes it resolves the alert at the next look.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { postgresMissing, startTestCluster, type TestCluster } from '../helpers/postgres.js';
import { attachAgent, startServer, stopAllProcesses, waitFor, type TestServer } from '../helpers/server.js';
import { cleanupTempDirs, describeCli } from '../helpers/tree.js';

type Alert = { kind: string; subject: string; message: string; state: string };

describe('server mode: the replication slot of a PostgreSQL data source is watched', { skip: postgresMissing() ?? false, timeout: 300_000 }, () => {
  let server: TestServer;
  let cluster: TestCluster;
  let source: string;

  before(async () => {
    cluster = await startTestCluster();
    server = await startServer({ clock: { start: '2026-12-08T08:00:00Z', speed: 20 }, extraArgs: ['--slot-alert', '64MiB'] });
    const db1 = await attachAgent(server, 'db1');
    await db1.start(true, ['--pg-socket-dir', cluster.socketDir]);
    source = `db1:postgres:${cluster.port}`;
  });

  after(async () => {
    await stopAllProcesses();
    cluster?.stop();
    await cleanupTempDirs();
  });

  const alertOf = async (): Promise<Alert | undefined> =>
    (await server.cliJson<Alert[]>(['alert', 'list', '--json'])).find((a) => a.kind === 'log-retained' && a.subject === source);

  test('WAL the synchronizations do not take raises log-retained at the amount set; a synchronization resolves it', async () => {
    // Synchronizations once a day: between them, the slot keeps what is written.
    const g = await server.cli(['group', 'create', 'databases', '--source', source, '--points', '23:00', '--sync', '24h']);
    assert.equal(g.code, 0, describeCli(['group', 'create'], g));
    await waitFor('the express full that makes the slot', async () => (await server.cliJson<{ replicaState: string }>(['source', 'show', source, '--json'])).replicaState === 'ok', 120_000);
    assert.equal(await alertOf(), undefined, 'nothing held yet');
    cluster.sql("CREATE TABLE filler AS SELECT g AS i, repeat('x', 200) AS pad FROM generate_series(1, 400000) g");
    const raised = await waitFor('the log-retained alert', alertOf, 90_000);
    assert.match(raised.message, /^the replication slot custos_[0-9a-f]{12} of db1:postgres:\d+ holds \d+\.\d MiB of WAL on the cluster \(the alert is at 64\.0 MiB\): its log synchronizations are not taking it$/);
    const sync = await server.cli(['sync', source, '--wait', '--json', '--timeout', '2m'], { timeoutMs: 150_000 });
    assert.equal(sync.code, 0, describeCli(['sync'], sync));
    await waitFor('the alert resolved', async () => (await alertOf()) === undefined, 90_000);
  });

  test('--slot-alert takes a size of at least 64 MiB (a slot holds a segment or two between synchronizations)', async () => {
    const r = await server.cli(['server', 'start', '--data', '/nonexistent-custos', '--slot-alert', '10MiB']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--slot-alert "10MiB": give a size of at least 64MiB/);
  });
});
