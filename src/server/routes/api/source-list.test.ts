/**
 * GET /api/data-sources at fleet size: 10,000 data sources answered by one
 * query a page at a time, filtered by group, agent, replica state and part
 * of the id, each with its newest recovery point and count; a scoped
 * recovery-operator's pages hold only its scope and are as long as anyone's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startApiServer } from '../../../../test/helpers/api-server.js';

type Src = { id: string; group: string | null; replicaState: string; newestPoint: string | null; recoveryPoints: number };

test('data sources: pages, filters, newest points and scopes over 10,000 of them', async (t) => {
  const { server, clock, token } = await startApiServer(t, 'custos-source-list-', '2026-12-02T09:00:00Z');
  const { catalog } = server.context;
  const now = clock.now().toISOString();
  const id = (i: number) => `pc${String(i % 100).padStart(2, '0')}:fs:/data/${String(i).padStart(5, '0')}`;
  await catalog.db.transaction().execute(async (tx) => {
    for (let i = 0; i < 10_000; i++) {
      await tx.insertInto('data_sources').values({
        id: id(i), agent: `pc${String(i % 100).padStart(2, '0')}`, kind: 'fs', path: `/data/${i}`, group_name: i % 2 === 0 ? 'even' : 'odd',
        replica_state: i % 10 === 0 ? 'inconsistent' : 'ok', allocation_bytes: 1, used_bytes: 0, created_at: now,
        last_sync_started_at: null, last_sync_ok_at: null, last_point_slot: null, last_check_slot: null, added_to_group_at: null,
      }).execute();
    }
  });
  for (const [time, rp] of [['2026-12-01T08:00:00.000Z', 1], ['2026-12-01T20:00:00.000Z', 1], ['2026-12-01T21:00:00.000Z', 0]] as const) {
    await catalog.insertPoint({ id: `p${time}`, source_id: id(42), time, recovery_point: rp, partial: 0, files: 1, logical_bytes: 1, bytes_added: 1, job_id: null });
  }
  const get = async (query: string, as = token): Promise<Src[]> => {
    const r = await server.inject({ method: 'GET', url: `/api/data-sources${query}`, headers: { authorization: `Bearer ${as}` } });
    assert.equal(r.status, 200, r.text);
    return JSON.parse(r.text) as Src[];
  };

  assert.equal((await get('')).length, 10_000, 'no limit: all');
  const first = await get('?limit=200');
  assert.equal(first.length, 200);
  const second = await get(`?limit=200&after=${encodeURIComponent(first.at(-1)!.id)}`);
  assert.equal(second.length, 200);
  assert.ok(second[0]!.id > first.at(-1)!.id, 'the next page starts after the last id');
  assert.deepEqual([...first, ...second].map((s) => s.id), [...first, ...second].map((s) => s.id).sort());

  const s42 = (await get(`?search=${encodeURIComponent('/DATA/00042')}`));
  assert.deepEqual(s42.map((s) => [s.id, s.newestPoint, s.recoveryPoints]), [[id(42), '2026-12-01T20:00:00.000Z', 2]], 'search in any case; newest recovery point, not the replica-only one');
  assert.equal((await get('?group=odd&limit=10000')).length, 5_000);
  assert.equal((await get('?state=inconsistent')).length, 1_000);
  assert.ok((await get('?state=inconsistent&group=odd')).length === 0, 'i % 10 === 0 is even');
  assert.equal((await get('?agent=pc07')).length, 100);

  for (const bad of ['?state=broken', '?limit=0', '?limit=10001', '?after=', `?search=${'x'.repeat(201)}`, '?colour=red']) {
    const r = await server.inject({ method: 'GET', url: `/api/data-sources${bad}`, headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 400, `${bad}: ${r.text.slice(0, 200)}`);
  }

  const created = await server.inject({
    method: 'POST', url: '/api/tokens', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'ro', role: 'recovery-operator', scopes: [`source:${id(9_999)}`, `source:${id(3)}`] }),
  });
  assert.equal(created.status, 201, created.text);
  const ro = (JSON.parse(created.text) as { token: string }).token;
  assert.deepEqual((await get('?limit=1', ro)).map((s) => s.id), [id(3)], 'a scoped page is filled from its scope');
  assert.deepEqual((await get(`?limit=1&after=${encodeURIComponent(id(3))}`, ro)).map((s) => s.id), [id(9_999)], 'even when its rows are far apart');
  assert.deepEqual((await get('', ro)).map((s) => s.id), [id(3), id(9_999)]);
  const one = await server.inject({ method: 'GET', url: `/api/data-sources/${encodeURIComponent(id(42))}`, headers: { authorization: `Bearer ${token}` } });
  assert.equal((JSON.parse(one.text) as Src).recoveryPoints, 2);
});
