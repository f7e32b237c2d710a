// Expected times are built with new Date(y, m, d, hh, mm), i.e. in local
// time like the code under test, so these pass in any TZ. 2024-11-18 is a
// Monday; there is no DST change between Nov 10 and Nov 30 in common zones.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicy } from './policy.js';
import {
  dailyCheckSlot,
  isPruneDue,
  isSyncDue,
  latestPointSlot,
  minuteKey,
  nextPointSlot,
  pointSlotsBetween,
  replicaCreationTime,
} from './schedule.js';

const at = (d: number, hh: number, mm = 0, ss = 0): Date => new Date(2024, 10, d, hh, mm, ss); // November 2024
const LONG_AGO = new Date(2000, 0, 1);

describe('isSyncDue', () => {
  const policy = parsePolicy({ sync: '1h' }).policy;
  it('is due when never synchronized', () => {
    assert.equal(isSyncDue(null, policy, at(20, 10)), true);
  });
  it('is due at the period, or up to 30 s early, and not before', () => {
    const last = at(20, 10, 0);
    assert.equal(isSyncDue(last, policy, at(20, 10, 59, 29)), false);
    assert.equal(isSyncDue(last, policy, at(20, 10, 59, 30)), true);
    assert.equal(isSyncDue(last, policy, at(20, 11, 0)), true);
    assert.equal(isSyncDue(last, policy, at(20, 10, 30)), false);
  });
  it('uses the policy frequency', () => {
    const fast = parsePolicy({ sync: '15m' }).policy;
    assert.equal(isSyncDue(at(20, 10, 0), fast, at(20, 10, 15)), true);
    assert.equal(isSyncDue(at(20, 10, 0), fast, at(20, 10, 14)), false);
  });
});

describe('minuteKey', () => {
  it('formats local time, zero-padded', () => {
    assert.equal(minuteKey(new Date(2024, 0, 5, 7, 3, 59)), '2024-01-05T07:03');
    assert.equal(minuteKey(at(22, 20, 0)), '2024-11-22T20:00');
  });
});

describe('latestPointSlot', () => {
  const daily = parsePolicy({ points: '08:00,20:00' }).policy;

  it('returns the newest scheduled time at or before now', () => {
    assert.deepEqual(latestPointSlot(daily, at(20, 9, 30), LONG_AGO), { key: '2024-11-20T08:00', time: at(20, 8) });
    assert.deepEqual(latestPointSlot(daily, at(20, 20, 0), LONG_AGO), { key: '2024-11-20T20:00', time: at(20, 20) });
    assert.deepEqual(latestPointSlot(daily, at(20, 7, 59), LONG_AGO), { key: '2024-11-19T20:00', time: at(19, 20) });
  });

  it('catches up once: a server down over three slots gets only the newest', () => {
    // slots 19th 20:00, 20th 08:00, 20th 20:00 were missed; back at 21st 07:00
    const slot = latestPointSlot(daily, at(21, 7), at(1, 0));
    assert.equal(slot?.key, '2024-11-20T20:00');
    // the next tick sees the same key, so the caller does not repeat it
    assert.equal(latestPointSlot(daily, at(21, 7, 1), at(1, 0))?.key, '2024-11-20T20:00');
  });

  it('skips weekdays that are not scheduled', () => {
    const weekdays = parsePolicy({ points: '20:00', days: 'weekdays' }).policy;
    // Monday Nov 18, 10:00: the last weekday slot is Friday Nov 15 20:00
    assert.deepEqual(latestPointSlot(weekdays, at(18, 10), LONG_AGO), { key: '2024-11-15T20:00', time: at(15, 20) });
    assert.equal(latestPointSlot(weekdays, at(18, 20), LONG_AGO)?.key, '2024-11-18T20:00');
  });

  it('excludes slots before notBefore (e.g. the group was created after them)', () => {
    assert.equal(latestPointSlot(daily, at(20, 9), at(20, 8, 30)), null);
    assert.equal(latestPointSlot(daily, at(20, 9), at(20, 8, 0))?.key, '2024-11-20T08:00');
    assert.equal(latestPointSlot(daily, at(20, 21), at(20, 8, 30))?.key, '2024-11-20T20:00');
  });

  it('looks back a week for a weekly schedule, and no further', () => {
    const mondays = parsePolicy({ points: '20:00', days: 'mon' }).policy;
    // Monday Nov 25 19:59: the last slot is Monday Nov 18 20:00, 6 days 23 h 59 min ago
    assert.deepEqual(latestPointSlot(mondays, at(25, 19, 59), LONG_AGO), { key: '2024-11-18T20:00', time: at(18, 20) });
    // Sunday Nov 24: still Nov 18; never the Monday before (Nov 11)
    assert.equal(latestPointSlot(mondays, at(24, 23, 59), LONG_AGO)?.key, '2024-11-18T20:00');
    assert.equal(latestPointSlot(mondays, at(25, 19, 59), at(18, 20, 1)), null);
  });

  it('crosses month and year boundaries', () => {
    assert.equal(latestPointSlot(daily, new Date(2025, 0, 1, 6, 0), LONG_AGO)?.key, '2024-12-31T20:00');
  });
});

describe('nextPointSlot', () => {
  const policy = parsePolicy({ points: '08:00,20:00', days: 'weekdays' }).policy;
  it('returns the first slot strictly after the given time', () => {
    assert.deepEqual(nextPointSlot(policy, at(20, 9)), { key: '2024-11-20T20:00', time: at(20, 20) });
    assert.equal(nextPointSlot(policy, at(20, 8))?.key, '2024-11-20T20:00');
    assert.equal(nextPointSlot(policy, at(20, 7, 59))?.key, '2024-11-20T08:00');
  });
  it('skips to the next scheduled weekday', () => {
    // Friday Nov 22 after 20:00 → Monday Nov 25 08:00
    assert.deepEqual(nextPointSlot(policy, at(22, 20)), { key: '2024-11-25T08:00', time: at(25, 8) });
  });
  it('finds a weekly slot a week ahead', () => {
    const mondays = parsePolicy({ days: 'mon' }).policy;
    assert.equal(nextPointSlot(mondays, at(18, 20))?.key, '2024-11-25T20:00');
  });
});

describe('pointSlotsBetween', () => {
  const policy = parsePolicy({ points: '08:00,12:00,20:00', days: 'weekdays' }).policy;
  const keys = (from: Date, until: Date) => pointSlotsBetween(policy, from, until).map((s) => s.key);
  it('lists the slots from one time to another, both included, oldest first', () => {
    assert.deepEqual(keys(at(20, 8), at(20, 12)), ['2024-11-20T08:00', '2024-11-20T12:00']);
    assert.deepEqual(keys(at(20, 8, 0, 1), at(21, 8)), ['2024-11-20T12:00', '2024-11-20T20:00', '2024-11-21T08:00']);
    assert.deepEqual(keys(at(20, 9), at(20, 11)), []);
    assert.deepEqual(keys(at(20, 12), at(20, 8)), [], 'an empty range');
  });
  it('follows the weekdays over a long outage', () => {
    // Friday Nov 22 12:00 to Monday Nov 25 08:00: the weekend has no slot.
    assert.deepEqual(keys(at(22, 12), at(25, 8)), ['2024-11-22T12:00', '2024-11-22T20:00', '2024-11-25T08:00']);
    assert.equal(pointSlotsBetween(policy, at(1, 0), at(30, 23)).length, 21 * 3, 'the weekdays of November 2024, from the 1st');
  });
});

describe('replicaCreationTime', () => {
  const created = at(20, 14, 30);
  it('now: at creation', () => {
    assert.deepEqual(replicaCreationTime(parsePolicy({ replica: 'now' }).policy, created), created);
  });
  it('later: the next occurrence of the time, today or tomorrow', () => {
    assert.deepEqual(replicaCreationTime(parsePolicy({ replica: 'later@22:00' }).policy, created), at(20, 22));
    assert.deepEqual(replicaCreationTime(parsePolicy({ replica: 'later@02:00' }).policy, created), at(21, 2));
    assert.deepEqual(replicaCreationTime(parsePolicy({ replica: 'later@14:30' }).policy, created), at(20, 14, 30));
    assert.deepEqual(replicaCreationTime(parsePolicy({ replica: 'later@14:30' }).policy, at(20, 14, 30, 1)), at(21, 14, 30));
  });
  it('manual: never scheduled', () => {
    assert.equal(replicaCreationTime(parsePolicy({ replica: 'manual' }).policy, created), null);
  });
});

describe('dailyCheckSlot', () => {
  it('is null without a daily check', () => {
    assert.equal(dailyCheckSlot(parsePolicy({ check: 'auto' }).policy, at(20, 12), LONG_AGO), null);
  });
  it('returns the newest daily time at or before now, after notBefore, on any weekday', () => {
    const policy = parsePolicy({ check: 'daily@02:00', days: 'mon' }).policy;
    assert.deepEqual(dailyCheckSlot(policy, at(20, 1, 59), LONG_AGO), { key: '2024-11-19T02:00', time: at(19, 2) });
    assert.equal(dailyCheckSlot(policy, at(20, 2), LONG_AGO)?.key, '2024-11-20T02:00');
    assert.equal(dailyCheckSlot(policy, at(20, 1), at(19, 12)), null);
  });
});

describe('isPruneDue', () => {
  it('is due once per local calendar day', () => {
    assert.equal(isPruneDue(null, at(20, 12)), true);
    assert.equal(isPruneDue(at(20, 0, 1), at(20, 23, 59)), false);
    assert.equal(isPruneDue(at(19, 23, 59), at(20, 0, 0)), true);
    assert.equal(isPruneDue(new Date(2024, 11, 31, 23, 0), new Date(2025, 0, 1, 0, 5)), true);
  });
  it('is not due when the last prune looks newer than now (clock set back)', () => {
    assert.equal(isPruneDue(at(21, 1), at(20, 12)), false);
  });
});
