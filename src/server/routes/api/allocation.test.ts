/**
 * POST /api/data-sources/:id/allocation on a server started in this process:
 * a size or a grow as auto-grow would; never below what is used; the
 * allocation alerts are judged again at once (the alert's button resolves
 * it); a viewer or an operator may not; bad bodies change nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startApiServer } from '../../../../test/helpers/api-server.js';
import { grownByHand } from '../../../protection/index.js';

const SOURCE = 'lap:fs:/home';
const GiB = 1024 ** 3;

test('a disk allocation is set or grown by hand; the alert it raised resolves; refusals change nothing', async (t) => {
  const { server, clock, token } = await startApiServer(t, 'custos-allocation-', '2026-12-02T09:00:00Z');
  const { catalog } = server.context;
  const call = async (body: unknown, as = token, id = SOURCE) => {
    const r = await server.inject({ method: 'POST', url: `/api/data-sources/${encodeURIComponent(id)}/allocation`, headers: { authorization: `Bearer ${as}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: r.status, text: r.text, json: () => JSON.parse(r.text) as { allocationBytes: number; usedBytes: number } };
  };
  await catalog.insertAgent({ name: 'lap', cert_serial: '01', cert_fingerprint: 'ff', hostname: 'lap', attached_at: clock.now().toISOString(), last_seen: null, version: null, revoked_at: null });
  const g = await server.inject({ method: 'POST', url: '/api/protection-groups', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'g', sources: [SOURCE], replica: 'manual' }) });
  assert.ok(g.status < 300, g.text);
  // 9.6 GiB used of 10: the critical alert is up.
  await catalog.updateSource(SOURCE, { used_bytes: Math.round(9.6 * GiB), allocation_bytes: 10 * GiB });
  await server.context.alerts.judgeAllocation(SOURCE, Math.round(9.6 * GiB), 10 * GiB, clock.now());
  const active = async () => (await catalog.listAlerts('active')).filter((a) => a.kind.startsWith('allocation-')).map((a) => a.kind);
  assert.deepEqual(await active(), ['allocation-critical']);
  const alerts = JSON.parse((await server.inject({ method: 'GET', url: '/api/alerts', headers: { authorization: `Bearer ${token}` } })).text) as Array<{ kind: string; action: string | null }>;
  assert.equal(alerts.find((a) => a.kind === 'allocation-critical')?.action, 'grow-allocation', 'the alert offers the button');

  const mkToken = async (name: string, role: string) => {
    const r = await server.inject({ method: 'POST', url: '/api/tokens', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name, role }) });
    return (JSON.parse(r.text) as { token: string }).token;
  };
  for (const role of ['viewer', 'operator']) assert.equal((await call({ grow: true }, await mkToken(role, role))).status, 403, role);
  const refused: Array<[unknown, number, RegExp]> = [
    [{}, 400, /body/],
    [{ grow: true, bytes: 20 * GiB }, 400, /body/],
    [{ grow: false }, 400, /body\/grow/],
    [{ bytes: 0 }, 400, /body\/bytes/],
    [{ bytes: -5 }, 400, /body\/bytes/],
    [{ bytes: 1.5 }, 400, /body\/bytes/],
    [{ bytes: '20GiB' }, 400, /body\/bytes/],
    [{ bytes: 2 ** 60 }, 400, /body\/bytes/],
    [{ bytes: 5 * GiB }, 400, /less than the 9\.6 GiB lap:fs:\/home uses/],
  ];
  for (const [body, status, message] of refused) {
    const r = await call(body);
    assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
    assert.match(r.text, message);
  }
  assert.equal((await call({ grow: true }, token, 'lap:fs:/nothing')).status, 404);
  assert.equal(Number((await catalog.source(SOURCE))!.allocation_bytes), 10 * GiB, 'refusals changed nothing');
  assert.deepEqual(await active(), ['allocation-critical']);

  const grown = await call({ grow: true });
  assert.equal(grown.status, 200, grown.text);
  assert.equal(grown.json().allocationBytes, grownByHand(Math.round(9.6 * GiB), 10 * GiB));
  assert.equal(grown.json().allocationBytes, Math.ceil(Math.round(9.6 * GiB) / 0.75), 'to 75 % used (more than 1.25 × here)');
  assert.deepEqual(await active(), [], 'the critical alert resolved at once; 75 % raises no warning');

  const set = await call({ bytes: 11 * GiB });
  assert.equal(set.json().allocationBytes, 11 * GiB);
  assert.deepEqual(await active(), ['allocation-warning'], '87 % used: the warning is raised');
  const audit = JSON.parse((await server.inject({ method: 'GET', url: '/api/audit?action=source.allocation&limit=1', headers: { authorization: `Bearer ${token}` } })).text) as Array<{ detail: string; outcome: string }>;
  assert.equal(audit[0]!.outcome, 'ok');
  assert.match(audit[0]!.detail, /"from":\d+,"to":11811160064/);
});

test('grownByHand: 1.25 × the allocation, or used / 0.75 when that is more; whatever the use', () => {
  assert.equal(grownByHand(0, 100), 125);
  assert.equal(grownByHand(99, 100), 132);
  assert.equal(grownByHand(10, 7), 14);
});

test('a data source that leaves protection gives its allocation back and its allocation alerts resolve (group update and delete)', async (t) => {
  const { server, clock, token } = await startApiServer(t, 'custos-allocation-leave-', '2026-12-02T09:00:00Z');
  const { catalog } = server.context;
  const call = async (method: 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown) => {
    const r = await server.inject({ method, url, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
    assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${r.text}`);
  };
  await catalog.insertAgent({ name: 'lap', cert_serial: '01', cert_fingerprint: 'ff', hostname: 'lap', attached_at: clock.now().toISOString(), last_seen: null, version: null, revoked_at: null });
  const [a, b] = ['lap:fs:/home', 'lap:fs:/srv'];
  await call('POST', '/api/protection-groups', { name: 'g', sources: [a, b], replica: 'manual' });
  for (const s of [a, b]) {
    await catalog.updateSource(s, { used_bytes: 9 * GiB, allocation_bytes: 10 * GiB });
    await server.context.alerts.judgeAllocation(s, 9 * GiB, 10 * GiB, clock.now());
  }
  const state = async (s: string) => ({
    allocation: Number((await catalog.source(s))!.allocation_bytes),
    alerts: (await catalog.listAlerts('active')).filter((x) => x.subject === s).map((x) => x.kind),
  });
  assert.deepEqual(await state(a), { allocation: 10 * GiB, alerts: ['allocation-warning'] });

  await call('PATCH', '/api/protection-groups/g', { removeSources: [a] });
  assert.deepEqual(await state(a), { allocation: 0, alerts: [] }, 'removed from its group');
  assert.deepEqual(await state(b), { allocation: 10 * GiB, alerts: ['allocation-warning'] }, 'the member that stays keeps both');

  await call('DELETE', '/api/protection-groups/g?points=keep');
  assert.deepEqual(await state(b), { allocation: 0, alerts: [] }, 'its group deleted');
  assert.equal(Number((await catalog.source(b))!.used_bytes), 9 * GiB, 'what its kept points use is still counted');
});
