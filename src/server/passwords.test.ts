import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SCRYPT, hashPassword, needsRehash, parseStoredHash, passwordProblem, verifyAgainstDummy, verifyPassword } from './passwords.js';

/** Cheap parameters for the tests that are not about cost (the format carries them). */
const CHEAP = { ln: 10, r: 8, p: 1 };

test('a hash verifies its password and no other; the same password hashes differently each time', async () => {
  const h = await hashPassword('correct horse battery', CHEAP);
  assert.equal(await verifyPassword('correct horse battery', h), true);
  assert.equal(await verifyPassword('correct horse batterY', h), false);
  assert.equal(await verifyPassword('', h), false);
  const again = await hashPassword('correct horse battery', CHEAP);
  assert.notEqual(again, h, 'a fresh salt each time');
});

test('the stored form describes itself: scrypt, its parameters, a 16-byte salt and a 32-byte key', async () => {
  const h = await hashPassword('s3cret-enough');
  assert.match(h, /^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
  const parsed = parseStoredHash(h)!;
  assert.deepEqual(parsed.params, { ln: 15, r: 8, p: 1 });
  assert.equal(parsed.salt.length, 16);
  assert.equal(parsed.key.length, 32);
  // A hash made with other parameters still verifies: they are read from it.
  assert.equal(await verifyPassword('s3cret-enough', h), true);
  assert.equal(await verifyPassword('s3cret-enough', await hashPassword('s3cret-enough', { ln: 11, r: 4, p: 2 })), true);
});

test('a damaged, foreign or too costly stored value verifies nothing', async () => {
  const h = await hashPassword('password1', CHEAP);
  for (const bad of ['', 'password1', h.replace('scrypt', 'bcrypt'), h.replace('ln=10', 'ln=30'), h.replace('r=8', 'r=99'), h.slice(0, -10), `${h}$x`, h.replace(/\$[^$]+$/, '$@@@@@@@@@@@@@@@@@@@@@@@@@@@@')]) {
    assert.equal(parseStoredHash(bad), null, bad);
    assert.equal(await verifyPassword('password1', bad), false, bad);
  }
});

test('accents composed or decomposed are the same password (NFC)', async () => {
  const h = await hashPassword('caf\u00e9-au-lait', CHEAP);
  assert.equal(await verifyPassword('cafe\u0301-au-lait', h), true);
});

test('the dummy check is always false and costs a real check', async () => {
  assert.equal(await verifyAgainstDummy('anything at all'), false);
  assert.equal(await verifyAgainstDummy('x'.repeat(100_000)), false);
});

test('password rules: 8 to 1024 characters, said clearly', () => {
  assert.equal(passwordProblem('12345678'), null);
  assert.equal(passwordProblem('ü'.repeat(1024)), null);
  assert.match(passwordProblem('1234567')!, /at least 8 characters \(this one has 7\)/);
  assert.match(passwordProblem('')!, /at least 8/);
  assert.match(passwordProblem('x'.repeat(1025))!, /at most 1024 characters/);
  // Characters, not UTF-16 units: 8 emoji are 8 characters.
  assert.equal(passwordProblem('😀'.repeat(8)), null);
  assert.match(passwordProblem('😀'.repeat(1025))!, /at most 1024/);
});

test('needsRehash: a hash of another cost than today\'s is hashed again at the next sign-in; a damaged one is not', async () => {
  assert.equal(needsRehash(await hashPassword('correct horse battery', CHEAP)), true);
  assert.equal(needsRehash(await hashPassword('correct horse battery', CHEAP), CHEAP), false);
  assert.equal(needsRehash(await hashPassword('correct horse battery', { ...DEFAULT_SCRYPT, r: 9 })), true);
  assert.equal(needsRehash('not a hash'), false);
});
