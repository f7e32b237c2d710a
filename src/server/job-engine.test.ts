import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock, type Clock } from '../base/index.js';
import type { WebSocket } from 'ws';
import { Catalog } from '../catalog/index.js';
import { Pool } from '../pool/index.js';
import { AgentHub } from './agent-hub.js';
import { AlertService } from './alerts.js';
import { PROTOCOL_VERSION } from '../protocol/index.js';
import { JobEngine } from './job-engine.js';
import { PoolMaintenance } from './pool-maintenance.js';

async function engineWithoutAgents(t: { after(fn: () => Promise<void>): void }, clock: Clock = systemClock) {
  const dir = await mkdtemp(join(tmpdir(), 'custos-engine-'));
  const catalog = await Catalog.openSqlite(join(dir, 'catalog.sqlite'));
  await Pool.init(join(dir, 'pool'));
  const pool = await Pool.open(join(dir, 'pool'));
  // No agent ever connects, so agent jobs stay queued (or where the test puts them).
  const hub = new AgentHub({ connected: () => undefined, disconnected: () => undefined, journalLost: () => undefined });
  const alerts = new AlertService(catalog, () => hub.connected(), () => undefined);
  const maintenance = new PoolMaintenance({ pool, catalog, alerts, clock });
  const engine = new JobEngine({ catalog, hub, pool, clock, alerts, maintenance, log: () => undefined });
  t.after(async () => {
    await engine.stop();
    await catalog.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { catalog, engine, hub };
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

/**
 * An agent connection that speaks the protocol's text messages: it answers
 * every job the server sends with the failure `fail` gives (as an agent whose
 * disk is full, or that relays the server's own ENOSPC, reports it).
 */
class ScriptedAgentSocket extends EventEmitter {
  bufferedAmount = 0;
  jobsSeen = 0;
  constructor(private readonly fail: (job: number) => { code: string; message: string; transient: boolean }) {
    super();
  }
  send(data: string): void {
    const m = JSON.parse(data) as { t: string; job?: { id: number } };
    if (m.t !== 'job' || !m.job) return;
    this.jobsSeen++;
    const reply = { t: 'failed', job: m.job.id, error: this.fail(m.job.id) };
    setImmediate(() => this.emit('message', Buffer.from(JSON.stringify(reply)), false));
  }
  close(): void {
    this.emit('close');
  }
  terminate(): void {
    this.emit('close');
  }
}

test('a job that meets a full disk is retried (even when reported as not transient) and raises a disk-full warning meanwhile', async (t) => {
  let now = new Date('2026-03-02T10:00:00Z').getTime();
  const { catalog, engine, hub } = await engineWithoutAgents(t, { now: () => new Date(now) });
  await catalog.insertAgent({ name: 'lap', cert_serial: '01', cert_fingerprint: 'ff', hostname: 'lap', attached_at: new Date(now).toISOString(), last_seen: null, version: null, revoked_at: null });
  await catalog.db.insertInto('data_sources').values({
    id: SOURCE, agent: 'lap', kind: 'fs', path: '/home', group_name: null, replica_state: 'ok', allocation_bytes: 0, used_bytes: 0,
    created_at: new Date(now).toISOString(), last_sync_started_at: null, last_sync_ok_at: null, last_point_slot: null, last_check_slot: null, added_to_group_at: null,
  }).execute();
  // What an agent sends when the server's pool refused its chunks: the relayed error arrives as "internal", not transient.
  const socket = new ScriptedAgentSocket(() => ({ code: 'internal', message: "ENOSPC: no space left on device, write '/srv/custos/pool/tmp/9f.tmp'", transient: false }));
  hub.attach('lap', socket as unknown as WebSocket, () => undefined);
  // A session takes jobs once the agent has said hello in the server's protocol.
  socket.emit('message', Buffer.from(JSON.stringify({ t: 'hello', protocol: PROTOCOL_VERSION, version: '0.1.0', hostname: 'lap' })), false);

  const job = await engine.enqueue({ kind: 'sync', source: SOURCE, agent: 'lap', reason: 'synchronization requested' });
  const retried = async () => {
    for (let i = 0; i < 200; i++) {
      const row = (await catalog.job(job.id))!;
      if (row.state === 'queued' && row.attempts > 0 && row.error !== null) return row;
      assert.notEqual(row.state, 'failed', `the job failed for good: ${row.error}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.fail('the job was not re-queued');
  };
  const row = await retried();
  assert.equal(row.attempts, 1);
  assert.match(row.error!, /ENOSPC/);
  const active = (await catalog.listAlerts('active')).filter((a) => a.kind === 'disk-full');
  assert.equal(active.length, 1);
  assert.equal(active[0]!.subject, SOURCE);
  assert.equal(active[0]!.severity, 'warning');
  assert.ok((await catalog.jobLog(job.id)).some((l) => l.level === 'warning' && /attempt 1 failed: ENOSPC.*retrying in 30 s/.test(l.message)));
  assert.equal(socket.jobsSeen, 1);
});
