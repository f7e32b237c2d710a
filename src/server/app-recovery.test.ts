import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CustosError } from '../base/index.js';
import type { AppPointMeta } from '../format/index.js';
import { planAppRecovery, type AppPointRow } from './app-recovery.js';

const base = {
  kind: 'postgres', logMode: 'logs', version: 150018, systemIdentifier: '1', walSegmentSize: 16 << 20, blockSize: 8192, timeline: 1,
  startLsn: '0/2000028', stopLsn: '0/2000100', dataChecksums: false, walSegments: ['000000010000000000000002', '000000010000000000000002'],
} as const;
const full = (id: string, start: string, stop: string): AppPointRow => ({ id, app: { ...base, point: 'full', startTime: start, stopTime: stop } as AppPointMeta });
const log = (id: string, of: AppPointRow, marker: string): AppPointRow => ({
  id, app: { ...of.app, point: 'log', base: of.id, walEnd: '0/3000000', marker: { name: `custos-${id}`, lsn: '0/2FFFF00', xid: '7', time: marker } } as AppPointMeta,
});

test('a time between a base\'s end and a log point\'s marker replays that log point to the time; otherwise the newest point reaching no later', () => {
  const f1 = full('f1', '2026-12-07T08:00:00Z', '2026-12-07T08:00:10Z');
  const l1 = log('l1', f1, '2026-12-07T08:15:00Z');
  const l2 = log('l2', f1, '2026-12-07T08:30:00Z');
  const f2 = full('f2', '2026-12-07T20:00:00Z', '2026-12-07T20:00:10Z');
  const l3 = log('l3', f2, '2026-12-07T20:15:00Z');
  const points = [f1, l1, l2, f2, l3];
  const plan = (t: string) => planAppRecovery(points, new Date(t), 'db:postgres:5432');
  assert.deepEqual(plan('2026-12-07T08:20:00Z'), { point: 'l2', time: '2026-12-07T08:20:00.000Z' });
  assert.deepEqual(plan('2026-12-07T08:15:00Z'), { point: 'l1', time: '2026-12-07T08:15:00.000Z' }, 'a marker\'s own time: its point');
  assert.deepEqual(plan('2026-12-07T08:05:00Z'), { point: 'l1', time: '2026-12-07T08:05:00.000Z' });
  // Inside the base backup (before its consistency point): nothing replays to it; the point before (none) or the base itself is not reachable.
  assert.throws(() => plan('2026-12-07T08:00:05Z'), (e: unknown) => e instanceof CustosError && e.code === 'not-found' && /oldest point reaches 2026-12-07T08:00:10.000Z/.test(e.message));
  // Between the last log point of a day and the next express full: the newest point reaching no later, as it is.
  assert.deepEqual(plan('2026-12-07T12:00:00Z'), { point: 'l2', time: null });
  assert.deepEqual(plan('2026-12-07T20:10:00Z'), { point: 'l3', time: '2026-12-07T20:10:00.000Z' });
  assert.deepEqual(plan('2026-12-08T00:00:00Z'), { point: 'l3', time: null }, 'after the newest: the newest');
  // A tail point (no marker: the WAL left on a stopped cluster) serves the latest only, never a time.
  const tail: AppPointRow = { id: 't', app: { ...l3.app, marker: null } as AppPointMeta };
  assert.deepEqual(planAppRecovery([...points, tail], new Date('2026-12-08T00:00:00Z'), 's'), { point: 'l3', time: null });
  assert.deepEqual(planAppRecovery([...points, tail], new Date('2026-12-07T20:10:00Z'), 's'), { point: 'l3', time: '2026-12-07T20:10:00.000Z' });
  // Express fulls only: the newest at or before.
  assert.deepEqual(planAppRecovery([f1, f2], new Date('2026-12-07T21:00:00Z'), 's'), { point: 'f2', time: null });
});
