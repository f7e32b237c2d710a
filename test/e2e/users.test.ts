/**
 * Console users through the real CLI against a real server process: `user
 * add` with --password-file and with the password piped on standard input,
 * then a sign-in over HTTPS with that password, a call in the session with
 * its CSRF token; `user passwd` and `user remove` end what they must; CLI
 * errors come with the exit statuses of the error-code map.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT } from '../../src/cli/exit-codes.js';
import { cleanupTempDirs, describeCli, makeTempDir, runCli } from '../helpers/tree.js';
import { startServer, stopAllProcesses, type TestServer } from '../helpers/server.js';

describe('console users: CLI and sign-in over HTTPS', { timeout: 120_000 }, () => {
  let server: TestServer;
  let work: string;

  const cli = (args: string[], input?: string) => runCli(args, { env: server.env(), timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
  const signIn = (name: string, password: string) => server.request('POST', '/api/sign-in', { body: JSON.stringify({ name, password }) });

  before(async () => {
    work = (await makeTempDir('custos-e2e-users-')).path;
    server = await startServer();
  });

  after(async () => {
    await stopAllProcesses();
    await cleanupTempDirs();
  });

  test('user add with --password-file, then sign in over HTTPS and work in the session', async () => {
    const file = join(work, 'alice.pw');
    await writeFile(file, 'alice-pass-phrase\n', { mode: 0o600 });
    const add = await cli(['user', 'add', 'alice', '--role', 'operator', '--password-file', file]);
    assert.equal(add.code, 0, describeCli(['user', 'add'], add));
    assert.equal(add.stdout.trim(), 'operator user alice created');

    const r = await signIn('alice', 'alice-pass-phrase');
    assert.equal(r.status, 200, r.text);
    const cookie = String(r.headers['set-cookie']).split(';')[0]!;
    assert.match(cookie, /^__Host-custos_session=[A-Za-z0-9_-]{43}$/);
    const { csrf } = r.json<{ csrf: string }>();
    const me = await server.request('GET', '/api/session', { headers: { cookie } });
    assert.deepEqual(me.json(), { kind: 'user', name: 'alice', role: 'operator', scopes: [], csrf, expiresAt: r.json<{ expiresAt: string }>().expiresAt });
    assert.equal((await server.request('POST', '/api/pool/gc', { headers: { cookie } })).status, 403, 'no CSRF token');
    const gc = await server.request('POST', '/api/pool/gc', { headers: { cookie, 'x-custos-csrf': csrf } });
    assert.equal(gc.status, 202, gc.text);
    assert.equal((await server.request('GET', '/api/users', { headers: { cookie } })).status, 403, 'an operator manages no users');
    assert.equal((await signIn('alice', 'alice-pass-phrasE')).status, 401);
  });

  test('user add and passwd with the password piped on standard input; list; remove', async () => {
    const add = await cli(['user', 'add', 'bob', '--role', 'viewer', '--json'], 'bob-piped-password\n');
    assert.equal(add.code, 0, describeCli(['user', 'add', 'bob'], add));
    assert.equal((JSON.parse(add.stdout) as { name: string; role: string }).role, 'viewer');
    const first = await signIn('bob', 'bob-piped-password');
    assert.equal(first.status, 200, first.text);
    const cookie = String(first.headers['set-cookie']).split(';')[0]!;

    const passwd = await cli(['user', 'passwd', 'bob'], 'bob-new-password\r\n');
    assert.equal(passwd.code, 0, describeCli(['user', 'passwd', 'bob'], passwd));
    assert.equal((await server.request('GET', '/api/session', { headers: { cookie } })).status, 401, 'the new password ended the session');
    assert.equal((await signIn('bob', 'bob-piped-password')).status, 401);
    assert.equal((await signIn('bob', 'bob-new-password')).status, 200);

    const list = await cli(['user', 'list', '--json']);
    assert.equal(list.code, 0, describeCli(['user', 'list'], list));
    const users = JSON.parse(list.stdout) as Array<{ name: string; role: string; lastSignInAt: string | null }>;
    assert.deepEqual(users.map((u) => [u.name, u.role]), [['alice', 'operator'], ['bob', 'viewer']]);
    assert.ok(!list.stdout.includes('scrypt'));
    const table = await cli(['user', 'list']);
    assert.match(table.stdout, /^NAME\s+ROLE\s+SCOPES/);
    assert.match(table.stdout, /\nbob\s+viewer\s+-/);

    const rm = await cli(['user', 'remove', 'bob']);
    assert.equal(rm.code, 0, describeCli(['user', 'remove', 'bob'], rm));
    assert.equal(rm.stdout.trim(), 'user bob removed');
    assert.equal((await signIn('bob', 'bob-new-password')).status, 401);
  });

  test('clear errors with the exit statuses of the error-code map', async () => {
    const cases: Array<[string[], string | undefined, number, RegExp]> = [
      [['user', 'add', 'carol', '--role', 'viewer'], 'short\n', EXIT.usage, /at least 8 characters/],
      [['user', 'add', 'carol', '--role', 'viewer'], '', EXIT.usage, /standard input: the first line is empty/],
      [['user', 'add', 'carol', '--role', 'viewer', '--password-file', join(work, 'none')], undefined, EXIT.usage, /cannot read the password file/],
      [['user', 'add', 'alice', '--role', 'viewer'], 'another-password\n', EXIT.exists, /a user named alice exists/],
      [['user', 'add', 'ro', '--role', 'recovery-operator'], 'ro-password-1\n', EXIT.usage, /needs at least one scope/],
      [['user', 'add', 'bad name', '--role', 'viewer'], 'password-123\n', EXIT.usage, /name/],
      [['user', 'passwd', 'nobody'], 'password-123\n', EXIT['not-found'], /user nobody does not exist/],
      [['user', 'remove', 'nobody'], undefined, EXIT['not-found'], /user nobody does not exist/],
    ];
    for (const [args, input, code, message] of cases) {
      const r = await cli(args, input);
      assert.equal(r.code, code, describeCli(args, r));
      assert.match(r.stderr, message, describeCli(args, r));
      assert.ok(!r.stderr.includes('short\n') && !r.stderr.includes('password-123'), 'the password is never echoed');
    }
    const viewer = await runCli(['user', 'list'], { env: server.env(await viewerToken(server)), timeoutMs: 60_000 });
    assert.equal(viewer.code, EXIT.denied, describeCli(['user', 'list'], viewer));
  });
});

async function viewerToken(server: TestServer): Promise<string> {
  const r = await server.cli(['token', 'create', '--name', 'v', '--role', 'viewer']);
  assert.equal(r.code, 0, describeCli(['token', 'create'], r));
  return r.stdout.trim();
}
