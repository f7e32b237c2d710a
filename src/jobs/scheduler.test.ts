// Times are local (new Date(y, m, d, hh, mm)) like the schedule's keys, so
// these pass in any TZ. 2024-11-20 is a Wednesday.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicy, type PolicyInput } from '../protection/index.js';
import type { JobKind } from './kinds.js';
import { dueWork, scheduleChanges, servedMarks, type ScheduledSource } from './scheduler.js';

const at = (d: number, hh: number, mm = 0): Date => new Date(2024, 10, d, hh, mm);

function source(policy: PolicyInput, marks: Partial<ScheduledSource> = {}): ScheduledSource {
  return {
    id: 'lap:fs:/home',
    agent: 'lap',
    policy: parsePolicy(policy).policy,
    since: at(1, 0),
    replicaState: 'ok',
    lastSyncStartedAt: at(20, 12),
    lastPointSlot: null,
    lastCheckSlot: null,
    activeKinds: new Set<JobKind>(),
    ...marks,
  };
}

describe('dueWork', () => {
  it('keeps a slot due while the recovery point job of an earlier one is queued (the engine merges it: one catch-up point)', () => {
    const s = source({ points: '08:00,12:00', sync: '24h' }, { lastPointSlot: '2024-11-20T08:00', activeKinds: new Set<JobKind>(['recovery-point']) });
    assert.deepEqual(dueWork([s], at(20, 12)).map((j) => [j.kind, j.slot]), [['recovery-point', '2024-11-20T12:00']]);
    assert.deepEqual(dueWork([{ ...s, lastPointSlot: '2024-11-20T12:00' }], at(20, 12, 1)), [], 'once, then the mark holds it');
  });

  it('gives a source protected by express fulls a recovery point job for its replica and each point slot, its checks as set, never a synchronization when full-only', () => {
    const pg = (marks: Partial<ScheduledSource>) => source({ points: '08:00,20:00', sync: '15m', check: 'auto,daily@03:00' }, { id: 'db:postgres:5432', app: 'full-only', lastCheckSlot: '2024-11-20T03:00', ...marks });
    // A new one: the replica is an express full (a recovery point job), now.
    assert.deepEqual(dueWork([pg({ replicaState: 'none', lastSyncStartedAt: null })], at(20, 9)).map((j) => [j.kind, j.slot, j.reason]), [['recovery-point', null, 'replica creation: an express full']]);
    assert.deepEqual(dueWork([pg({ replicaState: 'none', activeKinds: new Set<JobKind>(['recovery-point']) })], at(20, 9)), [], 'not twice');
    // One that failed for good at 09:00 is tried again a synchronization interval later, not at every tick.
    assert.deepEqual(dueWork([pg({ replicaState: 'none', lastSyncStartedAt: at(20, 9) })], at(20, 9, 5)), []);
    assert.equal(dueWork([pg({ replicaState: 'none', lastSyncStartedAt: at(20, 9) })], at(20, 9, 15)).length, 1);
    // Past the 08:00 slot, 15 minutes after the last job, the 03:00 check served: only the point is due.
    assert.deepEqual(dueWork([pg({ lastPointSlot: '2024-11-19T20:00', lastSyncStartedAt: at(20, 7) })], at(20, 9)).map((j) => [j.kind, j.slot]), [['recovery-point', '2024-11-20T08:00']]);
    assert.deepEqual(dueWork([pg({ lastPointSlot: '2024-11-20T08:00', lastSyncStartedAt: at(20, 8) })], at(20, 12)), [], 'no synchronization');
    // Its checks: the daily one at its slot (the WAL chain, then an express full), and at once when inconsistent.
    assert.deepEqual(dueWork([pg({ lastPointSlot: '2024-11-20T08:00', lastCheckSlot: '2024-11-19T03:00' })], at(20, 12)).map((j) => [j.kind, j.slot]), [['consistency-check', '2024-11-20T03:00']]);
    assert.deepEqual(dueWork([pg({ lastPointSlot: '2024-11-20T08:00', lastCheckSlot: '2024-11-19T03:00', activeKinds: new Set<JobKind>(['consistency-check']) })], at(20, 12)), [], 'not beside a running one');
    assert.deepEqual(dueWork([pg({ replicaState: 'inconsistent', lastPointSlot: '2024-11-20T08:00' })], at(20, 12)).map((j) => [j.kind, j.reason]), [['consistency-check', 'replica inconsistent: automatic consistency check (WAL chain and an express full)']]);
    assert.deepEqual(dueWork([{ ...pg({ replicaState: 'inconsistent', lastPointSlot: '2024-11-20T08:00' }), policy: parsePolicy({ points: '08:00,20:00', check: 'off' }).policy }], at(20, 12)), [], 'checks off: none');
    // Its log synchronized: a sync every interval between the express fulls.
    assert.deepEqual(dueWork([pg({ app: 'logs', lastPointSlot: '2024-11-20T08:00', lastSyncStartedAt: at(20, 11, 40) })], at(20, 12)).map((j) => [j.kind, j.reason]), [['sync', 'log synchronization every 15 min']]);
    assert.deepEqual(dueWork([pg({ app: 'logs', lastPointSlot: '2024-11-20T08:00', lastSyncStartedAt: at(20, 11, 50) })], at(20, 12)), [], 'not before the interval');
    assert.deepEqual(dueWork([pg({ app: 'logs', lastPointSlot: '2024-11-20T08:00', lastSyncStartedAt: at(20, 11, 40), activeKinds: new Set<JobKind>(['recovery-point']) })], at(20, 12)), [], 'not beside an express full');
    assert.deepEqual(dueWork([pg({ app: 'logs', lastPointSlot: '2024-11-19T20:00', lastSyncStartedAt: at(20, 7) })], at(20, 9)).map((j) => j.kind), ['recovery-point'], 'the express full at its slot, not a sync as well');
    // The same marks on a tree of files: a synchronization and the daily check are due.
    const fs = dueWork([source({ points: '08:00,20:00', sync: '15m', check: 'daily@03:00' }, { lastPointSlot: '2024-11-20T08:00', lastSyncStartedAt: at(20, 8) })], at(20, 12)).map((j) => j.kind);
    assert.deepEqual(fs.sort(), ['consistency-check', 'sync']);
  });
});

describe('servedMarks', () => {
  const policy = parsePolicy({ points: '08:00,20:00', check: 'auto,daily@02:00' }).policy;
  it('marks the newest slot at or before the time as served', () => {
    assert.deepEqual(servedMarks(policy, at(20, 9), at(1, 0), { points: true, check: true }), { lastPointSlot: '2024-11-20T08:00', lastCheckSlot: '2024-11-20T02:00' });
    assert.deepEqual(servedMarks(policy, at(20, 9), at(1, 0), { points: false, check: true }), { lastCheckSlot: '2024-11-20T02:00' });
  });
  it('moves no mark for a schedule with no slot since the data source joined', () => {
    assert.deepEqual(servedMarks(policy, at(20, 9), at(20, 8, 30), { points: true, check: true }), {});
  });
  it('a served slot is not due; the next one is', () => {
    const s = source({ points: '08:00,20:00', check: 'auto,daily@02:00', sync: '24h' }, servedMarks(policy, at(20, 9), at(1, 0), { points: true, check: true }));
    assert.deepEqual(dueWork([s], at(20, 9, 1)), []);
    assert.deepEqual(dueWork([s], at(20, 20)).map((j) => j.slot), ['2024-11-20T20:00']);
    assert.deepEqual(dueWork([{ ...s, lastPointSlot: '2024-11-20T20:00' }], at(21, 2)).map((j) => [j.kind, j.slot]), [['consistency-check', '2024-11-21T02:00']]);
  });
});

describe('scheduleChanges', () => {
  const base = parsePolicy({ points: '20:00', check: 'auto,daily@02:00' }).policy;
  it('tells which schedule a change altered', () => {
    assert.deepEqual(scheduleChanges(base, parsePolicy({ retention: '10d', sync: '1h' }, base).policy), { points: false, check: false });
    assert.deepEqual(scheduleChanges(base, parsePolicy({ points: '06:00,07:00' }, base).policy), { points: true, check: false });
    assert.deepEqual(scheduleChanges(base, parsePolicy({ days: 'weekdays' }, base).policy), { points: true, check: false });
    assert.deepEqual(scheduleChanges(base, parsePolicy({ check: 'auto,daily@07:30' }, base).policy), { points: false, check: true });
    assert.deepEqual(scheduleChanges(base, parsePolicy({ check: 'auto' }, base).policy), { points: false, check: true });
  });
});
