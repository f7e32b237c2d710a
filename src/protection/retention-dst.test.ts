// A week of scheduling and pruning, minute by minute on a clock the test
// advances, in a zone with daylight saving time (Europe/Berlin: on
// 2025-03-30 02:00 becomes 03:00, on 2025-10-26 03:00 becomes 02:00). The
// zone is set for this file only: node --test runs each file in a process of
// its own, and the first test checks that the zone took effect.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { useTimeZone } from '../../test/helpers/time-zone.js';
import { ManualClock } from '../base/clock.js';
import { parsePolicy, WEEKDAYS, type ProtectionPolicy } from './policy.js';
import { pointsToPrune, type PointInfo } from './retention.js';
import { isPruneDue, isSyncDue, latestPointSlot, localDateKey } from './schedule.js';

const ZONE = 'Europe/Berlin';
const MINUTE = 60_000;
const DAY = 86_400_000;
useTimeZone(ZONE);

interface Week {
  /** Recovery points made, by slot key, with the time they were made. */
  readonly made: Map<string, Date>;
  /** Local dates on which the nightly prune ran. */
  readonly nightlyPrunes: string[];
  /** Recovery points left right after each nightly prune, by local date. */
  readonly afterNightlyPrune: Map<string, string[]>;
  /** Every point pruned, with its age when it was. */
  readonly pruned: Array<{ point: PointInfo; ageMs: number }>;
  /** Minutes (after the first recovery point) at which the data source had no recovery point. */
  readonly minutesWithout: Date[];
}

/**
 * What the server does for one data source, in pure functions: each minute a
 * due recovery point (else a due synchronization) is made and the data
 * source is pruned when that job ends; the first minute of each local day
 * prunes too. Every job takes no time.
 */
function runWeek(policy: ProtectionPolicy, from: Date, to: Date): Week {
  const clock = new ManualClock(from);
  const week: Week = { made: new Map(), nightlyPrunes: [], afterNightlyPrune: new Map(), pruned: [], minutesWithout: [] };
  let points: PointInfo[] = [];
  let lastSlot: string | null = null;
  let lastSync: Date | null = null;
  let lastPrune: Date | null = null;
  let n = 0;
  const prune = (now: Date): void => {
    const drop = new Set(pointsToPrune(points, policy, now));
    for (const p of points) if (drop.has(p.id)) week.pruned.push({ point: p, ageMs: now.getTime() - p.time.getTime() });
    points = points.filter((p) => !drop.has(p.id));
  };
  for (let now = clock.now(); now.getTime() < to.getTime(); now = clock.advance(MINUTE)) {
    const slot = latestPointSlot(policy, now, from);
    if (slot !== null && slot.key !== lastSlot) {
      lastSlot = slot.key;
      lastSync = now;
      week.made.set(slot.key, now);
      points.push({ id: `rp-${slot.key}`, time: now, recoveryPoint: true });
      prune(now);
    } else if (isSyncDue(lastSync, policy, now)) {
      lastSync = now;
      points.push({ id: `sync-${n++}`, time: now, recoveryPoint: false });
      prune(now);
    }
    if (isPruneDue(lastPrune, now)) {
      lastPrune = now;
      week.nightlyPrunes.push(localDateKey(now));
      prune(now);
      week.afterNightlyPrune.set(localDateKey(now), points.filter((p) => p.recoveryPoint).map((p) => p.id));
    }
    if (week.made.size > 0 && !points.some((p) => p.recoveryPoint)) week.minutesWithout.push(now);
  }
  return week;
}

/** The slot keys a policy has on the local dates from..to (inclusive), by the calendar alone. */
function expectedKeys(policy: ProtectionPolicy, dates: readonly string[]): string[] {
  const keys: string[] = [];
  for (const date of dates) {
    const [y, m, d] = date.split('-').map(Number) as [number, number, number];
    const weekday = WEEKDAYS[(new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7]!;
    if (policy.days.includes(weekday)) for (const t of policy.pointTimes) keys.push(`${date}T${t}`);
  }
  return keys;
}

const dates = (first: number, last: number, month: string): string[] =>
  Array.from({ length: last - first + 1 }, (_, i) => `2025-${month}-${String(first + i).padStart(2, '0')}`);

function checkWeek(week: Week, policy: ProtectionPolicy, days: readonly string[]): void {
  assert.deepEqual([...week.made.keys()], expectedKeys(policy, days), 'each scheduled slot makes one recovery point, none twice');
  assert.deepEqual(week.nightlyPrunes, [...days], 'the nightly prune runs once each local day');
  assert.deepEqual(week.minutesWithout.map((d) => d.toISOString()).slice(0, 3), [], 'a recovery point exists at every minute');
  for (const { point, ageMs } of week.pruned.filter((p) => p.point.recoveryPoint)) {
    assert.ok(ageMs > policy.retentionDays * DAY, `${point.id} was pruned ${ageMs / 3_600_000} h old, within the ${policy.retentionDays}-day range`);
  }
}

describe(`a week of recovery points and pruning in ${ZONE}`, () => {
  it('runs in the zone (the clock changes on 2025-03-30 and 2025-10-26)', () => {
    assert.equal(new Date(2025, 2, 29, 12).getTimezoneOffset(), -60);
    assert.equal(new Date(2025, 2, 30, 12).getTimezoneOffset(), -120);
    assert.equal(new Date(2025, 9, 26, 12).getTimezoneOffset(), -60);
  });

  it('spring forward, 02:30 and 20:00 daily, retention 1d: the 02:30 slot runs at 03:30, every point lives at least 24 h, one always exists', () => {
    const policy = parsePolicy({ points: '02:30,20:00', retention: '1d', sync: '1h' }).policy;
    const week = runWeek(policy, new Date(2025, 2, 24, 0, 0), new Date(2025, 2, 31, 0, 0));
    checkWeek(week, policy, dates(24, 30, '03'));
    // 02:30 does not exist on Mar 30: the slot keeps its key and runs at 03:30 CEST (01:30 UTC)
    assert.equal(week.made.get('2025-03-30T02:30')?.toISOString(), '2025-03-30T01:30:00.000Z');
    assert.equal(week.made.get('2025-03-30T20:00')?.toISOString(), '2025-03-30T18:00:00.000Z');
    // after each midnight: the day before's 02:30 and 20:00 (both younger than 24 h)
    assert.deepEqual(week.afterNightlyPrune.get('2025-03-25'), ['rp-2025-03-24T02:30', 'rp-2025-03-24T20:00']);
    // Sunday had 23 h: Saturday 20:00 was 23 h old at Sunday 20:00 and 24 h at the 21:00 synchronization, so it
    // stayed; the 22:00 synchronization pruned it, 25 h old
    assert.equal(week.pruned.find((p) => p.point.id === 'rp-2025-03-29T20:00')?.ageMs, 25 * 3_600_000);
  });

  it('fall back, 02:30 and 20:00 daily, retention 1d: the 02:30 slot that happens twice makes one point', () => {
    const policy = parsePolicy({ points: '02:30,20:00', retention: '1d', sync: '1h' }).policy;
    const week = runWeek(policy, new Date(2025, 9, 20, 0, 0), new Date(2025, 9, 27, 0, 0));
    checkWeek(week, policy, dates(20, 26, '10'));
    // the first 02:30 (CEST, 00:30 UTC); the second (CET, 01:30 UTC) is the same slot
    assert.equal(week.made.get('2025-10-26T02:30')?.toISOString(), '2025-10-26T00:30:00.000Z');
    // Sunday had 25 h: Saturday 20:00 CEST went at the first prune after it turned 24 h old, the
    // synchronization at 19:30 CET, 24.5 h later (not at 20:00 by the clock on the wall, which is 25 h)
    assert.equal(week.pruned.find((p) => p.point.id === 'rp-2025-10-25T20:00')?.ageMs, 24.5 * 3_600_000);
  });

  it('retention 2d on weekdays across the spring change: Friday 20:00 carries the weekend, pruned only after Monday 20:00', () => {
    const policy = parsePolicy({ points: '20:00', days: 'weekdays', retention: '2d', sync: '15m' }).policy;
    const week = runWeek(policy, new Date(2025, 2, 24, 0, 0), new Date(2025, 3, 1, 0, 0));
    checkWeek(week, policy, dates(24, 31, '03'));
    assert.deepEqual(week.afterNightlyPrune.get('2025-03-30'), ['rp-2025-03-28T20:00']);
    assert.deepEqual(week.afterNightlyPrune.get('2025-03-31'), ['rp-2025-03-28T20:00']);
    const friday = week.pruned.find((p) => p.point.id === 'rp-2025-03-28T20:00');
    // Friday 20:00 CET to Monday 20:00 CEST: 71 h
    assert.equal(friday?.ageMs, 71 * 3_600_000);
  });
});
