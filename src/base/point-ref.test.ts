import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CustosError } from './errors.js';
import { checkPointRef, pointByRef } from './point-ref.js';

const P = [
  { id: 'a1b2c3d4e5f60718293a4b5c6d7e8f90', time: '2026-12-01T08:00:00.000Z' },
  { id: 'a1b2ffffe5f60718293a4b5c6d7e8f90', time: '2026-12-01T12:00:00.000Z' },
  { id: '0badc0de00000000000000000000beef', time: '2026-12-01T20:00:00.000Z' },
];

const fails = (code: string, message: RegExp) => (e: unknown) => {
  assert.ok(e instanceof CustosError, String(e));
  assert.equal(e.code, code, e.message);
  assert.match(e.message, message);
  return true;
};

test('pointByRef: the whole id, or a unique prefix of 4 or more hex digits in either case', () => {
  assert.equal(pointByRef(P, P[0]!.id, 's').id, P[0]!.id);
  assert.equal(pointByRef(P, 'a1b2c', 's').id, P[0]!.id);
  assert.equal(pointByRef(P, '0BAD', 's').id, P[2]!.id);
});

test('pointByRef: an ambiguous prefix lists the candidates with their times; none is not-found', () => {
  assert.throws(() => pointByRef(P, 'a1b2', 'lap:fs:/home'), fails('usage',
    /^recovery point a1b2 is ambiguous: 2 points of lap:fs:\/home begin with it: a1b2c3d4e5f60718293a4b5c6d7e8f90 \(2026-12-01T08:00:00\.000Z\), a1b2ffffe5f60718293a4b5c6d7e8f90 \(2026-12-01T12:00:00\.000Z\); give more digits$/));
  assert.throws(() => pointByRef(P, 'ffff', 'lap:fs:/home'), fails('not-found', /^no recovery point ffff of lap:fs:\/home$/));
  const many = Array.from({ length: 12 }, (_, i) => ({ id: `abcd${String(i).padStart(28, '0')}` }));
  assert.throws(() => pointByRef(many, 'abcd', 'this pool'), fails('usage', /12 points of this pool begin with it: .*, and 2 more; give more digits$/));
});

test('checkPointRef: fewer than 4 hex digits, or anything but hex, is a usage error', () => {
  for (const bad of ['abc', '', 'latest', 'a1b2-', 'g123', 'a'.repeat(33)]) {
    assert.throws(() => checkPointRef(bad), fails('usage', /is not a recovery point id: give the whole id or its first 4 or more hex digits/), bad);
  }
  assert.equal(checkPointRef('A1B2'), 'a1b2');
});
