import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, systemClock, type Clock } from '../base/index.js';
import type { WebSocket } from 'ws';
import { Catalog } from '../catalog/index.js';
import { Pool } from '../pool/index.js';
import { AgentHub } from './agent-hub.js';
import { AlertService } from './alerts.js';
import { PROTOCOL_VERSION } from '../protocol/index.js';
import { parsePolicy, type ProtectionPolicy } from '../protection/index.js';
import { craftPoint } from '../../test/helpers/craft-point.js';
import { JobEngine } from './job-engine.js';
import { PoolMaintenance } from './pool-maintenance.js';
import type { PolicyInput } from '../protection/index.js';
import { FakeClock } from '../../test/helpers/fake-clock.js';
import { InProcessAgent } from '../../test/helpers/in-process-agent.js';

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
  return { catalog, engine, hub, pool, dir };
}

const SOURCE = 'lap:fs:/home';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** What `probe` gives once it gives something; checked every 10 ms, failing after 10 s. */
async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * SOURCE of agent `lap` in group `g` with `policy`: its replica made and
 * synchronized just now and the nightly maintenance done today, so the
 * scheduler queues nothing until the test moves the clock.
 */
async function protectedSource(catalog: Catalog, clock: Clock, policy: ProtectionPolicy): Promise<void> {
  const now = clock.now().toISOString();
  await catalog.insertAgent({ name: 'lap', cert_serial: '01', cert_fingerprint: 'ff', hostname: 'lap', attached_at: now, last_seen: null, version: null, revoked_at: null });
  await catalog.saveGroup({ name: 'g', policy: JSON.stringify(policy), now, create: true }, [{
    id: SOURCE, agent: 'lap', kind: 'fs', path: '/home', group_name: null, replica_state: 'ok', allocation_bytes: 0, used_bytes: 0,
    created_at: now, last_sync_started_at: now, last_sync_ok_at: now, last_point_slot: null, last_check_slot: null, added_to_group_at: null,
  }]);
  await catalog.setSetting('last_prune_at', now);
}

/** A catalog row for a point of SOURCE made `ageMs` before the clock's now. */
async function addPoint(catalog: Catalog, clock: Clock, id: string, ageMs: number, recoveryPoint = true): Promise<void> {
  await catalog.insertPoint({
    id, source_id: SOURCE, time: new Date(clock.now().getTime() - ageMs).toISOString(), recovery_point: recoveryPoint ? 1 : 0,
    partial: 0, files: 1, logical_bytes: 1, bytes_added: 1, job_id: null,
  });
}

const pointIds = async (catalog: Catalog): Promise<string[]> => (await catalog.listPoints(SOURCE)).map((p) => p.id);
const logOf = async (catalog: Catalog, job: number): Promise<string[]> => (await catalog.jobLog(job)).map((l) => `${l.level}: ${l.message}`);
const finished = (catalog: Catalog, id: number, state: string) =>
  until(`job ${id} to be ${state}`, async () => {
    const j = await catalog.job(id);
    return j?.state === state ? j : undefined;
  });
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

type AgentFailure = { code: string; message: string; transient: boolean };

/**
 * An agent connection that speaks the protocol's text messages. With
 * `autoFail`, it answers every job the server sends with that failure (as an
 * agent whose disk is full, or that relays the server's own ENOSPC, reports
 * it); without, it holds each job until the test calls fail().
 */
class ScriptedAgentSocket extends EventEmitter {
  bufferedAmount = 0;
  jobsSeen = 0;
  private readonly held: number[] = [];
  private readonly waiting: Array<(job: number) => void> = [];
  constructor(private readonly autoFail?: (job: number) => AgentFailure) {
    super();
  }
  send(data: string): void {
    const m = JSON.parse(data) as { t: string; job?: { id: number } };
    if (m.t !== 'job' || !m.job) return;
    this.jobsSeen++;
    const id = m.job.id;
    if (this.autoFail) {
      const failure = this.autoFail(id);
      setImmediate(() => this.fail(id, failure));
    } else {
      const waiter = this.waiting.shift();
      if (waiter) waiter(id);
      else this.held.push(id);
    }
  }
  /** The next job the server sends (held until fail()). */
  nextJob(): Promise<number> {
    const id = this.held.shift();
    return id !== undefined ? Promise.resolve(id) : new Promise((resolve) => this.waiting.push(resolve));
  }
  fail(job: number, error: AgentFailure): void {
    this.emit('message', Buffer.from(JSON.stringify({ t: 'failed', job, error })), false);
  }
  close(): void {
    this.emit('close');
  }
  terminate(): void {
    this.emit('close');
  }
}

/** Attaches a scripted agent named `name` to the hub, as a real connection does (hello in the server's protocol). */
function attachAgent(hub: AgentHub, name: string, socket: ScriptedAgentSocket): void {
  hub.attach(name, socket as unknown as WebSocket, () => undefined);
  socket.emit('message', Buffer.from(JSON.stringify({ t: 'hello', protocol: PROTOCOL_VERSION, version: '0.1.0', hostname: name })), false);
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
  attachAgent(hub, 'lap', socket);

  const job = await engine.enqueue({ kind: 'sync', source: SOURCE, agent: 'lap', reason: 'synchronization requested' });
  const row = await until('the job to be re-queued', async () => {
    const r = (await catalog.job(job.id))!;
    assert.notEqual(r.state, 'failed', `the job failed for good: ${r.error}`);
    return r.state === 'queued' && r.attempts > 0 && r.error !== null ? r : undefined;
  });
  assert.equal(row.attempts, 1);
  assert.match(row.error!, /ENOSPC/);
  const active = (await catalog.listAlerts('active')).filter((a) => a.kind === 'disk-full');
  assert.equal(active.length, 1);
  assert.equal(active[0]!.subject, SOURCE);
  assert.equal(active[0]!.severity, 'warning');
  assert.ok((await catalog.jobLog(job.id)).some((l) => l.level === 'warning' && /attempt 1 failed: ENOSPC.*retrying in 30 s/.test(l.message)));
  assert.equal(socket.jobsSeen, 1);
});

test('a data source the prune job leaves alone while its job runs is pruned when that job ends', async (t) => {
  const clock = new ManualClock(new Date('2026-03-10T12:00:00Z'));
  const { catalog, engine, hub, pool } = await engineWithoutAgents(t, clock);
  await protectedSource(catalog, clock, parsePolicy({ retention: '1d' }).policy);
  await addPoint(catalog, clock, 'three-days-old', 3 * DAY);
  await addPoint(catalog, clock, 'twenty-hours-old', 20 * HOUR);
  // The newest point is in the pool too: a recovery point job reads it as the previous one.
  const newest = await craftPoint(pool, [{ path: 'a', content: 'a' }]);
  await addPoint(catalog, clock, newest.id, HOUR);
  const socket = new ScriptedAgentSocket();
  attachAgent(hub, 'lap', socket);

  const point = await engine.enqueue({ kind: 'recovery-point', source: SOURCE, agent: 'lap', reason: 'recovery point requested' });
  assert.equal(await socket.nextJob(), point.id);
  const prune = await engine.enqueue({ kind: 'prune', source: null, agent: null, reason: 'nightly pruning' });
  const pruned = await finished(catalog, prune.id, 'succeeded');
  assert.deepEqual(await pointIds(catalog), ['three-days-old', 'twenty-hours-old', newest.id], 'left alone while the job runs');
  assert.ok((await logOf(catalog, prune.id)).includes(`info: ${SOURCE}: job ${point.id} is running; this data source is pruned when it ends`));
  assert.deepEqual(JSON.parse(pruned.result!), { pointsDeleted: 0, sourcesLeftToTheirJobs: 1 });

  socket.fail(point.id, { code: 'internal', message: 'the agent lost its disk', transient: false });
  await finished(catalog, point.id, 'failed');
  // The log line is written after the pruning: waiting for it waits for both.
  const line = 'info: after the job: pruned 1 point(s): 1 older than the retention range of 1 day';
  await until('the job end to prune', async () => ((await logOf(catalog, point.id)).includes(line) ? true : undefined));
  assert.deepEqual(await pointIds(catalog), ['twenty-hours-old', newest.id]);
});

test('a changed retention range applies at once: saving the group queues a prune of its data sources', async (t) => {
  const clock = new ManualClock(new Date('2026-03-10T12:00:00Z'));
  const { catalog, engine } = await engineWithoutAgents(t, clock);
  const fiveDays = parsePolicy({ retention: '5d' }).policy;
  await protectedSource(catalog, clock, fiveDays);
  await addPoint(catalog, clock, 'four-days-old', 4 * DAY);
  await addPoint(catalog, clock, 'two-days-old', 2 * DAY);
  await addPoint(catalog, clock, 'replica', 2 * DAY - HOUR, false);
  await addPoint(catalog, clock, 'an-hour-old', HOUR);

  // A change that leaves the retention range alone queues nothing.
  assert.equal(await engine.groupSaved('g', fiveDays, parsePolicy({ sync: '1h' }, fiveDays).policy), null);

  const oneDay = parsePolicy({ retention: '1d' }, fiveDays).policy;
  await catalog.saveGroup({ name: 'g', policy: JSON.stringify(oneDay), now: clock.now().toISOString(), create: false }, [(await catalog.source(SOURCE))!]);
  const job = await engine.groupSaved('g', fiveDays, oneDay);
  assert.equal(job?.kind, 'prune');
  const done = await finished(catalog, job!.id, 'succeeded');
  assert.deepEqual(await pointIds(catalog), ['an-hour-old']);
  assert.deepEqual(JSON.parse(done.result!), { pointsDeleted: 3, sourcesLeftToTheirJobs: 0 });
  const log = await logOf(catalog, job!.id);
  assert.ok(log.includes('info: queued: retention range of g changed from 5 to 1 days'), log.join('\n'));
  assert.ok(log.includes(`info: ${SOURCE}: pruned 3 point(s): 2 older than the retention range of 1 day, 1 replica-only superseded by a newer point`), log.join('\n'));
});

test('an on-demand recovery point beyond the 64 kept is queued, and the answer and the job log say the oldest will be pruned', async (t) => {
  const clock = new ManualClock(new Date('2026-03-10T12:00:00Z'));
  const { catalog, engine } = await engineWithoutAgents(t, clock);
  await protectedSource(catalog, clock, parsePolicy({ retention: '448d' }).policy);
  for (let day = 63; day >= 1; day--) await addPoint(catalog, clock, `rp-${day}`, day * DAY);
  const lap = { id: SOURCE, agent: 'lap', kind: 'fs' };

  // 63 held: one more fits.
  const fits = await engine.requestRecoveryPoint(lap, 'ann');
  assert.deepEqual(fits.warnings, []);
  assert.ok((await logOf(catalog, fits.job.id)).every((l) => !l.startsWith('warning')));
  await engine.cancel(fits.job.id);

  await addPoint(catalog, clock, 'rp-64', 64 * DAY);
  const oldest = new Date(clock.now().getTime() - 64 * DAY).toISOString();
  const expected = `${SOURCE} already has 64 recovery points, the most kept for a file data source (64, DPM's limit): when this one is made, the oldest (${oldest}) is pruned`;
  const over = await engine.requestRecoveryPoint(lap, 'ann');
  assert.deepEqual(over.warnings, [expected]);
  assert.equal(over.job.state, 'queued', 'not refused');
  // Asked again while it is queued: the same job and the same warning, logged once.
  const again = await engine.requestRecoveryPoint(lap, 'bob');
  assert.equal(again.job.id, over.job.id);
  assert.deepEqual(again.warnings, [expected]);
  assert.deepEqual((await logOf(catalog, over.job.id)).filter((l) => l.startsWith('warning')), [`warning: ${expected}`]);
});

/** Local time on 2 March 2026 plus `day` days: schedules run in the server's local time. */
const at = (day: number, hh: number, mm = 0): Date => new Date(2026, 2, 2 + day, hh, mm);

/**
 * One data source of agent `lap` (a real directory) in group `g` with
 * `policy`, created at `start`; the agent runs in this process and is not
 * connected until the test connects it. The clock moves only by tick().
 */
async function scheduledSource(t: { after(fn: () => Promise<void>): void }, policy: PolicyInput, start: Date) {
  const clock = new FakeClock(start);
  const env = await engineWithoutAgents(t, clock);
  const { catalog, engine, hub } = env;
  // No nightly pool maintenance: it would run beside the jobs under test.
  await catalog.setSetting('last_prune_at', new Date(2100, 0, 1).toISOString());
  const tree = join(env.dir, 'home');
  await mkdir(join(tree, 'docs'), { recursive: true });
  await writeFile(join(tree, 'docs', 'thesis.txt'), 'chapter 1\n');
  const source = `lap:fs:${tree}`;
  await catalog.insertAgent({ name: 'lap', cert_serial: '01', cert_fingerprint: 'ff', hostname: 'lap', attached_at: start.toISOString(), last_seen: null, version: null, revoked_at: null });
  await catalog.saveGroup({ name: 'g', policy: JSON.stringify(parsePolicy(policy).policy), now: start.toISOString(), create: true }, [{
    id: source, agent: 'lap', kind: 'fs', path: tree, group_name: null, replica_state: 'none', allocation_bytes: 0, used_bytes: 0,
    created_at: start.toISOString(), last_sync_started_at: null, last_sync_ok_at: null, last_point_slot: null, last_check_slot: null, added_to_group_at: null,
  }]);
  const tick = (time: Date) => clock.tick(engine, time);
  /** Waits until every job that can run now has run. */
  const idle = async () => {
    for (let i = 0; i < 3000; i++) {
      const jobs = await catalog.listJobs({ states: ['queued', 'running'], limit: 1000 });
      const runnable = jobs.filter((j) => j.state === 'running' || (j.agent !== null && hub.connected().has(j.agent) && j.next_attempt_at <= clock.now().toISOString()));
      if (runnable.length === 0) return;
      await engine.dispatch();
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.fail('the jobs did not finish');
  };
  const jobs = async (kind: string) => (await catalog.listJobs({ source, kind, limit: 100 })).reverse();
  return { catalog, engine, hub, source, agent: new InProcessAgent('lap'), tick, idle, jobs };
}

test('an agent away over two recovery point slots gets one catch-up point when it returns, and one missed-point alert that covers both', async (t) => {
  const s = await scheduledSource(t, { points: '08:00,12:00,20:00', replica: 'now' }, at(0, 6));
  await s.agent.connect(s.hub);
  await s.tick(at(0, 6));
  await s.idle();
  assert.equal((await s.catalog.source(s.source))?.replica_state, 'ok', 'the replica is created');

  s.agent.disconnect(); // 06:30 to 18:30
  await s.tick(at(0, 6, 30));
  await s.tick(at(0, 8));
  let points = await s.jobs('recovery-point');
  assert.deepEqual(points.map((j) => [j.state, j.slot]), [['queued', '2026-03-02T08:00']]);
  await s.tick(at(0, 12));
  points = await s.jobs('recovery-point');
  assert.deepEqual(points.map((j) => [j.state, j.slot]), [['queued', '2026-03-02T08:00']], 'the 12:00 slot joins the queued job');
  assert.ok((await s.catalog.jobLog(points[0]!.id)).some((l) => l.message === 'merged: scheduled recovery point 2026-03-02T12:00 came due while this job was queued; this job answers it'));
  const missed = async () => (await s.catalog.listAlerts('active')).filter((a) => a.kind === 'recovery-point-missed');
  const [alert, ...more] = await missed();
  assert.equal(more.length, 0, 'one alert for the outage');
  assert.match(alert!.message, /^2 recovery points scheduled from 2026-03-02T08:00 to 2026-03-02T12:00 have not been created .*: agent lap is not connected \(job \d+\)$/);
  assert.match(alert!.recommended_action, new RegExp(`custos job show ${points[0]!.id}\\b`));

  await s.agent.connect(s.hub); // 18:30
  await s.tick(at(0, 18, 30));
  await s.idle();
  await s.tick(at(0, 18, 31));
  await s.idle();
  await s.tick(at(0, 18, 32));
  points = await s.jobs('recovery-point');
  assert.deepEqual(points.map((j) => [j.state, j.slot]), [['succeeded', '2026-03-02T08:00']], 'one catch-up point for both slots');
  assert.deepEqual(await missed(), [], 'the catch-up point resolves the alert');

  await s.tick(at(0, 20));
  points = await s.jobs('recovery-point');
  assert.deepEqual(points.map((j) => j.slot), ['2026-03-02T08:00', '2026-03-02T20:00'], 'the next slot makes its own point');
  await s.idle();
});

test('a manual replica made by a consistency check: the check and recovery point slots that passed before it make no job; later slots do', async (t) => {
  const s = await scheduledSource(t, { points: '20:00', replica: 'manual', check: 'auto,daily@02:00' }, at(0, 10));
  await s.agent.connect(s.hub);
  for (const time of [at(0, 10), at(0, 20), at(1, 2), at(1, 20), at(2, 2), at(2, 9)]) await s.tick(time);
  assert.deepEqual(await s.catalog.listJobs({ source: s.source, limit: 100 }), [], 'nothing is scheduled before the replica exists');

  // The administrator has seeded the data and runs the consistency check that creates the replica.
  const check = await s.engine.enqueue({ kind: 'consistency-check', source: s.source, agent: 'lap', reason: 'consistency check requested by admin' });
  await s.idle();
  assert.equal((await s.catalog.job(check.id))?.state, 'succeeded');
  assert.equal((await s.catalog.source(s.source))?.replica_state, 'ok');
  for (const time of [at(2, 9, 1), at(2, 9, 2)]) {
    await s.tick(time);
    await s.idle();
  }
  assert.deepEqual((await s.jobs('consistency-check')).map((j) => j.id), [check.id], 'no daily check for 02:00: the replica was made after it');
  assert.deepEqual(await s.jobs('recovery-point'), [], 'no recovery point for yesterday 20:00: the replica creation made one');

  await s.tick(at(2, 20));
  await s.idle();
  assert.deepEqual((await s.jobs('recovery-point')).map((j) => [j.state, j.slot]), [['succeeded', '2026-03-04T20:00']]);
  await s.tick(at(3, 2));
  await s.idle();
  assert.deepEqual((await s.jobs('consistency-check')).map((j) => [j.state, j.slot]), [['succeeded', null], ['succeeded', '2026-03-05T02:00']]);
});
