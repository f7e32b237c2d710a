/**
 * The agent's answer to the server's `account` question, from this
 * computer's real group database (through `id`): uid, primary gid and every
 * group, ascending without repeats; `not-found` for an account that does
 * not exist; `usage` for a name that could be taken as an option or a path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ACCOUNT_NAME_PATTERN, parseAnswerBody } from '../../protocol/index.js';
import { lookupAccount } from './account.js';
import { refusal } from '../../../test/helpers/refusal.js';


function ascendingUnique(groups: readonly number[]): boolean {
  return groups.every((g, i) => i === 0 || g > groups[i - 1]!);
}

test('root is uid 0 with primary group 0, its groups ascending and holding 0; the answer passes the server validator', async () => {
  const a = await lookupAccount('root');
  assert.equal(a.kind, 'account');
  assert.equal(a.name, 'root');
  assert.equal(a.uid, 0);
  assert.equal(a.gid, 0);
  assert.ok(a.groups.includes(0), JSON.stringify(a.groups));
  assert.ok(ascendingUnique(a.groups), JSON.stringify(a.groups));
  assert.deepEqual(parseAnswerBody(JSON.parse(JSON.stringify(a))), a);
});

test('every system account of /etc/passwd: its uid and gid, and at least its /etc/group memberships, sorted by number (not as id prints them)', async () => {
  const passwd = (await readFile('/etc/passwd', 'utf8')).split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
  const groupLines = (await readFile('/etc/group', 'utf8')).split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'));
  // System accounts only (uid below 1000): other tests (test/browser/my-files.test.ts) add and remove people's accounts meanwhile.
  const accounts = passwd.filter((f) => ACCOUNT_NAME_PATTERN.test(f[0]!) && Number(f[2]) < 1000);
  assert.ok(accounts.length > 0);
  for (const [name, , uid, gid] of accounts) {
    const a = await lookupAccount(name!);
    assert.equal(a.uid, Number(uid), name);
    assert.equal(a.gid, Number(gid), name);
    const expected = [Number(gid), ...groupLines.filter((g) => (g[3] ?? '').split(',').includes(name!)).map((g) => Number(g[2]))];
    for (const g of expected) assert.ok(a.groups.includes(g), `${name}: ${JSON.stringify(a.groups)} lacks ${g}`);
    assert.ok(ascendingUnique(a.groups), `${name}: ${JSON.stringify(a.groups)}`);
    assert.deepEqual(parseAnswerBody(JSON.parse(JSON.stringify(a))), a, name);
  }
});

test('an account this computer does not have is not-found, named', async () => {
  for (const name of [`nx${randomBytes(6).toString('hex')}`, `nx${randomBytes(4).toString('hex')}$`]) {
    const err = await refusal(lookupAccount(name));
    assert.equal(err.code, 'not-found', err.message);
    assert.equal(err.message, `no account ${name} on this computer`);
  }
});

test('a name that is no account name (an option, a path, spaces, NUL, too long) is refused as usage before id runs', async () => {
  for (const name of ['-x', '--help', '-', '/etc/passwd', '../root', 'a b', 'root\u0000', '', 'x'.repeat(33), 'root\n']) {
    const err = await refusal(lookupAccount(name));
    assert.equal(err.code, 'usage', `${JSON.stringify(name)}: ${err.message}`);
    assert.match(err.message, /is not an account name$/);
  }
});
