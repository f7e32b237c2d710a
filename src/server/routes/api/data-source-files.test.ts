/**
 * Browse, search and versions on a server started in this process on
 * loopback, over points stored in its real pool: the answers come from the
 * file index, pages of a big directory join up, points are chosen by id,
 * prefix, time or not at all, and bad input and callers without the right
 * are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { startApiServer } from '../../../../test/helpers/api-server.js';
import { craftPoint, type CraftEntry } from '../../../../test/helpers/craft-point.js';
import type { DirectoryListing, SearchAnswer, VersionsAnswer } from '../../../protocol/rest/index.js';

const SOURCE = 'lap:fs:/home/ann';

function tree(thesis: string, extra: CraftEntry[] = []): CraftEntry[] {
  const entries: CraftEntry[] = [
    { path: '', type: 'dir' },
    { path: 'docs', type: 'dir' },
    { path: 'docs/notes.txt', content: 'notes' },
    { path: 'docs/thesis.tex', content: thesis },
    { path: 'many', type: 'dir' },
    ...Array.from({ length: 30 }, (_, i) => ({ path: `many/f${String(i).padStart(3, '0')}`, content: `f${i}` })),
    { path: Buffer.from([0x72, 0x61, 0x77, 0xff]), content: 'raw' },
    ...extra,
  ];
  return entries;
}

test('browse, search and versions answer from the file index; bad input and callers without the right are refused', async (t) => {
  const { server, dir, clock, token: admin } = await startApiServer(t, 'custos-browse-', '2026-12-05T09:00:00Z');
  const { catalog, pool } = server.context;
  const call = async (url: string, token = admin) => {
    const r = await server.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
    return { status: r.status, text: r.text, json: () => JSON.parse(r.text) as unknown };
  };
  const ok = async <T>(url: string, token = admin): Promise<T> => {
    const r = await call(url, token);
    assert.equal(r.status, 200, `${url}: ${r.text}`);
    return r.json() as T;
  };
  const id = encodeURIComponent(SOURCE);

  await catalog.setSetting('last_prune_at', new Date(2100, 0, 1).toISOString());
  await catalog.insertAgent({ name: 'lap', cert_serial: '01', cert_fingerprint: 'ff', hostname: 'lap', attached_at: clock.now().toISOString(), last_seen: null, version: null, revoked_at: null });
  const g = await server.inject({ method: 'POST', url: '/api/protection-groups', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'g', sources: [SOURCE], replica: 'manual' }) });
  assert.ok(g.status < 300, g.text);
  const times = ['2026-12-01T08:00:00.000Z', '2026-12-02T08:00:00.000Z', '2026-12-03T08:00:00.000Z'];
  const contents = ['thesis one', 'thesis one', 'thesis two'];
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const extra: CraftEntry[] = i === 0 ? [{ path: 'old.tex', content: 'gone later' }] : [];
    const p = await craftPoint(pool, [...tree(contents[i]!), ...extra].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path))), { pageSizes: [4, 10, 10], sourcePath: '/home/ann', requireOrder: false });
    await catalog.insertPoint({ id: p.id, source_id: SOURCE, time: times[i]!, recovery_point: 1, partial: 0, files: 1, logical_bytes: 1, bytes_added: 1, job_id: null });
    ids.push(p.id);
  }
  // A replica-only point is never browsed.
  const replica = await craftPoint(pool, tree('replica'), { sourcePath: '/home/ann' });
  await catalog.insertPoint({ id: replica.id, source_id: SOURCE, time: '2026-12-04T08:00:00.000Z', recovery_point: 0, partial: 0, files: 1, logical_bytes: 1, bytes_added: 1, job_id: null });

  // Browse: the newest recovery point by default; one directory, in name order.
  const root = await ok<DirectoryListing>(`/api/data-sources/${id}/files`);
  assert.equal(root.point.id, ids[2]);
  assert.deepEqual(root.items.map((i) => i.name), ['docs', 'many', 'raw\ufffd']);
  assert.equal(root.items[2]!.nameBase64, Buffer.from([0x72, 0x61, 0x77, 0xff]).toString('base64'));
  const docs = await ok<DirectoryListing>(`/api/data-sources/${id}/files?path=docs`);
  assert.deepEqual(docs.items.map((i) => [i.name, i.type, i.size]), [['notes.txt', 'file', 5], ['thesis.tex', 'file', 10]]);
  assert.match(docs.items[0]!.mtime, /^2023-11-14T/);
  const abs = await ok<DirectoryListing>(`/api/data-sources/${id}/files?path=${encodeURIComponent('/home/ann/docs')}`);
  assert.deepEqual(abs.items.map((i) => i.name), ['notes.txt', 'thesis.tex'], 'an absolute path under the protected directory');
  // By point id, prefix and time.
  const first = await ok<DirectoryListing>(`/api/data-sources/${id}/files?point=${ids[0]!.slice(0, 8)}`);
  assert.equal(first.point.id, ids[0]);
  assert.ok(first.items.some((i) => i.name === 'old.tex'));
  const byTime = await ok<DirectoryListing>(`/api/data-sources/${id}/files?at=${encodeURIComponent('2026-12-02T12:00:00Z')}`);
  assert.equal(byTime.point.id, ids[1]);
  // Pages of a big directory join up.
  const names: string[] = [];
  let after: string | null = null;
  do {
    const page: DirectoryListing = await ok<DirectoryListing>(`/api/data-sources/${id}/files?path=many&limit=7${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    names.push(...page.items.map((i) => i.name));
    after = page.next;
  } while (after);
  assert.equal(names.length, 30);
  assert.deepEqual(names, [...names].sort());

  // Search over every recovery point.
  const s = await ok<SearchAnswer>(`/api/data-sources/${id}/search?pattern=${encodeURIComponent('*.tex')}`);
  assert.equal(s.pointsSearched, 3);
  assert.deepEqual(s.hits.map((h) => [h.path, h.first.id, h.last.id, h.points]), [['docs/thesis.tex', ids[0], ids[2], 3], ['old.tex', ids[0], ids[0], 1]]);
  const limited = await ok<SearchAnswer>(`/api/data-sources/${id}/search?pattern=f0*&limit=5`);
  assert.equal(limited.hits.length, 5);
  assert.equal(limited.truncated, true);

  // Versions: content changed once.
  const v = await ok<VersionsAnswer>(`/api/data-sources/${id}/versions?path=docs/thesis.tex`);
  assert.deepEqual(v.versions.map((x) => x.points.map((p) => p.id)), [[ids[0], ids[1]], [ids[2]]]);
  assert.deepEqual(v.versions.map((x) => x.size), [10, 10]);
  assert.deepEqual((await ok<VersionsAnswer>(`/api/data-sources/${id}/versions?path=nothing/here`)).versions, []);

  // Refused: bad paths and points, unknown sources, and callers without the right.
  const refused: Array<[string, number, RegExp]> = [
    [`/api/data-sources/${id}/files?path=docs/../..`, 400, /'\.' and '\.\.' are not allowed/],
    [`/api/data-sources/${id}/files?path=/etc`, 400, /not under the protected directory/],
    [`/api/data-sources/${id}/files?path=docs/notes.txt`, 400, /not a directory/],
    [`/api/data-sources/${id}/files?path=nope`, 404, /not in recovery point/],
    [`/api/data-sources/${id}/files?point=abc`, 400, /querystring\/point/],
    [`/api/data-sources/${id}/files?point=ffffffff`, 404, /recovery point ffffffff/],
    [`/api/data-sources/${id}/files?point=${ids[0]}&at=2026-12-02T00:00Z`, 400, /at most one of point and at/],
    [`/api/data-sources/${id}/files?at=2026-11-01T00:00Z`, 404, /no recovery point at or before/],
    [`/api/data-sources/${id}/files?after=YS9i`, 400, /after: not a name/], [`/api/data-sources/${id}/files?after=%25%25`, 400, /after/],
    [`/api/data-sources/${id}/files?limit=0`, 400, /limit/],
    [`/api/data-sources/${id}/search?pattern=`, 400, /pattern/],
    [`/api/data-sources/${id}/search?pattern=${'x'.repeat(2000)}`, 400, /pattern/],
    [`/api/data-sources/${id}/versions?path=`, 400, /has no versions/],
    [`/api/data-sources/${encodeURIComponent('lap:fs:/other')}/files`, 404, /data source/],
  ];
  for (const [url, status, message] of refused) {
    const r = await call(url);
    assert.equal(r.status, status, `${url.slice(0, 100)}: ${r.text.slice(0, 300)}`);
    assert.match(r.text, message, url.slice(0, 100));
    assert.ok(r.text.length < 1500, 'the answer does not echo a huge request');
  }

  const token = async (body: object) => {
    const r = await server.inject({ method: 'POST', url: '/api/tokens', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(r.status, 201, r.text);
    return (JSON.parse(r.text) as { token: string }).token;
  };
  const other = await server.inject({ method: 'POST', url: '/api/protection-groups', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'other', sources: ['lap:fs:/srv'], replica: 'manual' }) });
  assert.ok(other.status < 300, other.text);
  const viewer = await token({ name: 'viewer', role: 'viewer' });
  const helpdesk = await token({ name: 'helpdesk', role: 'recovery-operator', scopes: ['group:g'] });
  const elsewhere = await token({ name: 'elsewhere', role: 'recovery-operator', scopes: ['group:other'] });
  for (const path of ['files', 'search?pattern=*', 'versions?path=docs/thesis.tex']) {
    assert.equal((await call(`/api/data-sources/${id}/${path}`, viewer)).status, 403, `a viewer does not see file names (${path})`);
    assert.equal((await call(`/api/data-sources/${id}/${path}`, elsewhere)).status, 404, `out of scope: as if it did not exist (${path})`);
    assert.equal((await call(`/api/data-sources/${id}/${path}`, helpdesk)).status, 200, `in scope (${path})`);
    assert.equal((await call(`/api/data-sources/${id}/${path}`, 'not-a-token')).status, 401);
  }

  assert.equal((await stat(join(dir, 'file-index.sqlite'))).mode & 0o777, 0o600, 'the file index is private, like the catalog');

  // The index holds recovery points only, and forgets pruned ones.
  await server.context.fileIndex.idle();
  assert.equal(server.context.fileIndex.index.has(replica.id), false);
  await catalog.deletePoints([ids[0]!]);
  server.context.fileIndex.sourceChanged(SOURCE);
  await server.context.fileIndex.idle();
  assert.equal(server.context.fileIndex.index.has(ids[0]!), false);
  const after2 = await ok<SearchAnswer>(`/api/data-sources/${id}/search?pattern=old.tex`);
  assert.deepEqual(after2.hits, [], 'a pruned point is no longer searched');
});
