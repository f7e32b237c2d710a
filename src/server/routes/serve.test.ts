/**
 * The body validator the server uses, fuzzed against an independent oracle
 * (TypeBox's own checker) for every call of the contract that takes a body:
 * 60,000 generated bodies, each a valid body with one field replaced by an
 * arbitrary JSON value, removed, or joined by an unknown field, or any JSON
 * document. Properties: the two agree; validation never changes the value
 * (no coercion, no removed fields, no defaults); whatever passes has exactly
 * the declared fields.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Value } from '@sinclair/typebox/value';
import fc from 'fast-check';
import { api, type RouteSpec } from '../../protocol/rest/index.js';
import { formatSchemaErrors, makeValidators } from './serve.js';

const VALID: Record<string, Record<string, unknown>> = {
  createToken: { name: 'ci', role: 'recovery-operator', scopes: ['group:homes'], expires: '30d' },
  createEnrollmentToken: { expires: '1h' },
  enroll: { secret: 'abc', name: 'agent1', csr: 'x', hostname: 'h' },
  createGroup: { name: 'g1', sources: ['a:fs:/data'], retention: '5d', sync: 15, points: ['08:00'], days: 'mon', excludes: ['*.mp3'], replica: 'now', check: 'auto', endUserRecovery: true, rpoTarget: '1h', rtoTarget: 240 },
  updateGroup: { retention: 7, addSources: ['a:fs:/y'], removeSources: ['a:fs:/z'], endUserRecovery: false, rpoTarget: null, rtoTarget: '4h' },
  // point and at: the schema takes both (the handler wants exactly one), so removing either field reaches the handler
  recover: { source: 'a:fs:/data', point: 'abc', at: '2026-12-01T17:00:00+01:00', to: 'a:/tmp/x', items: ['a/b'], conflict: 'skip', allowSystemTarget: false, notify: ['ops@example.com'] },
  download: { point: 'abc', at: '2026-12-01T17:00:00+01:00', items: ['a/b'], format: 'zip' },
  setSmtp: { host: 'mail.example.com', port: 587, tls: 'starttls', user: 'custos', password: 'pw', from: 'custos@example.com' },
  setRecipient: { address: 'ops@example.com', severity: 'critical', groups: ['g1'], resolved: true },
  addWebhook: { url: 'https://chat.example.com/hook', secret: 'whsec-0123456789abcdef', severity: 'warning' },
  setDigest: { enabled: true, at: '07:00' },
  setReportSchedule: { report: 'status', daily: '07:00', to: ['ops@example.com'], format: 'pdf' },
  testNotifications: { to: 'ops@example.com' },
  signIn: { name: 'ann', password: 'a password' },
  createUser: { name: 'ann', role: 'recovery-operator', scopes: ['group:homes'], password: 'a password', link: { agent: 'pc1', account: 'ann' } },
  updateUser: { password: 'another password', role: 'viewer', scopes: [], link: { agent: 'pc1', account: 'alice' } },
  setAllocation: { bytes: 50_000_000_000 },
  planStorage: {
    groups: [{ name: 'g', sources: [{ name: 'a:fs:/data', dataBytes: 1e12, dailyChangePercent: 2.5, logBytesPerDay: 0 }], retentionDays: 5, syncMinutes: 15, pointTimes: ['20:00'], days: ['mon'], yearlyGrowthPercent: 10, years: 3 }],
    fromGroups: true, growthPercent: 5, years: 2, preparationSeconds: 600,
  },
};

test('the strict body validator agrees with TypeBox, never coerces, and lets only declared fields through (60,000 bodies)', () => {
  const { bodies } = makeValidators();
  const specs = Object.entries(api).filter(([, r]) => (r as RouteSpec).body) as Array<[string, RouteSpec]>;
  assert.deepEqual(specs.map(([n]) => n).sort(), Object.keys(VALID).sort(), 'every call with a body has a valid sample here');
  const runs = Math.ceil(60_000 / specs.length);
  for (const [name, spec] of specs) {
    const schema = spec.body!;
    const check = bodies.compile(schema);
    const valid = VALID[name]!;
    assert.ok(check(structuredClone(valid)), `${name}: the sample body is valid`);
    const keys = Object.keys(valid);
    const body = fc.oneof(
      fc.tuple(fc.constantFrom(...keys), fc.jsonValue()).map(([k, v]) => ({ ...valid, [k]: v })),
      fc.constantFrom(...keys).map((k) => Object.fromEntries(Object.entries(valid).filter(([x]) => x !== k))),
      fc.tuple(fc.string({ maxLength: 12 }), fc.jsonValue()).map(([k, v]) => ({ ...valid, [k]: v })),
      fc.jsonValue(),
    );
    fc.assert(
      fc.property(body, (b) => {
        const copy = structuredClone(b);
        const ok = check(copy);
        assert.deepEqual(copy, b, 'validation changed the value');
        assert.equal(ok, Value.Check(schema, b), `${name}: ajv ${ok} but TypeBox ${!ok} for ${JSON.stringify(b).slice(0, 200)}`);
        if (ok) {
          const declared = Object.keys((schema as unknown as { properties: Record<string, unknown> }).properties);
          for (const k of Object.keys(b as object)) assert.ok(declared.includes(k), `${name}: undeclared field ${k} passed`);
        }
      }),
      { numRuns: runs },
    );
  }
});

test('a refused body is said in one line a person reads: a union of constants as "one of", a union of types once', () => {
  const { bodies } = makeValidators();
  const say = (spec: RouteSpec, body: unknown): string => {
    const check = bodies.compile(spec.body!);
    assert.equal(check(body), false);
    return formatSchemaErrors(check.errors ?? [], 'body');
  };
  assert.equal(say(api.createToken, { name: 'x', role: ['admin'] }), 'body/role must be one of: "admin", "operator", "viewer", "recovery-operator", "end-user"');
  assert.equal(say(api.createGroup, { name: 'g', sources: ['a:fs:/x'], retention: true }), 'body/retention must be string or integer');
  assert.equal(say(api.createGroup, { name: 'g', sources: 'x' }), 'body/sources must be array');
  assert.equal(say(api.createToken, { name: 'x', role: 'admin', extra: 1 }), 'body has an unknown field "extra"');
});
