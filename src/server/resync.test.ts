import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock, RecoveryPointId } from '../base/index.js';
import { Catalog } from '../catalog/index.js';
import { decodeCatalogBackup, POINT_VERSION, type RecoveryPointRecord } from '../format/index.js';
import { CatalogBackupStore, Pool } from '../pool/index.js';
import { CatalogBackupService } from './catalog-backup.js';
import { readIssuanceRecord, recordIssued, recordRevoked } from './issued-certificates.js';
import { changedSomething, resyncCatalog } from './resync.js';

const fixedClock = (iso: string): Clock => ({ now: () => new Date(iso) });

function point(host: string, path: string, time: string): RecoveryPointRecord {
  return {
    version: POINT_VERSION,
    id: randomBytes(16).toString('hex') as RecoveryPointId,
    time,
    source: { host, path },
    parent: null,
    manifest: [],
    summary: { filesNew: 2, filesChanged: 1, filesUnchanged: 4, dirs: 1, others: 0, errors: 0, changedDuringRead: 0, bytesRead: 10, bytesAdded: 5, logicalBytes: 100, durationMs: 1 },
    partial: false,
    excludes: [],
  };
}

async function setup(): Promise<{ dir: string; catalog: Catalog; pool: Pool; done: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'custos-resync-'));
  await Pool.init(join(dir, 'pool'));
  const pool = await Pool.open(join(dir, 'pool'));
  const catalog = await Catalog.openSqlite(join(dir, 'catalog.sqlite'));
  return { dir, catalog, pool, done: async () => { await catalog.close(); await rm(dir, { recursive: true, force: true }); } };
}

const POLICY = JSON.stringify({ retentionDays: 5, syncMinutes: 15, pointTimes: ['23:00'], days: [0, 1, 2, 3, 4, 5, 6], excludes: [], replica: { mode: 'now', at: null }, check: { auto: true, dailyAt: null } });

describe('resyncCatalog', () => {
  it('registers pool points the catalog lacks, drops vanished ones, adds unknown sources unprotected, marks replicas inconsistent, settles jobs; a second run changes nothing', async () => {
    const { dir, catalog: c, pool, done } = await setup();
    try {
      const src = 'alpha:fs:/srv/data';
      await c.saveGroup({ name: 'g', policy: POLICY, now: '2026-03-01T00:00:00Z', create: true }, [{
        id: src, agent: 'alpha', kind: 'fs', path: '/srv/data', group_name: 'g', replica_state: 'ok', allocation_bytes: 0, used_bytes: 0,
        created_at: '2026-03-01T00:00:00Z', last_sync_started_at: null, last_sync_ok_at: null, last_point_slot: null, last_check_slot: null, added_to_group_at: null,
      }]);
      const kept = point('alpha', '/srv/data', '2026-03-01T10:00:00.000Z');
      const later = point('alpha', '/srv/data', '2026-03-02T10:00:00.000Z');
      const elsewhere = point('bravo', '/home', '2026-03-02T11:00:00.000Z');
      for (const p of [kept, later, elsewhere]) await pool.savePoint(p);
      const row = (p: RecoveryPointRecord) => ({ id: p.id, source_id: src, time: p.time, recovery_point: 1, partial: 0, files: 7, logical_bytes: 100, bytes_added: 5, job_id: null });
      await c.insertPoint(row(kept));
      const gone = point('alpha', '/srv/data', '2026-03-01T12:00:00.000Z');
      await c.insertPoint(row(gone)); // in the catalog, not in the pool
      await pool.store.put(`points/${'f'.repeat(32)}`, Buffer.from('not a point')); // damage, left alone
      const job = (kind: string, state: string) => c.insertJob({
        kind, state, source_id: src, agent: 'alpha', created_at: '2026-03-01T10:00:00Z', started_at: null, finished_at: null, attempts: 0,
        next_attempt_at: '2026-03-01T10:00:00Z', progress: '{}', error: null, result: null, params: '{}', slot: null,
      });
      const running = await job('sync', 'running');
      const queuedRecovery = await job('recovery', 'queued');
      const queuedSync = await job('sync', 'queued');

      const deps = { catalog: c, pool, issued: await readIssuanceRecord(dir), clock: fixedClock('2026-03-03T00:00:00Z') };
      const r = await resyncCatalog(deps);
      assert.deepEqual(r.pointsRegistered.map((p) => [p.id, p.source]), [[later.id, src], [elsewhere.id, 'bravo:fs:/home']]);
      assert.deepEqual(r.pointsDropped.map((p) => p.id), [gone.id]);
      assert.deepEqual(r.sourcesAdded, ['bravo:fs:/home']);
      assert.deepEqual(r.replicasInconsistent.sort(), ['alpha:fs:/srv/data', 'bravo:fs:/home']);
      assert.deepEqual(r.jobsInterrupted, [running]);
      assert.deepEqual(r.recoveriesCancelled, [queuedRecovery]);
      assert.equal(r.unreadablePoints.length, 1);

      assert.deepEqual((await c.listPoints(src)).map((p) => p.id), [kept.id, later.id]);
      assert.equal((await c.source(src))?.replica_state, 'inconsistent');
      assert.equal((await c.source('bravo:fs:/home'))?.group_name, null);
      assert.equal((await c.listAlerts('active')).filter((a) => a.kind === 'replica-inconsistent' && a.subject === src).length, 1);
      assert.equal((await c.job(running))?.state, 'failed');
      assert.match((await c.job(running))?.error ?? '', /interrupted/);
      assert.equal((await c.job(queuedRecovery))?.state, 'cancelled');
      assert.equal((await c.job(queuedSync))?.state, 'queued', 'other queued jobs stay');

      const again = await resyncCatalog(deps);
      assert.equal(changedSomething(again), false, JSON.stringify(again));
    } finally {
      await done();
    }
  });

  it('agents from the CA issuance record: missing ones registered, newer certificates win, revocations kept, used enrollment tokens marked', async () => {
    const { dir, catalog: c, pool, done } = await setup();
    try {
      const fp = (x: string) => `sha256:${x.repeat(64)}`;
      // In the restored catalog: alpha with its first certificate, bravo not yet revoked, an unused enrollment token.
      await c.insertAgent({ name: 'alpha', cert_serial: '01', cert_fingerprint: fp('a'), hostname: 'a', attached_at: '2026-03-01T10:00:00.000Z', last_seen: null, version: null, revoked_at: null });
      await c.insertAgent({ name: 'bravo', cert_serial: '02', cert_fingerprint: fp('b'), hostname: 'b', attached_at: '2026-03-01T10:00:00.000Z', last_seen: null, version: null, revoked_at: null });
      const tokenHash = 'e'.repeat(64);
      await c.addEnrollmentToken({ secretHash: tokenHash, now: '2026-03-01T10:00:00.000Z', expiresAt: '2026-03-08T10:00:00.000Z' });
      // What happened after the backup, in the record.
      await recordIssued(dir, { time: '2026-03-01T10:00:00.000Z', name: 'alpha', serial: '01', fingerprint: fp('a'), hostname: 'a' });
      await recordIssued(dir, { time: '2026-03-01T10:00:00.000Z', name: 'bravo', serial: '02', fingerprint: fp('b'), hostname: 'b' });
      await recordIssued(dir, { time: '2026-03-02T10:00:00.000Z', name: 'charlie', serial: '03', fingerprint: fp('c'), hostname: 'c', enrollment: tokenHash });
      await recordRevoked(dir, { time: '2026-03-02T11:00:00.000Z', name: 'bravo', serial: '02' });
      await recordRevoked(dir, { time: '2026-03-02T12:00:00.000Z', name: 'alpha', serial: '01' });
      await recordIssued(dir, { time: '2026-03-02T12:00:01.000Z', name: 'alpha', serial: '04', fingerprint: fp('d'), hostname: 'a2' });

      const r = await resyncCatalog({ catalog: c, pool, issued: await readIssuanceRecord(dir), clock: fixedClock('2026-03-03T00:00:00Z') });
      assert.deepEqual(r.agentsRegistered, ['charlie']);
      assert.deepEqual(r.agentsUpdated, ['alpha']);
      assert.deepEqual(r.agentsRevoked, ['bravo']);
      assert.equal(r.enrollmentTokensUsed, 1);
      assert.equal((await c.agent('alpha'))?.cert_serial, '04');
      assert.equal((await c.agent('charlie'))?.cert_serial, '03');
      assert.equal((await c.agent('bravo'))?.revoked_at, '2026-03-02T11:00:00.000Z');
      assert.equal(await c.consumeEnrollmentToken(tokenHash, '2026-03-03T00:00:00.000Z', 'intruder'), false, 'the token used after the backup cannot be used again');
    } finally {
      await done();
    }
  });
  it('gives a postgres point its data source (HOST:postgres:PORT) and keeps its metadata; a point whose path is not its kind\'s is reported, not registered', async () => {
    const { dir, catalog: c, pool, done } = await setup();
    try {
      const app = {
        kind: 'postgres', point: 'full', logMode: 'full-only', version: 150018, systemIdentifier: '7716592498700678075', walSegmentSize: 16 << 20, blockSize: 8192, timeline: 1,
        startLsn: '0/2000028', stopLsn: '0/2000100', startTime: '2026-03-02T10:00:00Z', stopTime: '2026-03-02T10:00:01Z', dataChecksums: false,
        walSegments: ['000000010000000000000002', '000000010000000000000002'],
      } as const;
      const pg = { ...point('db1', '5432', '2026-03-02T10:00:02.000Z'), app };
      const badPort = { ...point('db1', '/var/lib/postgresql', '2026-03-02T10:00:03.000Z'), app };
      const relative = point('db1', 'srv', '2026-03-02T10:00:04.000Z');
      for (const p of [pg, badPort, relative]) await pool.savePoint(p);
      const r = await resyncCatalog({ catalog: c, pool, issued: await readIssuanceRecord(dir), clock: fixedClock('2026-03-03T00:00:00Z') });
      const source = await c.source('db1:postgres:5432');
      assert.deepEqual([source?.kind, source?.path], ['postgres', '5432']);
      const row = await c.point(pg.id);
      assert.deepEqual(JSON.parse(row?.app ?? 'null'), app);
      assert.equal(await c.point(badPort.id), undefined);
      assert.equal(await c.point(relative.id), undefined);
      assert.equal(r.unreadablePoints.length, 2, JSON.stringify(r.unreadablePoints));
    } finally {
      await done();
    }
  });
});

describe('CatalogBackupService', () => {
  it('stores an encrypted backup in the pool and the same object in the copy directory; the marks are set', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'custos-catalog-backup-'));
    try {
      await Pool.init(join(dir, 'pool'), { keyFile: join(dir, 'pool.key') });
      const pool = await Pool.open(join(dir, 'pool'), { keyFile: join(dir, 'pool.key') });
      const catalog = await Catalog.openSqlite(join(dir, 'catalog.sqlite'));
      await catalog.setSetting('marker', 'before the backup');
      const service = new CatalogBackupService({ catalog, pool, dataDir: dir, copyDir: join(dir, 'copies'), serverVersion: 'test', clock: fixedClock('2026-03-02T10:00:00Z') });
      const r = await service.take('on demand', 12);
      await catalog.setSetting('marker', 'after the backup');
      assert.equal(await catalog.setting('catalog_backup_last_at'), '2026-03-02T10:00:00.000Z');
      assert.equal(await catalog.setting('catalog_backup_fingerprint'), await catalog.configurationFingerprint());
      await catalog.close();

      const store = new CatalogBackupStore(pool);
      assert.deepEqual((await store.list()).map((b) => b.id), [r.backup]);
      const b = await store.read(r.backup);
      assert.equal(b.header.job, 12);
      assert.equal(b.header.reason, 'on demand');
      const stored = await readFile(join(dir, 'pool', 'catalog', r.backup));
      assert.ok(!stored.includes(Buffer.from('before the backup')), 'the pool object is encrypted');
      assert.deepEqual(await readFile(r.copy!), stored, 'the copy is the same encrypted object');
      assert.deepEqual(decodeCatalogBackup(pool.codec, await readFile(r.copy!), r.backup).database, b.database);
      await writeFile(join(dir, 'restored.sqlite'), b.database);
      const restored = await Catalog.openSqlite(join(dir, 'restored.sqlite'));
      assert.equal(await restored.setting('marker'), 'before the backup');
      await restored.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
