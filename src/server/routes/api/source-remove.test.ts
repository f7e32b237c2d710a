/**
 * DELETE /api/data-sources/:id (`custos source remove`): only a data source
 * in no group; with points only when asked; its alerts resolved; refusals
 * change nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startApiServer } from '../../../../test/helpers/api-server.js';

const SOURCE = 'lap:fs:/home';

test('a data source in no group is removed, its points only when asked; refusals change nothing', async (t) => {
  const { server, clock, token } = await startApiServer(t, 'custos-source-remove-', '2026-12-02T09:00:00Z');
  const { catalog, alerts } = server.context;
  const send = async (method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown, as = token) => {
    const r = await server.inject({ method, url, headers: { authorization: `Bearer ${as}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
    return { status: r.status, text: r.text };
  };
  const url = `/api/data-sources/${encodeURIComponent(SOURCE)}`;
  await catalog.setSetting('last_prune_at', new Date(2100, 0, 1).toISOString());
  await catalog.insertAgent({ name: 'lap', cert_serial: '01', cert_fingerprint: 'ff', hostname: 'lap', attached_at: clock.now().toISOString(), last_seen: null, version: null, revoked_at: null });
  assert.equal((await send('POST', '/api/protection-groups', { name: 'g', sources: [SOURCE], replica: 'manual' })).status, 201);
  await catalog.insertPoint({ id: '0a08', source_id: SOURCE, time: '2026-12-01T08:00:00.000Z', recovery_point: 1, partial: 0, files: 1, logical_bytes: 1, bytes_added: 1, job_id: null });
  await catalog.insertPoint({ id: '0a09', source_id: SOURCE, time: '2026-12-01T09:00:00.000Z', recovery_point: 0, partial: 0, files: 1, logical_bytes: 1, bytes_added: 1, job_id: null });
  await alerts.raise('pool-damaged', SOURCE, 'points damaged', clock.now());

  const inGroup = await send('DELETE', url);
  assert.equal(inGroup.status, 409, inGroup.text);
  assert.match(inGroup.text, /protected by group g: take it out first \(custos group update g --remove-source 'lap:fs:\/home'\)/);
  assert.equal((await send('DELETE', '/api/protection-groups/g?points=keep')).status, 200);

  const withPoints = await send('DELETE', url);
  assert.equal(withPoints.status, 409, withPoints.text);
  assert.match(withPoints.text, /still has 1 recovery point: add --delete-points/);
  assert.equal((await catalog.listPoints(SOURCE)).length, 2, 'a refusal deletes nothing');
  assert.equal((await send('DELETE', `${url}?points=all`)).status, 400);
  assert.equal((await send('DELETE', '/api/data-sources/lap%3Afs%3A%2Fnone?points=delete')).status, 404);

  const removed = await send('DELETE', `${url}?points=delete`);
  assert.equal(removed.status, 200, removed.text);
  assert.deepEqual(JSON.parse(removed.text), { removed: SOURCE, recoveryPointsDeleted: 1, replicaOnlyPointsDeleted: 1 });
  assert.equal(await catalog.source(SOURCE), undefined);
  assert.deepEqual(await catalog.listPoints(SOURCE), []);
  assert.deepEqual((await catalog.listAlerts('active')).map((a) => a.kind), [], 'nothing is left to act on');
  assert.equal((await send('GET', url)).status, 404);
  const audit = JSON.parse((await send('GET', '/api/audit?action=source.remove&limit=5')).text) as Array<{ outcome: string; target: string }>;
  assert.deepEqual([audit[0]!.outcome, audit[0]!.target], ['ok', SOURCE], 'the removal is audited');
  assert.ok(audit.slice(1).length >= 2 && audit.slice(1).every((a) => a.outcome === 'failed'), 'and so are the refusals');
});
