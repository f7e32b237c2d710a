import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog } from '../catalog/index.js';
import { parsePolicy, POINT_LATE_ALERT_MS } from '../protection/index.js';
import { AlertService } from './alerts.js';

test('a scheduled recovery point that has not started an hour after it was due is reported missed, and resolved by the next one', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'custos-alerts-'));
  const catalog = await Catalog.openSqlite(join(dir, 'catalog.sqlite'));
  try {
    let connected = new Set<string>();
    const alerts = new AlertService(catalog, () => connected, () => undefined);
    const due = new Date('2026-03-02T20:00:00Z');
    const id = await catalog.insertJob({
      kind: 'recovery-point', state: 'queued', source_id: 'lap:fs:/home', agent: 'lap', created_at: due.toISOString(), started_at: null,
      finished_at: null, attempts: 0, next_attempt_at: due.toISOString(), progress: '{}', error: null, result: null, params: '{}', slot: '2026-03-02T20:00',
    });
    const missed = async () => (await catalog.listAlerts('active')).filter((a) => a.kind === 'recovery-point-missed');

    await alerts.evaluate(new Date(due.getTime() + POINT_LATE_ALERT_MS - 60_000));
    assert.deepEqual(await missed(), [], 'not yet late');

    await alerts.evaluate(new Date(due.getTime() + POINT_LATE_ALERT_MS));
    const [raised, ...more] = await missed();
    assert.equal(more.length, 0);
    assert.equal(raised?.subject, 'lap:fs:/home');
    assert.match(raised!.message, /scheduled for 2026-03-02T20:00 has not been created: agent lap is not connected \(job \d+\)/);

    // Raised once, however often the condition is evaluated.
    connected = new Set(['lap']);
    await alerts.evaluate(new Date(due.getTime() + 2 * POINT_LATE_ALERT_MS));
    assert.equal((await missed()).length, 1);

    const job = (await catalog.job(id))!;
    await catalog.updateJob(id, { state: 'succeeded', finished_at: new Date().toISOString() });
    await alerts.jobFinished({ ...job, state: 'succeeded' }, 'succeeded', null, new Date(due.getTime() + 3 * POINT_LATE_ALERT_MS));
    assert.deepEqual(await missed(), []);
  } finally {
    await catalog.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a job retrying on a full disk raises one disk-full warning, resolved when a job of that data source succeeds', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'custos-alerts-'));
  const catalog = await Catalog.openSqlite(join(dir, 'catalog.sqlite'));
  try {
    const alerts = new AlertService(catalog, () => new Set(), () => undefined);
    const now = new Date('2026-03-02T20:00:00Z');
    const insert = (source: string) => catalog.insertJob({
      kind: 'sync', state: 'queued', source_id: source, agent: 'lap', created_at: now.toISOString(), started_at: null,
      finished_at: null, attempts: 1, next_attempt_at: now.toISOString(), progress: '{}', error: null, result: null, params: '{}', slot: null,
    });
    const job = (await catalog.job(await insert('lap:fs:/home')))!;
    const diskFull = async () => (await catalog.listAlerts('active')).filter((a) => a.kind === 'disk-full');

    await alerts.jobRetrying(job, 'the agent disconnected while the job ran', now);
    assert.deepEqual(await diskFull(), [], 'other transient failures raise nothing');

    await alerts.jobRetrying(job, "ENOSPC: no space left on device, write '/srv/custos/pool/tmp/1a2b.tmp'", now);
    await alerts.jobRetrying(job, "ENOSPC: no space left on device, write '/srv/custos/pool/tmp/3c4d.tmp'", now);
    const [raised, ...more] = await diskFull();
    assert.equal(more.length, 0, 'raised once, however many attempts fail');
    assert.equal(raised?.severity, 'warning');
    assert.equal(raised?.subject, 'lap:fs:/home');
    assert.match(raised!.message, new RegExp(`^sync job ${job.id} is retrying: ENOSPC`));
    assert.match(raised!.recommended_action, /^Free space on the disk named in the message/);

    const other = (await catalog.job(await insert('lap:fs:/srv')))!;
    await alerts.jobFinished({ ...other, state: 'succeeded' }, 'succeeded', null, now);
    assert.equal((await diskFull()).length, 1, 'another data source succeeding says nothing about this one');
    await alerts.jobFinished({ ...job, state: 'succeeded' }, 'succeeded', null, now);
    assert.deepEqual(await diskFull(), []);
  } finally {
    await catalog.close();
    await rm(dir, { recursive: true, force: true });
  }
});

/** A catalog in a temporary directory, closed and removed after the test. */
async function tempCatalog(t: { after(fn: () => Promise<void>): void }): Promise<Catalog> {
  const dir = await mkdtemp(join(tmpdir(), 'custos-alerts-'));
  const catalog = await Catalog.openSqlite(join(dir, 'catalog.sqlite'));
  t.after(async () => {
    await catalog.close();
    await rm(dir, { recursive: true, force: true });
  });
  return catalog;
}

function agentRow(name: string, lastSeen: Date) {
  return { name, cert_serial: '01', cert_fingerprint: 'ff', hostname: name, attached_at: lastSeen.toISOString(), last_seen: lastSeen.toISOString(), version: null, revoked_at: null };
}

test('connected agents keep a heartbeat; after a server crash an agent is reported disconnected 30 minutes after the restart at the earliest, since its last heartbeat', async (t) => {
  const catalog = await tempCatalog(t);
  // last_seen as the server writes it when the agent connects, a day before.
  await catalog.insertAgent(agentRow('lap', new Date('2026-03-01T09:00:00Z')));
  let connected = new Set(['lap']);
  const running = new AlertService(catalog, () => connected, () => undefined);
  const t0 = new Date('2026-03-02T10:00:00Z');
  const minutes = (n: number) => new Date(t0.getTime() + n * 60_000);
  await running.evaluate(t0);
  await running.evaluate(minutes(1));
  assert.equal((await catalog.agent('lap'))?.last_seen, minutes(1).toISOString(), 'the heartbeat: last_seen follows the minute tick while connected');

  // The server dies at 10:01:30 (no disconnection is recorded) and starts again at 10:20; the agent has not reconnected yet.
  connected = new Set();
  const restarted = new AlertService(catalog, () => connected, () => undefined);
  const disconnected = async () => (await catalog.listAlerts('active')).filter((a) => a.kind === 'agent-disconnected');
  await restarted.evaluate(minutes(20));
  assert.deepEqual(await disconnected(), [], 'no alert at the first tick after the restart');
  await restarted.evaluate(minutes(49));
  assert.deepEqual(await disconnected(), [], 'the agent gets the whole grace period after the restart');
  await restarted.evaluate(minutes(50));
  const [alert, ...more] = await disconnected();
  assert.equal(more.length, 0);
  assert.equal(alert?.subject, 'lap');
  assert.equal(alert?.message, `agent lap has been disconnected since ${minutes(1).toISOString()} (its last contact with this server)`);
  assert.equal(alert?.raised_at, minutes(50).toISOString());
});

test('the recommended action names the job: custos job show 7, not a literal JOB', async (t) => {
  const catalog = await tempCatalog(t);
  const alerts = new AlertService(catalog, () => new Set(), () => undefined);
  const now = new Date('2026-03-02T20:30:00Z');
  const id = await catalog.insertJob({
    kind: 'recovery-point', state: 'failed', source_id: 'lap:fs:/home', agent: 'lap', created_at: now.toISOString(), started_at: now.toISOString(),
    finished_at: now.toISOString(), attempts: 5, next_attempt_at: now.toISOString(), progress: '{}', error: 'EACCES', result: null, params: '{}', slot: '2026-03-02T20:00',
  });
  await alerts.jobFinished((await catalog.job(id))!, 'failed', 'EACCES: permission denied', now);
  const active = await catalog.listAlerts('active');
  for (const kind of ['sync-failed', 'recovery-point-missed']) {
    const a = active.find((x) => x.kind === kind);
    assert.ok(a, kind);
    assert.match(a.recommended_action, new RegExp(`\\(custos job show ${id}\\)`), kind);
    assert.doesNotMatch(a.recommended_action, /\bJOB\b/, kind);
  }
  assert.match(active.find((x) => x.kind === 'recovery-point-missed')!.message, new RegExp(`^the recovery point scheduled for 2026-03-02T20:00 has not been created: job ${id} failed: EACCES`));
});

test('one missed-point alert covers an outage: it names the first missed slot and is updated with the last one and the count', async (t) => {
  const catalog = await tempCatalog(t);
  const local = (hh: number, mm = 0) => new Date(2026, 2, 2, hh, mm); // slot keys are local times
  const source = 'lap:fs:/home';
  await catalog.insertAgent(agentRow('lap', local(6)));
  await catalog.saveGroup({ name: 'g', policy: JSON.stringify(parsePolicy({ points: '08:00,12:00,16:00' }).policy), now: local(6).toISOString(), create: true }, [{
    id: source, agent: 'lap', kind: 'fs', path: '/home', group_name: null, replica_state: 'ok', allocation_bytes: 0, used_bytes: 0,
    created_at: local(6).toISOString(), last_sync_started_at: null, last_sync_ok_at: null, last_point_slot: null, last_check_slot: null, added_to_group_at: null,
  }]);
  await catalog.insertPoint({ id: 'p1', source_id: source, time: local(6, 5).toISOString(), recovery_point: 1, partial: 0, files: 1, logical_bytes: 1, bytes_added: 1, job_id: null });
  const id = await catalog.insertJob({
    kind: 'recovery-point', state: 'queued', source_id: source, agent: 'lap', created_at: local(8).toISOString(), started_at: null,
    finished_at: null, attempts: 0, next_attempt_at: local(8).toISOString(), progress: '{}', error: null, result: null, params: '{}', slot: '2026-03-02T08:00',
  });
  const alerts = new AlertService(catalog, () => new Set(), () => undefined);
  const missed = async () => (await catalog.listAlerts('active')).filter((a) => a.kind === 'recovery-point-missed');

  await alerts.evaluate(local(9));
  const [first] = await missed();
  assert.equal(first?.message, `the recovery point scheduled for 2026-03-02T08:00 has not been created: agent lap is not connected (job ${id})`);

  await alerts.evaluate(local(16, 30));
  const [updated, ...more] = await missed();
  assert.equal(more.length, 0, 'one alert, not one per slot');
  assert.equal(updated?.id, first!.id);
  assert.equal(updated?.raised_at, first!.raised_at, 'raised once (a notification goes out once)');
  assert.equal(updated?.message, `3 recovery points scheduled from 2026-03-02T08:00 to 2026-03-02T16:00 have not been created (one catch-up point is made when the job runs): agent lap is not connected (job ${id})`);
  assert.match(updated!.recommended_action, new RegExp(`custos job show ${id}\\b`));
});
