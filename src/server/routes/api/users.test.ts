/**
 * Console users and their browser sessions through the whole HTTPS
 * pipeline of a server started in this process (a clock the test moves):
 * sign-in and its cookie, the same answer for a wrong password and an
 * unknown name, lockout and its end, CSRF on calls that change something,
 * idle and latest expiry, sign-out, user management and what it ends, and
 * no secret in the audit log or the server's log.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanupTempDirs } from '../../../../test/helpers/tree.js';
import { startInProcessServer, type InProcessServer, type RawAnswer } from '../../../../test/helpers/raw-server.js';

interface SignedIn {
  name: string;
  role: string;
  scopes: string[];
  csrf: string;
  expiresAt: string;
}

/** A signed-in browser: its cookie header and CSRF token. */
interface Browser {
  readonly cookie: string;
  readonly csrf: string;
  readonly secret: string;
}

describe('console users: sign-in, sessions, CSRF, lockout', () => {
  let s: InProcessServer;
  const logLines: string[] = [];

  const admin = (method: string, path: string, body?: unknown) => s.raw(method, path, { token: s.adminToken, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const addUser = async (name: string, role: string, password: string, scopes?: string[]) => {
    const r = await admin('POST', '/api/users', { name, role, password, ...(scopes ? { scopes } : {}) });
    assert.equal(r.status, 201, r.text);
  };
  const signInRaw = (name: string, password: string) => s.raw('POST', '/api/sign-in', { body: JSON.stringify({ name, password }) });
  const signIn = async (name: string, password: string): Promise<Browser & { answer: SignedIn }> => {
    const r = await signInRaw(name, password);
    assert.equal(r.status, 200, r.text);
    const setCookie = String(r.headers['set-cookie']);
    const m = /^__Host-custos_session=([A-Za-z0-9_-]{43});/.exec(setCookie);
    assert.ok(m, setCookie);
    const answer = JSON.parse(r.text) as SignedIn;
    return { cookie: `__Host-custos_session=${m[1]}`, csrf: answer.csrf, secret: m[1]!, answer };
  };
  const as = (b: Browser, method: string, path: string, opts: { body?: unknown; csrf?: string | null } = {}) =>
    s.raw(method, path, {
      headers: { cookie: b.cookie, ...(opts.csrf === null ? {} : { 'x-custos-csrf': opts.csrf ?? b.csrf }) },
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    });
  const errorOf = (r: RawAnswer) => (JSON.parse(r.text) as { error: { code: string; message: string } }).error;

  before(async () => {
    s = await startInProcessServer({ log: (l) => logLines.push(l) });
    await addUser('alice', 'admin', 'alice-password-1');
    await addUser('victor', 'viewer', 'victor-password-1');
  });

  after(async () => {
    await s?.close();
    await cleanupTempDirs();
  });

  test('sign-in sets a secure browser-session cookie and answers who, the CSRF token and when the session ends', async () => {
    const r = await signInRaw('alice', 'alice-password-1');
    assert.equal(r.status, 200, r.text);
    assert.match(String(r.headers['set-cookie']), /^__Host-custos_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; Secure; SameSite=Strict$/);
    const a = JSON.parse(r.text) as SignedIn;
    assert.deepEqual({ ...a, csrf: 'x' }, { name: 'alice', role: 'admin', scopes: [], csrf: 'x', expiresAt: new Date(s.clock.now().getTime() + 12 * 3_600_000).toISOString() });
    assert.match(a.csrf, /^[A-Za-z0-9_-]{43}$/);
    const b = await signIn('alice', 'alice-password-1');
    assert.notEqual(b.csrf, a.csrf, 'each session has its own CSRF token');
    const session = await as(b, 'GET', '/api/session', { csrf: null });
    assert.equal(session.status, 200, 'a GET needs no CSRF token');
    assert.deepEqual(JSON.parse(session.text), { kind: 'user', name: 'alice', role: 'admin', scopes: [], csrf: b.csrf, expiresAt: b.answer.expiresAt });
    const viaToken = JSON.parse((await admin('GET', '/api/session')).text) as { kind: string; csrf?: string };
    assert.equal(viaToken.kind, 'token');
    assert.equal(viaToken.csrf, undefined);
    const users = JSON.parse((await as(b, 'GET', '/api/users', { csrf: null })).text) as Array<Record<string, unknown>>;
    assert.deepEqual(users.map((u) => u['name']), ['alice', 'victor']);
    assert.ok(users.every((u) => !JSON.stringify(u).includes('scrypt')), 'no password hash in the answer');
    assert.notEqual(users[0]!['lastSignInAt'], null);
  });

  test('a wrong password and an unknown name get the very same answer', async () => {
    const wrong = await signInRaw('victor', 'not-his-password');
    const unknown = await signInRaw('nobody-here', 'not-his-password');
    assert.equal(wrong.status, 401);
    assert.equal(unknown.status, 401);
    assert.equal(wrong.text, unknown.text);
    assert.deepEqual(errorOf(wrong), { code: 'denied', message: 'wrong user name or password' });
    assert.equal(wrong.headers['set-cookie'], undefined);
    await signIn('victor', 'victor-password-1'); // and the failure count starts again
  });

  test('five failures in a row lock a name for 15 minutes, the right password included; success resets the count', async () => {
    await addUser('lock', 'viewer', 'lock-password-1');
    for (let i = 0; i < 4; i++) assert.equal((await signInRaw('lock', `guess-${i}`)).status, 401);
    await signIn('lock', 'lock-password-1'); // the 5th attempt succeeds: the count is back to 0
    for (let i = 0; i < 5; i++) assert.equal((await signInRaw('lock', `guess-${i}`)).status, 401, `failure ${i + 1}`);
    const locked = await signInRaw('lock', 'lock-password-1');
    assert.equal(locked.status, 429, locked.text);
    const until = new Date(s.clock.now().getTime() + 15 * 60_000).toISOString();
    assert.equal(errorOf(locked).message, `too many failed sign-ins for lock: try again after ${until}`);
    assert.equal(locked.headers['retry-after'], '900');
    const listed = (JSON.parse((await admin('GET', '/api/users')).text) as Array<{ name: string; lockedUntil: string | null }>).find((u) => u.name === 'lock');
    assert.equal(listed?.lockedUntil, until);
    s.clock.advance(15 * 60_000 - 1000);
    assert.equal((await signInRaw('lock', 'lock-password-1')).status, 429, 'still locked a second before the end');
    s.clock.advance(1000);
    await signIn('lock', 'lock-password-1');
    const audit = JSON.parse((await admin('GET', '/api/audit?action=session.lockout')).text) as Array<{ target: string; outcome: string; detail: string }>;
    assert.deepEqual(audit.map((e) => [e.target, e.outcome]), [['lock', 'denied']]);
    assert.match(audit[0]!.detail, new RegExp(until));
  });

  test('a name that is no user is locked out the same way (the answers do not tell which names exist)', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await signInRaw('ghost', `guess-${i}`)).status, 401);
    const locked = await signInRaw('ghost', 'guess');
    assert.equal(locked.status, 429);
    assert.match(errorOf(locked).message, /^too many failed sign-ins for ghost: try again after /);
    s.clock.advance(15 * 60_000);
    assert.equal((await signInRaw('ghost', 'guess')).status, 401);
  });

  test('a session call that changes something needs the CSRF token; a wrong or missing one changes nothing', async () => {
    const b = await signIn('alice', 'alice-password-1');
    const body = { name: 'csrf-made', role: 'viewer' };
    for (const csrf of [null, '', 'x', b.csrf.slice(0, -1), `${b.csrf}x`, b.csrf.toLowerCase() === b.csrf ? b.csrf.toUpperCase() : b.csrf.toLowerCase()]) {
      const r = await as(b, 'POST', '/api/tokens', { body, csrf });
      assert.equal(r.status, 403, `csrf ${JSON.stringify(csrf)}: ${r.text}`);
      assert.deepEqual(errorOf(r).code, 'denied');
      assert.match(errorOf(r).message, /^missing or wrong CSRF token/);
    }
    const other = await signIn('alice', 'alice-password-1');
    assert.equal((await as(b, 'POST', '/api/tokens', { body, csrf: other.csrf })).status, 403, "another session's token does not do");
    assert.ok(!(JSON.parse((await admin('GET', '/api/tokens')).text) as Array<{ name: string }>).some((t) => t.name === 'csrf-made'));
    const ok = await as(b, 'POST', '/api/tokens', { body });
    assert.equal(ok.status, 201, ok.text);
    const entry = (JSON.parse((await admin('GET', '/api/audit?action=token.create&limit=1')).text) as Array<{ actor: string; role: string }>)[0]!;
    assert.deepEqual([entry.actor, entry.role], ['user alice', 'admin']);
    assert.equal((await as(b, 'DELETE', '/api/tokens/csrf-made', { csrf: null })).status, 403);
    assert.equal((await as(b, 'DELETE', '/api/tokens/csrf-made')).status, 200);
  });

  test('a viewer user reads but is refused a manage-access call', async () => {
    const v = await signIn('victor', 'victor-password-1');
    assert.equal((await as(v, 'GET', '/api/agents', { csrf: null })).status, 200);
    const r = await as(v, 'GET', '/api/users', { csrf: null });
    assert.equal(r.status, 403);
    assert.match(errorOf(r).message, /role viewer may not GET \/api\/users/);
    assert.equal((await as(v, 'POST', '/api/users', { body: { name: 'evil', role: 'admin', password: 'evil-password' } })).status, 403);
  });

  test('sign-out ends the session and clears the cookie; an ended, idle or too old session is refused', async () => {
    const b = await signIn('alice', 'alice-password-1');
    assert.equal((await as(b, 'POST', '/api/sign-out', { csrf: null })).status, 403, 'sign-out needs the CSRF token too');
    const out = await as(b, 'POST', '/api/sign-out');
    assert.equal(out.status, 200, out.text);
    assert.deepEqual(JSON.parse(out.text), { signedOut: 'alice' });
    assert.deepEqual(out.headers['set-cookie'], ['__Host-custos_session=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0']);
    const after = await as(b, 'GET', '/api/session');
    assert.equal(after.status, 401);
    assert.equal(errorOf(after).message, 'unknown or ended session: sign in again');
    assert.equal((await admin('POST', '/api/sign-out')).status, 400, 'a token has no session to end');

    const idle = await signIn('alice', 'alice-password-1');
    s.clock.advance(12 * 3_600_000 - 1000);
    assert.equal((await as(idle, 'GET', '/api/session')).status, 200, 'used just before 12 h');
    s.clock.advance(12 * 3_600_000 - 1000);
    assert.equal((await as(idle, 'GET', '/api/session')).status, 200, 'each use moves the idle end');
    s.clock.advance(12 * 3_600_000);
    const gone = await as(idle, 'GET', '/api/session');
    assert.equal(gone.status, 401);
    assert.equal(errorOf(gone).message, 'the session expired: sign in again');

    const busy = await signIn('alice', 'alice-password-1');
    for (let h = 0; h < 7 * 24 - 11; h += 11) {
      s.clock.advance(11 * 3_600_000);
      assert.equal((await as(busy, 'GET', '/api/session')).status, 200, `hour ${h + 11}`);
    }
    s.clock.advance(11 * 3_600_000); // past 7 days since sign-in, though used 11 h ago
    assert.equal((await as(busy, 'GET', '/api/session')).status, 401);
  });

  test('deleting a user, or changing its password or role, ends its sessions', async () => {
    await addUser('temp', 'operator', 'temp-password-1');
    const a = await signIn('temp', 'temp-password-1');
    const p = await admin('PATCH', '/api/users/temp', { password: 'temp-password-2' });
    assert.equal(p.status, 200, p.text);
    assert.equal((await as(a, 'GET', '/api/session')).status, 401, 'a new password ends the sessions');
    assert.equal((await signInRaw('temp', 'temp-password-1')).status, 401, 'the old password no longer works');
    const b = await signIn('temp', 'temp-password-2');
    const r = await admin('PATCH', '/api/users/temp', { role: 'viewer' });
    assert.equal(r.status, 200, r.text);
    assert.equal((JSON.parse(r.text) as { role: string }).role, 'viewer');
    assert.equal((await as(b, 'GET', '/api/session')).status, 401, 'a new role ends the sessions');
    const c = await signIn('temp', 'temp-password-2');
    assert.equal(c.answer.role, 'viewer');
    const d = await admin('DELETE', '/api/users/temp');
    assert.deepEqual([d.status, JSON.parse(d.text)], [200, { deleted: 'temp' }]);
    assert.equal((await as(c, 'GET', '/api/session')).status, 401, 'deleting the user ends its sessions');
    assert.equal((await signInRaw('temp', 'temp-password-2')).status, 401);
    assert.equal((await admin('DELETE', '/api/users/temp')).status, 404);
  });

  test('user management refuses what it must, with clear messages', async () => {
    const cases: Array<[unknown, number, RegExp]> = [
      [{ name: 'short', role: 'viewer', password: '1234567' }, 400, /at least 8 characters \(this one has 7\)/],
      [{ name: 'long', role: 'viewer', password: 'x'.repeat(1025) }, 400, /at most 1024 characters/],
      [{ name: 'ro', role: 'recovery-operator', password: 'ro-password-1' }, 400, /recovery-operator user needs at least one scope/],
      [{ name: 'scoped', role: 'viewer', scopes: ['group:g'], password: 'scoped-password' }, 400, /scopes apply to recovery-operator users only/],
      [{ name: 'ro', role: 'recovery-operator', scopes: ['group:none'], password: 'ro-password-1' }, 400, /no protection group named none/],
      [{ name: 'bad name', role: 'viewer', password: 'password-123' }, 400, /body\/name must be 1 to 63 of A-Z a-z 0-9 \. _ -/],
      [{ name: 'x'.repeat(64), role: 'viewer', password: 'password-123' }, 400, /body\/name/],
      [{ name: 'alice', role: 'viewer', password: 'password-123' }, 409, /a user named alice exists/],
      [{ name: 'hash', role: 'viewer', password: 'password-123', passwordHash: 'x' }, 400, /unknown field "passwordHash"/],
    ];
    for (const [body, status, message] of cases) {
      const r = await admin('POST', '/api/users', body);
      assert.equal(r.status, status, `${JSON.stringify(body).slice(0, 100)}: ${r.text}`);
      assert.match(errorOf(r).message, message);
    }
    assert.equal((await admin('PATCH', '/api/users/alice', {})).status, 400, 'a change must change something');
    assert.equal((await admin('PATCH', '/api/users/nobody', { role: 'viewer' })).status, 404);
    assert.match(errorOf(await admin('PATCH', '/api/users/victor', { password: 'short' })).message, /at least 8/);
    const me = await signIn('alice', 'alice-password-1');
    const self = await as(me, 'DELETE', '/api/users/alice');
    assert.equal(self.status, 409);
    assert.match(errorOf(self).message, /you are signed in as alice/);
  });

  test('malformed, oversized and non-JSON sign-in bodies are refused with 400 before any check', async () => {
    const bodies = [
      '{}',
      '{"name":"alice"}',
      '{"password":"alice-password-1"}',
      '{"name":"alice","password":"alice-password-1","remember":true}',
      '{"name":["alice"],"password":"alice-password-1"}',
      '{"name":"alice","password":12345678}',
      `{"name":"alice","password":"${'p'.repeat(1025)}"}`,
      `{"name":"${'a'.repeat(64)}","password":"alice-password-1"}`,
      '{"name":"","password":"alice-password-1"}',
      '{"name":"alice","password":"alice-password-1"',
      '[]',
      'null',
    ];
    for (const body of bodies) {
      const r = await s.raw('POST', '/api/sign-in', { body });
      assert.equal(r.status, 400, `${body.slice(0, 80)}: ${r.status} ${r.text}`);
      assert.equal(r.headers['set-cookie'], undefined);
    }
    // A cross-site form can send text/plain, never application/json without a preflight: refused.
    const form = await s.raw('POST', '/api/sign-in', { body: '{"name":"alice","password":"alice-password-1"}', headers: { 'content-type': 'text/plain' } });
    assert.ok(form.status === 400 || form.status === 415, `${form.status} ${form.text}`);
    const huge = await s.raw('POST', '/api/sign-in', { body: JSON.stringify({ name: 'alice', password: 'x'.repeat(2_000_000) }) });
    assert.equal(huge.status, 413);
    // None of these counted as a failed sign-in.
    await signIn('alice', 'alice-password-1');
  });

  test('cookies: a bearer header wins, a doubled or malformed session cookie is refused, a bounded header is read', async () => {
    const b = await signIn('victor', 'victor-password-1');
    assert.equal((await s.raw('GET', '/api/session', { headers: { cookie: b.cookie }, authorization: 'Bearer nope' })).status, 401, 'a bad token is not rescued by a cookie');
    const doubled = await s.raw('GET', '/api/session', { headers: { cookie: `${b.cookie}; __Host-custos_session=${'A'.repeat(43)}` } });
    assert.equal(doubled.status, 401);
    assert.match(errorOf(doubled).message, /more than one __Host-custos_session cookie/);
    assert.equal((await s.raw('GET', '/api/session', { headers: { cookie: `theme=dark; ${b.cookie}; lang=en` } })).status, 200);
    assert.equal((await s.raw('GET', '/api/session', { headers: { cookie: `__Host-custos_session=${b.secret}x` } })).status, 401);
    assert.equal((await s.raw('GET', '/api/session', { headers: { cookie: `${'x=y; '.repeat(2000)}${b.cookie}` } })).status, 401, 'an oversized Cookie header is not read');
    assert.equal((await s.raw('GET', '/api/no/such/call', { headers: { cookie: b.cookie } })).status, 404, 'a signed-in user learns the call does not exist');
    assert.equal((await s.raw('GET', '/api/no/such/call', { headers: { cookie: '__Host-custos_session=nope' } })).status, 401, '401 before 404');
  });

  test("a user whose role is damaged in the catalog gets no session, and an open one stops working", async () => {
    await addUser('broken', 'viewer', 'broken-password');
    const b = await signIn('broken', 'broken-password');
    await s.server.context.catalog.db.updateTable('users').set({ role: 'superuser' }).where('name', '=', 'broken').execute();
    const r = await signInRaw('broken', 'broken-password');
    assert.equal(r.status, 401);
    assert.match(errorOf(r).message, /role or scopes are damaged in the catalog/);
    assert.equal(r.headers['set-cookie'], undefined);
    const user = (await s.server.context.catalog.userByName('broken'))!;
    const open = await s.server.context.catalog.db.selectFrom('sessions').select('id').where('user_id', '=', user.id).execute();
    assert.equal(open.length, 1, 'only the session from before the damage');
    assert.equal((await as(b, 'GET', '/api/session')).status, 401);
    // An admin can still list users, see which is damaged, and give it a role again.
    const list = await admin('GET', '/api/users');
    assert.equal(list.status, 200, list.text);
    assert.equal((JSON.parse(list.text) as Array<{ name: string; role: string }>).find((u) => u.name === 'broken')?.role, 'damaged');
    assert.equal((await admin('PATCH', '/api/users/broken', { role: 'viewer' })).status, 200);
    assert.equal((await signInRaw('broken', 'broken-password')).status, 200, 'repaired');
    await s.server.context.catalog.db.updateTable('users').set({ role: 'superuser' }).where('name', '=', 'broken').execute();
  });

  test("a password stored at an older cost is hashed again at today's at sign-in; the session and the password's date stay", async () => {
    const { hashPassword, parseStoredHash, DEFAULT_SCRYPT } = await import('../../passwords.js');
    const c = s.server.context.catalog;
    await c.addUser({ name: 'old-cost', role: 'viewer', scopes: [], passwordHash: await hashPassword('old-cost-password', { ln: 10, r: 8, p: 1 }), now: s.clock.now().toISOString() });
    const before = (await c.userByName('old-cost'))!;
    const b = await signIn('old-cost', 'old-cost-password');
    const after = (await c.userByName('old-cost'))!;
    assert.deepEqual(parseStoredHash(after.password_hash)!.params, DEFAULT_SCRYPT);
    assert.equal(after.password_changed_at, before.password_changed_at);
    assert.equal((await as(b, 'GET', '/api/session')).status, 200, 'the new session is kept');
    assert.equal((await signInRaw('old-cost', 'old-cost-password')).status, 200, 'the new hash verifies');
    assert.equal((await c.userByName('old-cost'))!.password_hash, after.password_hash, 'hashed once, not at every sign-in');
  });

  test('no password, cookie secret or CSRF token reaches the audit log or the server log', async () => {
    const secretPassword = 'Very-Secret-Passw0rd';
    await addUser('quiet', 'operator', secretPassword);
    await signInRaw('quiet', `${secretPassword}-wrong`);
    const b = await signIn('quiet', secretPassword);
    await as(b, 'POST', '/api/pool/gc');
    await as(b, 'POST', '/api/pool/gc', { csrf: 'wrong' });
    await admin('PATCH', '/api/users/quiet', { password: `${secretPassword}-2` });
    const audit = (await admin('GET', '/api/audit?limit=10000')).text;
    const signIns = JSON.parse((await admin('GET', '/api/audit?action=session.sign-in&limit=2')).text) as Array<{ actor: string; target: string; outcome: string }>;
    assert.deepEqual(signIns.map((e) => [e.actor, e.target, e.outcome]), [['user quiet', 'quiet', 'ok'], ['anonymous', 'quiet', 'denied']]);
    for (const secret of [secretPassword, b.secret, b.csrf]) {
      assert.ok(!audit.includes(secret), `the audit log holds ${secret.slice(0, 6)}…`);
      assert.ok(!logLines.some((l) => l.includes(secret)), `the server log holds ${secret.slice(0, 6)}…`);
    }
    assert.match(audit, /"action":"user.update"[^}]*"password\\?":\\?"changed/);
  });
  test('end-users: only with a link to an agent the catalog knows and that is connected; never an API token; the list shows every link', async () => {
    const list = await admin('GET', '/api/users');
    assert.equal(list.status, 200, list.text);
    const listed = list.text;
    const cases: Array<[unknown, number, RegExp]> = [
      [{ name: 'eu', role: 'end-user', password: 'eu-password-1' }, 400, /an end-user sees only the files of the account it is linked to: give the link \(--link AGENT:ACCOUNT\)/],
      [{ name: 'eu', role: 'end-user', password: 'eu-password-1', link: { agent: 'nosuch', account: 'alice' } }, 404, /no agent named nosuch/],
      [{ name: 'eu', role: 'viewer', password: 'eu-password-1', link: { agent: 'nosuch', account: 'alice' } }, 404, /no agent named nosuch/],
      [{ name: 'eu', role: 'end-user', password: 'eu-password-1', link: { agent: 'pc1', account: '-rf' } }, 400, /body\/link\/account/],
      [{ name: 'eu', role: 'end-user', password: 'eu-password-1', link: { agent: 'pc1', account: 'alice', uid: 0 } }, 400, /unknown field "uid"/],
    ];
    for (const [body, status, message] of cases) {
      const r = await admin('POST', '/api/users', body);
      assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
      assert.match(errorOf(r).message, message);
    }
    // Known to the catalog but not connected: its account cannot be asked, so no link is made.
    await s.server.context.catalog.insertAgent({ name: 'away', cert_serial: 'away', cert_fingerprint: 'away', hostname: 'away', attached_at: s.clock.now().toISOString(), last_seen: null, version: null, revoked_at: null });
    try {
      const away = await admin('POST', '/api/users', { name: 'eu', role: 'end-user', password: 'eu-password-1', link: { agent: 'away', account: 'alice' } });
      assert.equal(away.status, 503, away.text);
      assert.match(errorOf(away).message, /agent away is not connected/);
      assert.equal((await admin('PATCH', '/api/users/victor', { link: { agent: 'away', account: 'victor' } })).status, 503);
    } finally {
      await s.server.context.catalog.db.deleteFrom('agents').where('name', '=', 'away').execute();
    }
    assert.equal(await s.server.context.catalog.userByName('eu'), undefined, 'no user was made');

    const token = await admin('POST', '/api/tokens', { name: 'eu-token', role: 'end-user' });
    assert.equal(token.status, 400, token.text);
    assert.match(errorOf(token).message, /an API token cannot be one/);
    assert.ok(!(await admin('GET', '/api/tokens')).text.includes('eu-token'), 'no token was made');

    const patched = await admin('PATCH', '/api/users/victor', { role: 'end-user' });
    assert.equal(patched.status, 400, patched.text);
    assert.match(errorOf(patched).message, /give the link \(--link AGENT:ACCOUNT\)/);
    assert.equal((await admin('PATCH', '/api/users/victor', { role: 'end-user', link: null })).status, 400, 'a link taken away is no link');
    const linkedNowhere = await admin('PATCH', '/api/users/victor', { role: 'end-user', link: { agent: 'nosuch', account: 'victor' } });
    assert.equal(linkedNowhere.status, 404, linkedNowhere.text);
    assert.equal((await s.server.context.catalog.userByName('victor'))!.role, 'viewer', 'victor is unchanged');
    assert.equal((await admin('GET', '/api/users')).text, listed, 'no refused call changed any user');

    const users = JSON.parse(listed) as Array<{ name: string; link?: unknown }>;
    assert.ok(users.some((u) => u.name === 'alice') && users.some((u) => u.name === 'victor'), listed.slice(0, 600));
    for (const u of users) assert.ok(Object.hasOwn(u, 'link') && u.link === null, `${u.name}: ${JSON.stringify(u.link)}`);
    const created = await admin('POST', '/api/users', { name: 'plainviewer', role: 'viewer', password: 'plain-password-1' });
    assert.equal(created.status, 201, created.text);
    assert.equal((JSON.parse(created.text) as { link: unknown }).link, null);
    assert.equal((JSON.parse((await admin('DELETE', '/api/users/plainviewer')).text) as { deleted: string }).deleted, 'plainviewer');
  });
});
