import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../base/index.js';
import { Catalog } from '../catalog/index.js';
import { Pool } from '../pool/index.js';
import { AgentHub } from './agent-hub.js';
import { AlertService } from './alerts.js';
import { JobEngine } from './job-engine.js';

async function engineWithoutAgents(t: { after(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'custos-engine-'));
  const catalog = await Catalog.openSqlite(join(dir, 'catalog.sqlite'));
  await Pool.init(join(dir, 'pool'));
  const pool = await Pool.open(join(dir, 'pool'));
  // No agent ever connects, so agent jobs stay queued (or where the test puts them).
  const hub = new AgentHub({ connected: () => undefined, disconnected: () => undefined, journalLost: () => undefined });
  const alerts = new AlertService(catalog, () => hub.connected(), () => undefined);
  const engine = new JobEngine({ catalog, hub, pool, clock: systemClock, alerts, log: () => undefined });
  t.after(async () => {
    await engine.stop();
    await catalog.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { catalog, engine };
}

const SOURCE = 'lap:fs:/home';
const pointNow = { kind: 'recovery-point', source: SOURCE, agent: 'lap', reason: 'recovery point requested' } as const;

test('20 requests for a recovery point of one data source at once queue one job; the others are merged into it and say so', async (t) => {
  const { catalog, engine } = await engineWithoutAgents(t);
  const answers = await Promise.all(Array.from({ length: 20 }, () => engine.enqueue(pointNow)));
  const ids = new Set(answers.map((a) => a.id));
  assert.equal(ids.size, 1, `one job answers all: ${[...ids].join(', ')}`);
  assert.equal(answers.filter((a) => a.merged).length, 19);
  assert.equal((await catalog.listJobs({ source: SOURCE, kind: 'recovery-point', limit: 100 })).length, 1);
  const log = await catalog.jobLog(answers[0]!.id);
  assert.equal(log.filter((l) => /^merged: recovery point requested again while this job was queued/.test(l.message)).length, 19);

  // Another kind, or another data source, is a job of its own.
  const sync = await engine.enqueue({ ...pointNow, kind: 'sync', reason: 'synchronization requested' });
  const other = await engine.enqueue({ ...pointNow, source: 'lap:fs:/srv' });
  assert.equal(sync.merged || other.merged, false);
  assert.equal(new Set([answers[0]!.id, sync.id, other.id]).size, 3);
});

test('while the job runs, one more is queued and later requests merge into that one', async (t) => {
  const { catalog, engine } = await engineWithoutAgents(t);
  const first = await engine.enqueue(pointNow);
  assert.ok(await catalog.updateJob(first.id, { state: 'running', started_at: new Date().toISOString() }, ['queued']));
  const answers = await Promise.all(Array.from({ length: 20 }, () => engine.enqueue(pointNow)));
  const next = answers[0]!.id;
  assert.notEqual(next, first.id);
  assert.ok(answers.every((a) => a.id === next));
  const jobs = await catalog.listJobs({ source: SOURCE, kind: 'recovery-point', limit: 100 });
  assert.deepEqual(jobs.map((j) => j.state).sort(), ['queued', 'running']);
});

test('recoveries are never merged: each asks for its own target', async (t) => {
  const { engine } = await engineWithoutAgents(t);
  const recover = { kind: 'recovery', source: SOURCE, agent: 'lap', params: { point: 'p', target: '/tmp/x' }, reason: 'recovery' } as const;
  const [a, b] = await Promise.all([engine.enqueue(recover), engine.enqueue(recover)]);
  assert.notEqual(a.id, b.id);
  assert.equal(a.merged || b.merged, false);
});
