/**
 * POST /api/plan/storage on a server started in this process on loopback:
 * a viewer may plan (it changes nothing), no token is refused, malformed,
 * oversized and out-of-limit bodies are 400s naming the value; the RTO uses
 * the median rate of the server's finished recoveries, and fromGroups plans
 * the current groups from their points' sizes and measured change.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PlanAnswer } from '../../../protocol/rest/index.js';
import { startApiServer, type ApiServer } from '../../../../test/helpers/api-server.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const NOW = '2026-03-10T12:00:00Z';

const planned = {
  name: 'planned',
  sources: [{ name: 'data', dataBytes: 500 * GiB, dailyChangePercent: 5 }],
  retentionDays: 14,
  syncMinutes: 15,
  pointTimes: ['08:00', '12:00', '20:00'],
  yearlyGrowthPercent: 20,
  years: 3,
};

async function post(s: ApiServer, body: unknown, token: string | null = s.token): Promise<{ status: number; text: string }> {
  const r = await s.server.inject({
    method: 'POST',
    url: '/api/plan/storage',
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: r.status, text: r.text };
}

async function plan(s: ApiServer, body: unknown, token?: string): Promise<PlanAnswer> {
  const r = await post(s, body, token);
  assert.equal(r.status, 200, r.text);
  return JSON.parse(r.text) as PlanAnswer;
}

test('a viewer plans storage; no token is refused; bad bodies are 400s that name the value', async (t) => {
  const s = await startApiServer(t, 'custos-plan-', NOW);
  const created = await s.server.inject({
    method: 'POST', url: '/api/tokens', headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'looker', role: 'viewer' }),
  });
  assert.equal(created.status, 201, created.text);
  const viewer = (JSON.parse(created.text) as { token: string }).token;

  const a = await plan(s, { groups: [planned] }, viewer);
  const g = a.plan.groups[0]!;
  assert.deepEqual([g.replicaBytes, g.recoveryPointBytes, g.plannedBytes], [500 * GiB, 350 * GiB, 850 * GiB]);
  assert.deepEqual(g.growth.map((y) => y.dataBytes), [500 * GiB, 600 * GiB, 720 * GiB, 864 * GiB]);
  assert.deepEqual(g.rpo, { syncMinutes: 15, recoveryPointMinutes: 720 });
  assert.equal(g.rtoSeconds, null, 'no recoveries yet: RTO unknown');
  assert.deepEqual(a.recoveryRate, { bytesPerSecond: null, recoveries: 0 });
  assert.deepEqual([a.plan.pool.recommendedMinBytes, a.plan.pool.recommendedMaxBytes], [750 * GiB, 1500 * GiB]);
  assert.deepEqual(a.measured, []);

  const anonymous = await post(s, { groups: [planned] }, null);
  assert.equal(anonymous.status, 401, anonymous.text);

  const bad: Array<[unknown, RegExp]> = [
    ['{"groups": [', /json/i],
    [{}, /nothing to plan/],
    [{ groups: [planned], extra: 1 }, /unknown field \\"extra/],
    [{ groups: [{ ...planned, sources: [{ name: 'd', dataBytes: -1, dailyChangePercent: 5 }] }] }, /dataBytes must be >= 0/],
    [{ groups: [{ ...planned, sources: [{ name: 'd', dataBytes: '1TB', dailyChangePercent: 5 }] }] }, /dataBytes must be integer/],
    [{ groups: [{ ...planned, sources: [{ name: 'd', dataBytes: 1, dailyChangePercent: 101 }] }] }, /dailyChangePercent must be <= 100/],
    [{ groups: [{ ...planned, retentionDays: 449 }] }, /group planned: retention range 449 days is not allowed: use whole days from 1 to 448/],
    [{ groups: [{ ...planned, syncMinutes: 5 }] }, /synchronization frequency 5 minutes is not allowed/],
    [{ groups: [{ ...planned, pointTimes: ['7pm'] }] }, /recovery point time 7pm is not a time/],
    [{ groups: [{ ...planned, pointTimes: Array.from({ length: 9 }, (_, i) => `0${i}:00`) }] }, /pointTimes must NOT have more than 8 items/],
    [{ groups: Array.from({ length: 101 }, (_, i) => ({ ...planned, name: `g${i}` })) }, /groups must NOT have more than 100 items/],
    [{ groups: [{ ...planned, sources: Array.from({ length: 1001 }, () => planned.sources[0]) }] }, /sources must NOT have more than 1000 items/],
    [{ groups: [planned], preparationSeconds: 1e9 }, /preparationSeconds must be <= 604800/],
    [{ fromGroups: true }, /no protection group has data sources yet/],
  ];
  for (const [body, message] of bad) {
    const r = await post(s, body);
    assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 100)}: ${r.text}`);
    assert.match(r.text, message);
  }
  const huge = await post(s, { groups: [{ ...planned, name: 'x'.repeat(2 * MiB) }] });
  assert.equal(huge.status, 413, 'a body over 1 MiB is refused before it is read');
});

test('RTO at the median rate of the newest recoveries; fromGroups plans the current groups from measured size and change', async (t) => {
  const s = await startApiServer(t, 'custos-plan-measured-', NOW);
  const { catalog } = s.server.context;
  const recovery = (bytes: number, seconds: number, state = 'succeeded') =>
    catalog.insertJob({
      kind: 'recovery', state, source_id: 'lap:fs:/home', agent: 'lap', created_at: '2026-03-09T10:00:00.000Z', started_at: '2026-03-09T10:00:00.000Z',
      finished_at: new Date(Date.parse('2026-03-09T10:00:00.000Z') + seconds * 1000).toISOString(), attempts: 1, next_attempt_at: '2026-03-09T10:00:00.000Z',
      progress: '{}', error: null, result: JSON.stringify({ files: 1, bytes }), params: '{}', slot: null,
    });
  await recovery(GiB, 10); // 102.4 MiB/s
  await recovery(GiB, 1000, 'failed'); // not a measurement
  await recovery(1000, 100); // too small to measure
  await recovery(4 * GiB, 80); // 51.2 MiB/s
  await recovery(2 * GiB, 10); // 204.8 MiB/s

  const a = await plan(s, { groups: [planned], preparationSeconds: 600 });
  assert.deepEqual(a.recoveryRate, { bytesPerSecond: 102.4 * MiB, recoveries: 3 });
  assert.equal(a.plan.recoveryRate, 102.4 * MiB);
  assert.equal(a.plan.groups[0]!.sources[0]!.rtoSeconds, 5000 + 600, '500 GiB at 102.4 MiB/s is 5000 s, plus preparation');

  // The current configuration: one group, one data source protected 10 days ago, 2 GiB added a day to 100 GiB.
  await catalog.insertAgent({ name: 'lap', cert_serial: '01', cert_fingerprint: 'ff', hostname: 'lap', attached_at: NOW, last_seen: null, version: null, revoked_at: null });
  const g = await s.server.inject({
    method: 'POST', url: '/api/protection-groups', headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'home', sources: ['lap:fs:/home'], replica: 'manual', retention: 10, sync: '1h', points: '08:00,20:00', days: 'mon-fri' }),
  });
  assert.ok(g.status < 300, g.text);
  const day = (n: number) => new Date(Date.parse(NOW) - n * 86_400_000).toISOString();
  await catalog.insertPoint({ id: 'p10', source_id: 'lap:fs:/home', time: day(10), recovery_point: 1, partial: 0, files: 1, logical_bytes: 90 * GiB, bytes_added: 90 * GiB, job_id: null });
  for (let d = 6; d >= 0; d--) {
    await catalog.insertPoint({ id: `p${d}`, source_id: 'lap:fs:/home', time: day(d), recovery_point: d % 2, partial: 0, files: 1, logical_bytes: 100 * GiB, bytes_added: 2 * GiB, job_id: null });
  }

  const c = await plan(s, { fromGroups: true, growthPercent: 10, years: 1, groups: [planned] });
  assert.deepEqual(c.measured, [{ group: 'home', source: 'lap:fs:/home', dataBytes: 100 * GiB, dailyChangePercent: 2, days: 7, points: 7 }]);
  const home = c.plan.groups.find((x) => x.name === 'home')!;
  assert.deepEqual([home.retentionDays, home.syncMinutes, home.pointTimes, home.days], [10, 60, ['08:00', '20:00'], ['mon', 'tue', 'wed', 'thu', 'fri']]);
  assert.deepEqual(home.rpo, { syncMinutes: 60, recoveryPointMinutes: 60 * 60 }, 'Friday 20:00 to Monday 08:00');
  assert.equal(home.sources[0]!.dailyChangePercent, 2);
  assert.equal(home.recoveryPointBytes, 10 * Math.round(2 * GiB));
  assert.deepEqual(home.growth.map((y) => y.dataBytes), [100 * GiB, 110 * GiB]);
  assert.deepEqual(c.plan.groups.map((x) => x.name), ['home', 'planned'], 'planned groups are planned beside the current ones');
  assert.equal(c.plan.pool.protectedBytes, 600 * GiB);
});
