import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postgresMissing, startTestCluster, type TestCluster } from '../../../../test/helpers/postgres.js';
import { CustosError } from '../../../base/index.js';
import { parseLsn, segmentFileName, segmentOf } from '../../../format/postgres/wal-names.js';
import { parseReplicationMessage, statusUpdate, WalReceiver } from './wal-receiver.js';

test('replication messages: XLogData and keepalives parsed, anything else refused; status updates laid out as PostgreSQL reads them', () => {
  const w = Buffer.alloc(25 + 3);
  w.write('w', 0, 'latin1');
  w.writeBigUInt64BE(0x1000000n, 1);
  w.writeBigUInt64BE(0x1000003n, 9);
  w.set([1, 2, 3], 25);
  const m = parseReplicationMessage(w);
  assert.equal(m.kind, 'wal');
  assert.equal(m.kind === 'wal' && m.start, 0x1000000n);
  assert.deepEqual(m.kind === 'wal' && [...m.data], [1, 2, 3]);
  const k = Buffer.alloc(18);
  k.write('k', 0, 'latin1');
  k.writeBigUInt64BE(5n, 1);
  k[17] = 1;
  assert.deepEqual(parseReplicationMessage(k), { kind: 'keepalive', end: 5n, replyNow: true });
  for (const bad of [Buffer.alloc(0), Buffer.from('w'), Buffer.alloc(17, 'k'), Buffer.from('x'.repeat(30))]) assert.throws(() => parseReplicationMessage(bad), CustosError);
  const s = statusUpdate(0x30n, 0x20n, true);
  assert.equal(s.length, 34);
  assert.equal(s.toString('latin1', 0, 1), 'r');
  assert.equal(s.readBigUInt64BE(1), 0x30n);
  assert.equal(s.readBigUInt64BE(9), 0x20n);
  assert.equal(s[33], 1);
});

describe('receiving WAL through a slot from a real cluster under load', { skip: postgresMissing() ?? false, timeout: 180_000 }, () => {
  let cluster: TestCluster;
  let spool: string;
  before(async () => {
    cluster = await startTestCluster();
    spool = mkdtempSync(join(tmpdir(), 'custos-spool-'));
  });
  after(() => {
    cluster?.stop();
    if (spool) rmSync(spool, { recursive: true, force: true });
  });

  test('the spool holds the same bytes as pg_wal up to the marker; the slot keeps what the pool has not confirmed, and moves when it has', async () => {
    const restart = parseLsn(cluster.sql("SELECT lsn FROM pg_create_physical_replication_slot('custos_0123456789ab', true)").trim())!;
    const segmentBytes = 16 << 20;
    const start = segmentOf(1, restart, segmentBytes).segno * BigInt(segmentBytes);
    let flushed = start;
    const receiver = new WalReceiver({
      target: { socketDir: cluster.socketDir, port: cluster.port, uid: cluster.owner.uid, gid: cluster.owner.gid, user: 'postgres' },
      slot: 'custos_0123456789ab', timeline: 1, startLsn: start, segmentBytes, spoolDir: spool, flushed: () => flushed,
    });
    await receiver.start();
    try {
      cluster.pgbench('-i', '-q', '-s', '2');
      const marker = cluster.sql("SELECT pg_create_restore_point('custos-test'), pg_current_xact_id()").trim();
      assert.ok(marker.length > 0);
      const insert = parseLsn(cluster.sql('SELECT pg_current_wal_insert_lsn()').trim())!;
      await receiver.waitFor(insert, 60_000);
      assert.ok(receiver.receivedLsn >= insert);
      // Byte for byte what PostgreSQL wrote, segment by segment up to the marker.
      const last = segmentOf(1, insert, segmentBytes).segno;
      cluster.sql('SELECT pg_switch_wal()');
      for (let s = segmentOf(1, start, segmentBytes).segno; s <= last; s++) {
        const name = segmentFileName({ timeline: 1, segno: s }, segmentBytes);
        const upTo = s === last ? Number(insert % BigInt(segmentBytes)) : segmentBytes;
        const ours = readFileSync(join(spool, name)).subarray(0, upTo);
        const theirs = readFileSync(join(cluster.dataDir, 'pg_wal', name)).subarray(0, upTo);
        assert.equal(ours.length, upTo, name);
        assert.ok(ours.equals(theirs), `${name} differs from pg_wal`);
      }
      // Nothing confirmed yet (flush = the start, before the slot's reservation): the slot still holds everything from where it began.
      const slotRestart = () => parseLsn(cluster.sql("SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = 'custos_0123456789ab'").trim())!;
      receiver.acknowledge();
      await new Promise((res) => setTimeout(res, 500));
      assert.equal(slotRestart(), restart, 'restart_lsn moved though nothing was confirmed');
      // Once the pool holds WAL up to the marker, the slot follows.
      flushed = insert;
      receiver.acknowledge();
      for (let i = 0; i < 100 && slotRestart() < insert; i++) await new Promise((res) => setTimeout(res, 100));
      assert.equal(slotRestart(), insert);
    } finally {
      await receiver.stop();
    }
  });
});
