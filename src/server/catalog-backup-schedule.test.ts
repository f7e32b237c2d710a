/**
 * The job engine's catalog backup schedule against a real catalog and pool,
 * with a fake clock: the first backup at the first tick, none again within the
 * day, one two minutes after a configuration change (not before), the daily
 * one a day later; each a catalog-backup job whose backup is in the pool.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../base/index.js';
import { Catalog, type JobRow } from '../catalog/index.js';
import { CatalogBackupStore, Pool } from '../pool/index.js';
import { AgentHub } from './agent-hub.js';
import { AlertService } from './alerts.js';
import { CatalogBackupService } from './catalog-backup.js';
import { JobEngine } from './job-engine.js';
import { PoolMaintenance } from './pool-maintenance.js';

async function settle(catalog: Catalog): Promise<JobRow[]> {
  for (let i = 0; i < 500; i++) {
    const jobs = await catalog.listJobs({ kind: 'catalog-backup', limit: 100 });
    if (jobs.every((j) => j.state !== 'queued' && j.state !== 'running')) return jobs;
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('catalog-backup jobs did not finish');
}

describe('catalog backup schedule in the job engine', () => {
  it('first tick, configuration change after 2 min, daily', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'custos-catalog-schedule-'));
    let now = new Date('2026-03-02T10:00:30Z');
    const clock: Clock = { now: () => now };
    await Pool.init(join(dir, 'pool'));
    const pool = await Pool.open(join(dir, 'pool'));
    const catalog = await Catalog.openSqlite(join(dir, 'catalog.sqlite'));
    const hub = new AgentHub({ connected: () => undefined, disconnected: () => undefined, journalLost: () => undefined });
    const alerts = new AlertService(catalog, () => new Set(), () => undefined);
    const catalogBackups = new CatalogBackupService({ catalog, pool, dataDir: dir, copyDir: null, serverVersion: 'test', clock });
    const maintenance = new PoolMaintenance({ pool, catalog, alerts, clock });
    const engine = new JobEngine({ catalog, hub, pool, clock, alerts, maintenance, catalogBackups, log: (m) => assert.fail(m) });
    const tick = async (iso: string) => {
      now = new Date(iso);
      await engine.dispatch();
      return settle(catalog);
    };
    try {
      let jobs = await tick('2026-03-02T10:00:30Z');
      assert.deepEqual(jobs.map((j) => [j.state, JSON.parse(j.params).reason]), [['succeeded', 'scheduled']]);
      assert.equal((await catalog.jobLog(jobs[0]!.id))[0]?.message, 'queued: no catalog backup yet');
      assert.equal((await tick('2026-03-02T10:01:30Z')).length, 1, 'no second backup within the day');

      await catalog.saveGroup({ name: 'g', policy: '{}', now: now.toISOString(), create: true }, []);
      assert.equal((await tick('2026-03-02T10:02:10Z')).length, 1, 'the change is seen');
      assert.equal((await tick('2026-03-02T10:03:10Z')).length, 1, 'one minute later: still waiting');
      jobs = await tick('2026-03-02T10:04:10Z');
      assert.equal(jobs.length, 2, 'two minutes after the change');
      assert.equal(JSON.parse(jobs[0]!.params).reason, 'configuration change');
      assert.equal(jobs[0]!.state, 'succeeded');
      assert.equal((await tick('2026-03-02T10:10:00Z')).length, 2, 'nothing changed since');

      jobs = await tick('2026-03-03T10:05:00Z');
      assert.equal(jobs.length, 3, 'the daily backup');
      const inPool = await new CatalogBackupStore(pool).list();
      assert.deepEqual(inPool.map((b) => b.id), jobs.map((j) => (JSON.parse(j.result!) as { backup: string }).backup));
    } finally {
      await engine.stop();
      await catalog.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
