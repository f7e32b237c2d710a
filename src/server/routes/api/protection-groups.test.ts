/**
 * Changing a protection group's schedule through the API, on a server
 * started in this process on loopback with a fake clock: slots of the new
 * schedule already past make no job; the next ones do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAdminToken, startServer } from '../../server.js';
import { FakeClock } from '../../../../test/helpers/fake-clock.js';

/** Local time on 2 March 2026 plus `day` days: schedules run in the server's local time. */
const at = (day: number, hh: number, mm = 0): Date => new Date(2026, 2, 2 + day, hh, mm);

test('group update --points / --check at 08:31 with times already past today makes no job for them; the next slots do', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'custos-group-update-'));
  const clock = new FakeClock(at(0, 5));
  // The tick loop runs once at start; the test ticks by hand after moving the clock.
  const server = await startServer({ dataDir: dir, host: '127.0.0.1', port: 0, clock, tickMs: 3_600_000, log: () => undefined });
  t.after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });
  const { catalog, engine } = server.context;
  const token = await readAdminToken(dir);
  const call = async (method: 'POST' | 'PATCH', url: string, body: unknown) => {
    const r = await server.inject({ method, url, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${r.text}`);
  };
  const tick = (time: Date) => clock.tick(engine, time);
  const jobs = async (kind: string) => (await catalog.listJobs({ source: 'lap:fs:/home', kind, limit: 100 })).map((j) => j.slot);

  await catalog.setSetting('last_prune_at', new Date(2100, 0, 1).toISOString()); // no nightly maintenance beside the test
  await catalog.insertAgent({ name: 'lap', cert_serial: '01', cert_fingerprint: 'ff', hostname: 'lap', attached_at: clock.now().toISOString(), last_seen: null, version: null, revoked_at: null });
  await call('POST', '/api/protection-groups', { name: 'g', sources: ['lap:fs:/home'], points: ['20:00'], replica: 'manual', check: 'auto' });
  await catalog.updateSource('lap:fs:/home', { replica_state: 'ok' }); // pre-seeded and checked
  await tick(at(0, 8, 30));
  assert.deepEqual([await jobs('recovery-point'), await jobs('consistency-check')], [[], []]);

  clock.set(at(0, 8, 31));
  await call('PATCH', '/api/protection-groups/g', { points: ['06:00', '07:00'], check: 'auto,daily@07:30' });
  await tick(at(0, 8, 31));
  await tick(at(0, 8, 32));
  assert.deepEqual(await jobs('recovery-point'), [], 'no point for 07:00: it passed before the change');
  assert.deepEqual(await jobs('consistency-check'), [], 'no check for 07:30: it passed before the change');

  await tick(at(1, 6));
  assert.deepEqual(await jobs('recovery-point'), ['2026-03-03T06:00']);
  await tick(at(1, 7, 30));
  assert.deepEqual(await jobs('consistency-check'), ['2026-03-03T07:30']);
});

test('deleting a group resolves the alerts about its data sources\' protection; pool damage stays', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'custos-group-delete-alerts-'));
  const clock = new FakeClock(at(0, 9));
  const server = await startServer({ dataDir: dir, host: '127.0.0.1', port: 0, clock, tickMs: 3_600_000, log: () => undefined });
  t.after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });
  const { catalog, alerts } = server.context;
  const token = await readAdminToken(dir);
  await catalog.setSetting('last_prune_at', new Date(2100, 0, 1).toISOString());
  await catalog.insertAgent({ name: 'lap', cert_serial: '01', cert_fingerprint: 'ff', hostname: 'lap', attached_at: clock.now().toISOString(), last_seen: null, version: null, revoked_at: null });
  for (const [name, source] of [['g', 'lap:fs:/home'], ['h', 'lap:fs:/srv']]) {
    const r = await server.inject({ method: 'POST', url: '/api/protection-groups', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name, sources: [source], replica: 'manual' }) });
    assert.equal(r.status, 201, r.text);
  }
  for (const source of ['lap:fs:/home', 'lap:fs:/srv']) {
    await alerts.raise('sync-failed', source, 'sync job 1 failed', clock.now(), 1);
    await alerts.markInconsistent(source, 'a test', clock.now());
  }
  await alerts.raise('pool-damaged', 'lap:fs:/home', 'points damaged', clock.now());
  const del = await server.inject({ method: 'DELETE', url: '/api/protection-groups/g?points=keep', headers: { authorization: `Bearer ${token}` } });
  assert.equal(del.status, 200, del.text);
  const active = (await catalog.listAlerts('active')).map((a) => `${a.kind} ${a.subject}`).sort();
  assert.deepEqual(active, ['pool-damaged lap:fs:/home', 'replica-inconsistent lap:fs:/srv', 'sync-failed lap:fs:/srv']);
});
