import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { UserError } from '../base/index.js';
import { decodeEnrollmentToken, encodeEnrollmentToken, hashEnrollmentSecret, newEnrollmentSecret, type EnrollmentToken } from './enrollment-token.js';

const MESSAGE = 'not a Custos enrollment token (expected custos1.…)';
const fingerprint = 'sha256:' + createHash('sha256').update('a CA certificate').digest('hex');

function isMalformed(err: unknown): boolean {
  assert.ok(err instanceof UserError);
  assert.equal(err.code, 'usage');
  assert.equal(err.message, MESSAGE);
  return true;
}

test('secrets are 32 random bytes in base64url', () => {
  const a = newEnrollmentSecret();
  assert.match(a, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(Buffer.from(a, 'base64url').length, 32);
  assert.notEqual(newEnrollmentSecret(), a);
});

test('tokens round-trip and have the documented shape', () => {
  for (let i = 0; i < 200; i++) {
    const t: EnrollmentToken = { secret: newEnrollmentSecret(), caFingerprint: 'sha256:' + randomBytes(32).toString('hex') };
    const text = encodeEnrollmentToken(t);
    const [prefix, secret, hash, ...rest] = text.split('.');
    assert.equal(prefix, 'custos1');
    assert.equal(secret, t.secret);
    assert.deepEqual(Buffer.from(hash!, 'base64url'), Buffer.from(t.caFingerprint.slice(7), 'hex'));
    assert.deepEqual(rest, []);
    assert.deepEqual(decodeEnrollmentToken(text), t);
  }
});

test('decoding trims whitespace and yields a lowercase fingerprint', () => {
  const t = { secret: newEnrollmentSecret(), caFingerprint: fingerprint };
  assert.deepEqual(decodeEnrollmentToken(`  \n\t${encodeEnrollmentToken(t)}\r\n `), t);
  const upper = encodeEnrollmentToken({ secret: t.secret, caFingerprint: fingerprint.toUpperCase().replace('SHA256', 'sha256') });
  assert.equal(decodeEnrollmentToken(upper).caFingerprint, fingerprint);
});

test('each malformed form is refused with one message', () => {
  // Fixed, and spelled with '-' and '_': standard base64 of a random secret is the same text a quarter of the time, and then not malformed.
  const secret = Buffer.alloc(32, 0xfb).toString('base64url');
  assert.match(secret, /-/);
  assert.match(secret, /_/);
  const good = encodeEnrollmentToken({ secret, caFingerprint: fingerprint });
  const [, s, h] = good.split('.') as [string, string, string];
  // The 43rd character carries 4 bits and 2 unused ones: flipping an unused bit gives the same bytes, spelled differently.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const nonCanonical = s.slice(0, 42) + alphabet[alphabet.indexOf(s[42]!) ^ 1];
  assert.deepEqual(Buffer.from(nonCanonical, 'base64url'), Buffer.from(s, 'base64url'));
  const forms = [
    '',
    '   ',
    'custos1',
    'custos1.',
    'custos1..',
    `custos2.${s}.${h}`,
    `CUSTOS1.${s}.${h}`,
    `custos.${s}.${h}`,
    `${s}.${h}`,
    `custos1.${s}`,
    `custos1.${s}.${h}.`,
    `custos1.${s}.${h}.extra`,
    `.custos1.${s}.${h}`,
    `custos1.${s.slice(1)}.${h}`,
    `custos1.${s}.${h.slice(1)}`,
    `custos1.${s}A.${h}`,
    `custos1.${s}.${h}A`,
    `custos1.${s}=.${h}`,
    `custos1.${s.slice(0, 42)}+.${h}`,
    `custos1.${s.slice(0, 42)}/.${h}`,
    `custos1.${s.slice(0, 42)}!.${h}`,
    `custos1.${s}.${h.slice(0, 42)} `,
    `custos1.${s.slice(0, 20)} ${s.slice(21)}.${h}`,
    `custos1.${Buffer.from(secret, 'base64url').toString('base64')}.${h}`.replace(/=+/, ''),
    `custos1.${Buffer.from(s).toString('hex')}.${h}`,
    `custos1.${s}.${fingerprint}`,
    `custos1.${nonCanonical}.${h}`,
    `custos1.${s}.${h.slice(0, 42)}${alphabet[alphabet.indexOf(h[42]!) ^ 2]}`,
  ];
  for (const form of forms) {
    assert.throws(() => decodeEnrollmentToken(form), isMalformed, JSON.stringify(form));
  }
  assert.throws(() => decodeEnrollmentToken(`custos1.${s}.${h}\u00a0x`), isMalformed);
});

test('encoding refuses fields that could not be decoded again', () => {
  assert.throws(() => encodeEnrollmentToken({ secret: 'short', caFingerprint: fingerprint }), UserError);
  assert.throws(() => encodeEnrollmentToken({ secret: newEnrollmentSecret(), caFingerprint: fingerprint.slice(7) }), UserError);
  assert.throws(() => encodeEnrollmentToken({ secret: newEnrollmentSecret(), caFingerprint: 'sha1:' + 'ab'.repeat(20) }), UserError);
});

test('the stored hash is deterministic hex sha256 and is not the secret', () => {
  const secret = newEnrollmentSecret();
  const hash = hashEnrollmentSecret(secret);
  assert.match(hash, /^[0-9a-f]{64}$/);
  assert.equal(hashEnrollmentSecret(secret), hash);
  assert.notEqual(hash, secret);
  assert.ok(!hash.includes(secret) && !secret.includes(hash));
  assert.equal(hash, createHash('sha256').update(secret).digest('hex'));
  assert.notEqual(hashEnrollmentSecret(newEnrollmentSecret()), hash);
  const decoded = decodeEnrollmentToken(encodeEnrollmentToken({ secret, caFingerprint: fingerprint }));
  assert.equal(hashEnrollmentSecret(decoded.secret), hash, 'the server can hash what the agent presents');
});
