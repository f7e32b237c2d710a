import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RecoveryPointId } from '../base/index.js';
import type { RecoveryPointRecord } from '../format/index.js';
import { selectForget } from './forget.js';

const point = (id: string, path: string, time: string): RecoveryPointRecord =>
  ({ id: id as RecoveryPointId, time, source: { host: 'h', path } }) as unknown as RecoveryPointRecord;

const points = [
  point('a1', '/a', '2026-11-01T00:00:00Z'),
  point('a2', '/a', '2026-11-10T00:00:00Z'),
  point('a3', '/a', '2026-11-20T00:00:00Z'),
  point('b1', '/b', '2026-10-01T00:00:00Z'),
];
const now = new Date('2026-11-21T00:00:00Z');
const ids = (list: RecoveryPointRecord[]) => list.map((p) => p.id).sort();

test('keep-last applies to each data source separately', () => {
  assert.deepEqual(ids(selectForget(points, { keepLast: 1 }, now)), ['a1', 'a2']);
  assert.deepEqual(ids(selectForget(points, { keepLast: 5 }, now)), []);
  assert.deepEqual(ids(selectForget(points, { keepLast: 0 }, now)), ['a1', 'a2', 'a3', 'b1']);
});

test('keep-within keeps points younger than the duration', () => {
  assert.deepEqual(ids(selectForget(points, { keepWithinMs: 15 * 86_400_000 }, now)), ['a1', 'b1']);
});

test('a point is kept when any rule keeps it', () => {
  assert.deepEqual(ids(selectForget(points, { keepLast: 1, keepWithinMs: 15 * 86_400_000 }, now)), ['a1']);
});
