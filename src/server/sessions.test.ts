import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clearedSessionCookie, csrfMatches, parseCookies, sessionCookie, sessionEnd, sessionSecretOf } from './sessions.js';

const SECRET = 'A'.repeat(42) + 'w';

test('parseCookies: names to their values, spaces trimmed, quotes removed, odd pairs skipped', () => {
  const c = parseCookies(' theme=dark;__Host-custos_session="abc" ; lang = en; novalue; =x; empty=; a=b=c');
  assert.deepEqual([...c], [['theme', ['dark']], ['__Host-custos_session', ['abc']], ['lang', ['en']], ['empty', ['']], ['a', ['b=c']]]);
  assert.deepEqual([...parseCookies(undefined)], []);
  assert.deepEqual([...parseCookies('')], []);
  assert.deepEqual(parseCookies('a=1; a=2').get('a'), ['1', '2']);
});

test('parseCookies is bounded: over 8 KiB or 64 cookies reads as none', () => {
  assert.equal(parseCookies(`${'x'.repeat(8200)}=1; __Host-custos_session=${SECRET}`).size, 0);
  assert.equal(parseCookies(Array.from({ length: 65 }, (_, i) => `c${i}=1`).join('; ')).size, 0);
  assert.equal(parseCookies(Array.from({ length: 64 }, (_, i) => `c${i}=1`).join('; ')).size, 64);
});

test('sessionSecretOf: none, one well-formed secret, or a refusal (doubled or malformed)', () => {
  assert.equal(sessionSecretOf(undefined), null);
  assert.equal(sessionSecretOf('theme=dark'), null);
  assert.deepEqual(sessionSecretOf(`theme=dark; __Host-custos_session=${SECRET}`), { secret: SECRET });
  assert.match((sessionSecretOf(`__Host-custos_session=${SECRET}; __Host-custos_session=${SECRET}`) as { refused: string }).refused, /more than one/);
  for (const bad of ['', 'short', `${SECRET}x`, `${SECRET.slice(1)}+`, `${SECRET.slice(1)}=`]) {
    assert.ok('refused' in (sessionSecretOf(`__Host-custos_session=${bad}`) ?? {}), bad);
  }
});

test('the cookie set at sign-in and the one that clears it', () => {
  assert.equal(sessionCookie(SECRET), `__Host-custos_session=${SECRET}; Path=/; HttpOnly; Secure; SameSite=Strict`);
  assert.equal(clearedSessionCookie(), '__Host-custos_session=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0');
});

test('csrfMatches: exactly the token, one header value only', () => {
  assert.equal(csrfMatches('tok', 'tok'), true);
  assert.equal(csrfMatches('tok ', 'tok'), false);
  assert.equal(csrfMatches('to', 'tok'), false);
  assert.equal(csrfMatches(undefined, 'tok'), false);
  assert.equal(csrfMatches(['tok', 'tok'], 'tok'), false);
});

test('a session ends 12 h after its last use, 7 days after sign-in at the latest', () => {
  assert.equal(sessionEnd({ last_used_at: '2026-03-02T09:00:00.000Z', expires_at: '2026-03-09T09:00:00.000Z' }), '2026-03-02T21:00:00.000Z');
  assert.equal(sessionEnd({ last_used_at: '2026-03-09T01:00:00.000Z', expires_at: '2026-03-09T09:00:00.000Z' }), '2026-03-09T09:00:00.000Z');
});
