/**
 * POST /api/recoveries with `at` instead of `point`, on a server started in
 * this process on loopback: the server picks the newest recovery point at or
 * before the time (never a replica-only point), names the oldest point when
 * there is none, and refuses a body with both, neither, or a time that is
 * not one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startApiServer } from '../../../../test/helpers/api-server.js';

const SOURCE = 'lap:fs:/home';

test('recover at a time: the newest recovery point at or before it; both, neither, bad times and times before every point are refused', async (t) => {
  const { server, clock, token } = await startApiServer(t, 'custos-recover-at-', '2026-12-02T09:00:00Z');
  const { catalog } = server.context;
  const recover = async (body: unknown) => {
    const r = await server.inject({ method: 'POST', url: '/api/recoveries', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: r.status, text: r.text };
  };
  /** The recovery point of the job a request started. */
  const recoveredPoint = async (body: unknown): Promise<string> => {
    const { status, text } = await recover(body);
    assert.equal(status, 202, text);
    const job = (await catalog.listJobs({ kind: 'recovery', limit: 100 })).find((j) => j.id === (JSON.parse(text) as { id: number }).id)!;
    return (JSON.parse(job.params) as { point: string }).point;
  };

  await catalog.setSetting('last_prune_at', new Date(2100, 0, 1).toISOString());
  await catalog.insertAgent({ name: 'lap', cert_serial: '01', cert_fingerprint: 'ff', hostname: 'lap', attached_at: clock.now().toISOString(), last_seen: null, version: null, revoked_at: null });
  const g = await server.inject({ method: 'POST', url: '/api/protection-groups', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'g', sources: [SOURCE], replica: 'manual' }) });
  assert.ok(g.status < 300, g.text);
  const point = (id: string, time: string, recoveryPoint = 1) =>
    catalog.insertPoint({ id, source_id: SOURCE, time, recovery_point: recoveryPoint, partial: 0, files: 1, logical_bytes: 1, bytes_added: 1, job_id: null });
  await point('0a08', '2026-12-01T08:00:00.000Z');
  await point('0a12', '2026-12-01T12:00:12.000Z');
  await point('0b13', '2026-12-01T13:00:00.000Z', 0); // replica-only: never recovered
  await point('0a20', '2026-12-01T20:00:00.000Z');
  const base = { source: SOURCE, to: 'lap:/tmp/restored' };

  assert.equal(await recoveredPoint({ ...base, at: '2026-12-01T12:00:12Z' }), '0a12', 'a point exactly at the time');
  assert.equal(await recoveredPoint({ ...base, at: '2026-12-01T14:30:00+01:00' }), '0a12', 'an offset; the replica-only point is passed over');
  assert.equal(await recoveredPoint({ ...base, at: '2026-12-01T19:59:59.999Z' }), '0a12');
  assert.equal(await recoveredPoint({ ...base, at: '2030-01-01T00:00Z' }), '0a20');
  assert.equal(await recoveredPoint({ ...base, point: '0a08' }), '0a08', 'point alone still works');

  const audit = await server.inject({ method: 'GET', url: '/api/audit?action=recovery&limit=2', headers: { authorization: `Bearer ${token}` } });
  const [byPoint, byTime] = JSON.parse(audit.text) as Array<{ target: string; detail: string }>;
  assert.equal(byPoint!.target, SOURCE);
  assert.match(byPoint!.detail, /"point":"0a08"/, 'the audit entry names the point recovered');
  assert.match(byTime!.detail, /"at":"2030-01-01T00:00Z".*"point":"0a20"/, 'with at: the time asked for and the point it named');

  const before = await recover({ ...base, at: '2026-12-01T07:59:59Z' });
  assert.equal(before.status, 404, before.text);
  assert.match(before.text, /no recovery point at or before 2026-12-01T07:59:59.000Z: the oldest is at 2026-12-01T08:00:00.000Z/);

  const refused: Array<[unknown, RegExp]> = [
    [{ ...base, point: '0a08', at: '2026-12-01T12:00Z' }, /exactly one of point/],
    [base, /exactly one of point/],
    [{ ...base, at: '2026-12-01T12:00' }, /body\/at/], // no offset: the server cannot know the caller's zone
    [{ ...base, at: 'yesterday 17:00' }, /body\/at/],
    [{ ...base, at: '2026-02-30T10:00Z' }, /is not a time/],
    [{ ...base, at: '2026-12-01T24:00Z' }, /is not a time/],
    [{ ...base, at: '2026-12-01T12:00+15:00' }, /is not a time/],
    [{ ...base, at: `2026-12-01T12:00:00.${'1'.repeat(100_000)}Z` }, /body\/at/],
    [{ ...base, at: 1733050800000 }, /body\/at/],
    [{ ...base, at: null }, /body\/at/],
  ];
  for (const [body, message] of refused) {
    const r = await recover(body);
    assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 120)}: ${r.text.slice(0, 300)}`);
    assert.match(r.text, message);
    assert.ok(r.text.length < 1000, 'the answer does not echo a huge body');
  }
  assert.equal((await catalog.listJobs({ kind: 'recovery', limit: 100 })).length, 5, 'no refused request made a job');
});
