import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ACCESS, api, pathFor, queryFor, roleAllows, ROLES, type RouteSpec } from './index.js';

test('docs/design/rest-api.md lists exactly the calls of the contract, each with its access', () => {
  const doc = readFileSync('docs/design/rest-api.md', 'utf8');
  const rows = [...doc.matchAll(/^\| `(GET|POST|PUT|PATCH|DELETE) ([^`?]+)[^`]*` \| ([a-z-]+) \|/gm)].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
  const calls = (Object.values(api) as RouteSpec[]).map((r) => `${r.method} ${r.path} ${r.access}`);
  assert.deepEqual([...rows].sort(), [...calls].sort());
});

test('every call that changes something has an audit name (a read-only POST changes nothing); no two calls share a method and path', () => {
  const seen = new Set<string>();
  for (const r of Object.values(api) as RouteSpec[]) {
    if (r.method !== 'GET' && !r.readOnly) assert.ok(r.audit, `${r.method} ${r.path} has no audit name`);
    const key = `${r.method} ${r.path}`;
    assert.ok(!seen.has(key), key);
    seen.add(key);
  }
});

test('roles: admin holds every access; public needs none; a viewer changes nothing (but ends its own session)', () => {
  for (const access of Object.keys(ACCESS) as Array<keyof typeof ACCESS>) assert.ok(roleAllows('admin', access));
  for (const role of ROLES) assert.ok(roleAllows(role, 'public'));
  const ownSessionOnly: RouteSpec[] = [api.signOut];
  for (const r of Object.values(api) as RouteSpec[]) {
    if (ownSessionOnly.includes(r)) continue;
    if (r.method !== 'GET' && r.access !== 'public' && !r.readOnly) assert.ok(!roleAllows('viewer', r.access), `viewer may ${r.method} ${r.path}`);
    if (r.readOnly) assert.equal(r.audit, undefined, `${r.method} ${r.path} is read-only: nothing to audit`);
  }
});

test('paths and queries are built percent-encoded', () => {
  assert.equal(pathFor(api.getSource, { id: 'laptop:fs:/home/a b' }), '/api/data-sources/laptop%3Afs%3A%2Fhome%2Fa%20b');
  assert.throws(() => pathFor(api.getSource, {}), /parameter id missing/);
  assert.equal(queryFor({ state: 'queued', limit: 5, kind: undefined }), '?state=queued&limit=5');
  assert.equal(queryFor({}), '');
});
