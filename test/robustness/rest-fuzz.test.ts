/**
 * Property-based fuzzing of every REST body, path parameter and query
 * (fast-check), through the server's whole HTTP pipeline (routing, auth,
 * validation, handlers) with an admin token, so every input reaches the
 * handlers. Properties: no answer is a 5xx; an answer of 4xx changed
 * nothing in the catalog (the audit log aside, which records the refusal);
 * whatever was accepted reads back through the API without an error (no
 * stored garbage). Inputs are valid bodies with one field replaced by an
 * arbitrary JSON value, removed, or joined by an unknown field, and
 * arbitrary JSON documents. Each input costs a catalog write with fsync
 * (its audit entry), so this end-to-end run (data in memory) is about 12,000 inputs; the
 * validators themselves get 60,000 more in src/server/routes/serve.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { api, type RouteSpec } from '../../src/protocol/rest/index.js';
import { cleanupTempDirs } from '../helpers/tree.js';
import { startInProcessServer, type InProcessServer } from '../helpers/raw-server.js';

/** A valid-looking body for each call that takes one. */
const VALID: Partial<Record<keyof typeof api, Record<string, unknown>>> = {
  createToken: { name: 'fuzz', role: 'viewer' },
  createEnrollmentToken: { expires: '1h' },
  enroll: { secret: 'abc', name: 'agent1', csr: '-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n', hostname: 'h' },
  createGroup: { name: 'g1', sources: ['nobody:fs:/data'], retention: '5d', sync: '15m', points: '08:00,20:00', days: 'mon,tue', excludes: ['*.mp3'], replica: 'now', check: 'auto' },
  updateGroup: { retention: 7, sync: 30, points: ['08:00'], days: ['mon'], excludes: ['x'], replica: 'manual', check: 'auto', addSources: ['nobody:fs:/y'], removeSources: ['nobody:fs:/z'] },
  // point and at: the schema takes both (the handler wants exactly one), so removing either field reaches the handler
  recover: { source: 'nobody:fs:/data', point: 'abc', at: '2026-12-01T17:00:00+01:00', to: 'nobody:/tmp/x', items: ['a/b'], conflict: 'skip', security: 'target', throttle: ['20MiB/s', '5MiB/s@mon-fri,08:00-18:00'], allowSystemTarget: false },
  // a download: the same choice of point and items, and an archive format
  download: { point: 'abc', at: '2026-12-01T17:00:00+01:00', items: ['a/b'], format: 'tar.zst' },
  createUser: { name: 'fuzz-user', role: 'viewer', password: 'fuzz-password', scopes: [] },
  updateUser: { password: 'fuzz-password-2', role: 'operator', scopes: [] },
  signIn: { name: 'fuzz-user', password: 'not-the-password' },
  // the storage calculator: read-only, so even an accepted body changes nothing
  planStorage: {
    groups: [{ name: 'g', sources: [{ name: 'd', dataBytes: 1e12, dailyChangePercent: 5, logBytesPerDay: 1e9 }], retentionDays: 14, syncMinutes: 15, pointTimes: ['08:00', '20:00'], days: ['mon', 'fri'], yearlyGrowthPercent: 20, years: 3 }],
    fromGroups: true, growthPercent: 10, years: 2, preparationSeconds: 600,
  },
};

const PER_ROUTE_RUNS = 1500;
/** Calls whose accepted inputs each cost a password hash (tens of milliseconds): fewer runs. */
const RUNS: Partial<Record<keyof typeof api, number>> = { createUser: 500, updateUser: 500, signIn: 500 };

function fingerprint(db: Database.Database): string {
  const h = createHash('sha256');
  const tables = (db.prepare("select name from sqlite_master where type = 'table' and name not in ('audit_log', 'sqlite_sequence') order by name").all() as Array<{ name: string }>).map((r) => r.name);
  for (const t of tables) {
    const rows = db.prepare(`select * from "${t}" order by rowid`).all() as Array<Record<string, unknown>>;
    for (const r of rows) {
      if (t === 'api_tokens') delete r['last_used_at'];
      // A refused sign-in counts a failure (and may lock the name): bookkeeping of refusals, like the audit log.
      if (t === 'users') for (const k of ['failed_sign_ins', 'locked_until']) delete r[k];
      h.update(`${t}:${JSON.stringify(r)}\n`);
    }
  }
  return h.digest('hex');
}

describe('REST fuzzing: bodies, path parameters and queries', () => {
  let s: InProcessServer;
  let db: Database.Database;
  let total = 0;

  before(async () => {
    s = await startInProcessServer();
    db = new Database(join(s.dataDir, 'catalog.sqlite'), { readonly: true, fileMustExist: true });
  });

  after(async () => {
    db?.close();
    await s?.close();
    await cleanupTempDirs();
    assert.ok(total >= 10_000 || total === 0, `only ${total} inputs`);
  });

  let last = '';
  const send = async (spec: RouteSpec, url: string, body: string | undefined) => {
    last ||= fingerprint(db);
    const r = await s.server.inject({
      method: spec.method,
      url,
      headers: { authorization: `Bearer ${s.adminToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body } : {}),
    });
    total++;
    assert.ok(r.status < 500, `${spec.method} ${url} ${body?.slice(0, 300)} → ${r.status} ${r.text.slice(0, 300)}`);
    // Jobs an accepted call queued (a catalog backup, a pool gc) change the catalog as they run: wait for them.
    if (spec.method !== 'GET' && r.status < 400) await s.waitIdle();
    const now = spec.method === 'GET' && r.status < 400 ? last : fingerprint(db);
    if (r.status >= 400) assert.equal(now, last, `${spec.method} ${url} ${body?.slice(0, 300)} was refused (${r.status}) but changed the catalog`);
    last = now;
    return r;
  };

  const pathOf = (spec: RouteSpec, params: Record<string, string>) => spec.path.replace(/:([A-Za-z]+)/g, (_m, p: string) => encodeURIComponent(params[p] ?? 'x'));

  for (const [name, valid] of Object.entries(VALID) as Array<[keyof typeof api, Record<string, unknown>]>) {
    const spec = api[name] as RouteSpec;
    test(`${spec.method} ${spec.path}: mutated and arbitrary bodies`, async () => {
      const keys = Object.keys(valid);
      const mutated = fc.oneof(
        fc.tuple(fc.constantFrom(...keys), fc.jsonValue()).map(([k, v]) => ({ ...valid, [k]: v })),
        fc.constantFrom(...keys).map((k) => Object.fromEntries(Object.entries(valid).filter(([x]) => x !== k))),
        fc.tuple(fc.string({ maxLength: 12 }), fc.jsonValue()).map(([k, v]) => ({ ...valid, [k]: v })),
        fc.jsonValue(),
      );
      await fc.assert(
        fc.asyncProperty(mutated, fc.string({ maxLength: 40 }), async (body, param) => {
          await send(spec, pathOf(spec, { name: param, id: param }), JSON.stringify(body));
        }),
        { numRuns: RUNS[name] ?? PER_ROUTE_RUNS },
      );
    });
  }

  test('every call: arbitrary path parameters and queries', async () => {
    const specs = Object.values(api) as RouteSpec[];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...specs.filter((x) => x.path !== '/api/openapi.json' && !x.events)), // an event stream never ends: tested in live-events.test.ts
        fc.string({ maxLength: 60 }),
        fc.dictionary(fc.constantFrom('state', 'kind', 'source', 'limit', 'wait', 'points', 'before', 'action', 'x'), fc.string({ maxLength: 20 }), { maxKeys: 3 }),
        async (spec, param, query) => {
          const qs = new URLSearchParams(query).toString();
          await send(spec, pathOf(spec, { name: param, id: param }) + (qs ? `?${qs}` : ''), undefined);
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('malformed JSON, wrong content types and oversized bodies are refused with 4xx', async () => {
    const spec = api.createToken as RouteSpec;
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 200 }), fc.jsonValue().map((v) => JSON.stringify(v).slice(0, -1))), async (text) => {
        await send(spec, spec.path, text);
      }),
      { numRuns: 800 },
    );
    const big = await s.server.inject({ method: 'POST', url: '/api/tokens', headers: { authorization: `Bearer ${s.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x'.repeat(2_000_000), role: 'viewer' }) });
    assert.equal(big.status, 413);
    const proto = await send(spec, spec.path, '{"name":"p","role":"viewer","__proto__":{"role":"admin"}}');
    assert.equal(proto.status, 400);
    const coerced = await send(spec, spec.path, '{"name":"p","role":["admin"]}');
    assert.equal(coerced.status, 400, 'an array is not a role (no coercion)');
    const groupString = await send(api.createGroup as RouteSpec, '/api/protection-groups', '{"name":"g","sources":"x"}');
    assert.equal(groupString.status, 400, 'sources must be an array (no coercion)');
  });

  test('what was accepted reads back through the API', async () => {
    for (const spec of Object.values(api) as RouteSpec[]) {
      if (spec.method !== 'GET' || spec.path.includes(':') || spec.events) continue;
      if (spec.access === 'my') continue; // a token has no linked account (404); My files: test/browser/my-files.test.ts
      const r = await s.server.inject({ method: 'GET', url: spec.path, headers: { authorization: `Bearer ${s.adminToken}` } });
      assert.equal(r.status, 200, `${spec.path}: ${r.text.slice(0, 300)}`);
    }
    const tokens = JSON.parse((await s.server.inject({ method: 'GET', url: '/api/tokens', headers: { authorization: `Bearer ${s.adminToken}` } })).text) as Array<{ name: string; role: string }>;
    for (const t of tokens) {
      assert.match(t.name, /^[A-Za-z0-9][A-Za-z0-9 ._@-]*$/);
      assert.ok(['admin', 'operator', 'viewer', 'recovery-operator'].includes(t.role));
    }
  });
});
