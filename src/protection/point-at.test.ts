import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CustosError } from '../base/index.js';
import { pointAt } from './point-at.js';

const P = [
  { id: 'b', time: '2026-12-01T12:00:00.000Z' },
  { id: 'a', time: '2026-12-01T08:00:00.000Z' },
  { id: 'c', time: '2026-12-01T20:00:00.000Z' },
];

test('pointAt: the newest recovery point at or before the time, whatever the order given', () => {
  assert.equal(pointAt(P, new Date('2026-12-01T12:00:00.000Z'), 's').id, 'b', 'a point exactly at the time');
  assert.equal(pointAt(P, new Date('2026-12-01T11:59:59.999Z'), 's').id, 'a');
  assert.equal(pointAt(P, new Date('2026-12-01T19:59:59.999Z'), 's').id, 'b');
  assert.equal(pointAt(P, new Date('2030-01-01T00:00:00Z'), 's').id, 'c');
});

test('pointAt: a time before every point names the oldest; no points at all says so', () => {
  assert.throws(() => pointAt(P, new Date('2026-12-01T07:59:59Z'), 'lap:fs:/home'), (e: unknown) => {
    assert.ok(e instanceof CustosError && e.code === 'not-found');
    assert.equal(e.message, 'lap:fs:/home has no recovery point at or before 2026-12-01T07:59:59.000Z: the oldest is at 2026-12-01T08:00:00.000Z');
    return true;
  });
  assert.throws(() => pointAt([], new Date(), 'lap:fs:/home'), /lap:fs:\/home has no recovery points/);
});
