import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { postgresMissing, startTestCluster, type TestCluster } from '../../../../test/helpers/postgres.js';
import { connectAsOwner, type OwnerTarget } from './connect.js';
import { decideLogMode, readFacts, synchronousNamesMatch, type ClusterFacts } from './facts.js';

const facts: ClusterFacts = {
  versionNum: 150018, systemIdentifier: '1', inRecovery: false, dataDirectory: '/d', walLevel: 'replica', maxWalSenders: 10, archiveMode: 'off',
  archiveCommand: '', archiveLibrary: '', fullPageWrites: true, dataChecksums: false, walSegmentBytes: 16 << 20, synchronousStandbyNames: '', slots: [], databaseBytes: 1,
};

test('one log consumer: what makes a cluster full-only, each with what to do', () => {
  assert.deepEqual(decideLogMode(facts), { mode: 'logs', reasons: [] });
  const full = (f: Partial<ClusterFacts>, why: RegExp, replicaSlots: string[] = []) => {
    const d = decideLogMode({ ...facts, ...f }, replicaSlots);
    assert.equal(d.mode, 'full-only', JSON.stringify(f));
    assert.equal(d.reasons.length, 1, d.reasons.join('; '));
    assert.match(d.reasons[0]!, why);
  };
  full({ walLevel: 'minimal' }, /wal_level is minimal: set it to replica/);
  full({ maxWalSenders: 0 }, /max_wal_senders is 0/);
  full({ archiveMode: 'on', archiveCommand: 'pgbackrest --stanza=main archive-push %p' }, /archive_command is 'pgbackrest --stanza=main archive-push %p'/);
  full({ archiveMode: 'always', archiveLibrary: 'basic_archive' }, /archive_library is 'basic_archive'/);
  full({ slots: [{ name: 'barman', type: 'physical', active: true }] }, /slot barman is not Custos's.*--replica-slot barman/);
  full({ synchronousStandbyNames: '*' }, /would make every commit wait/);
  full({ synchronousStandbyNames: 'FIRST 1 (s1, custos)' }, /would make every commit wait/);
  // Not consumers: archiving off or without a command, logical slots, our own slot, a declared replica's slot, other standbys named.
  for (const f of [
    { archiveMode: 'off', archiveCommand: 'cp %p /x' }, { archiveMode: 'on', archiveCommand: '' }, { archiveMode: 'on', archiveCommand: '(disabled)' },
    { slots: [{ name: 'cdc', type: 'logical' as const, active: true }, { name: 'custos_0123456789ab', type: 'physical' as const, active: true }] },
    { synchronousStandbyNames: 'ANY 1 (s1, s2)' },
  ]) assert.equal(decideLogMode({ ...facts, ...f }).mode, 'logs', JSON.stringify(f));
  assert.equal(decideLogMode({ ...facts, slots: [{ name: 'standby1', type: 'physical', active: true }] }, ['standby1']).mode, 'logs');
  assert.equal(synchronousNamesMatch('"Custos"', 'custos'), true);
  assert.equal(synchronousNamesMatch('custos2', 'custos'), false);
});

describe('connecting to a real cluster as its owner, from root', { skip: postgresMissing() ?? false, timeout: 120_000 }, () => {
  let cluster: TestCluster;
  let target: OwnerTarget;
  before(async () => {
    cluster = await startTestCluster({ archive_mode: 'on', archive_command: "'/bin/true'" });
    target = { socketDir: cluster.socketDir, port: cluster.port, uid: cluster.owner.uid, gid: cluster.owner.gid, user: 'postgres' };
  });
  after(() => cluster?.stop());

  test('peer authentication sees the owner; the facts are the cluster\'s; a replication connection identifies the system', async () => {
    assert.equal(process.getuid?.(), 0);
    const client = await connectAsOwner(target);
    try {
      assert.equal((await client.query('SELECT current_user AS u')).rows[0].u, 'postgres');
      const f = await readFacts(client);
      assert.equal(f.dataDirectory, cluster.dataDir);
      assert.equal(f.systemIdentifier, cluster.sql('SELECT system_identifier FROM pg_control_system()').trim());
      assert.ok(f.versionNum >= 150000 && f.versionNum < 160000, String(f.versionNum));
      assert.equal(f.inRecovery, false);
      assert.equal(f.walLevel, 'replica');
      assert.equal(f.walSegmentBytes, 16 << 20);
      assert.ok(f.databaseBytes > 1_000_000);
      // The cluster archives elsewhere, and has another tool's slot: full-only, both reasons given.
      await client.query("SELECT pg_create_physical_replication_slot('barman')");
      const d = decideLogMode(await readFacts(client));
      assert.equal(d.mode, 'full-only');
      assert.equal(d.reasons.length, 2, d.reasons.join('; '));
      assert.match(d.reasons[0]!, /^another tool takes its logs: archive_command is '\/bin\/true'/);
      assert.match(d.reasons[1]!, /^replication slot barman is not Custos's/);
    } finally {
      await client.end();
    }
    const repl = await connectAsOwner(target, { replication: true });
    try {
      const id = (await repl.query('IDENTIFY_SYSTEM')).rows[0] as { systemid: string; timeline: number };
      assert.equal(id.systemid, cluster.sql('SELECT system_identifier FROM pg_control_system()').trim());
      assert.equal(Number(id.timeline), 1);
    } finally {
      await repl.end();
    }
  });

  test('a wrong port, a wrong account and a role that does not exist fail with a clear error, fast', async () => {
    await assert.rejects(connectAsOwner({ ...target, port: 1 }), /cannot connect to .*\.s\.PGSQL\.1 as postgres: ENOENT/);
    // Another account (nobody) cannot reach the owner's socket directory.
    await assert.rejects(connectAsOwner({ ...target, uid: 65534, gid: 65534 }), /cannot connect to .* as postgres: EACCES/);
    await assert.rejects(connectAsOwner({ ...target, user: 'nosuchrole' }), /refused nosuchrole/);
  });
});
