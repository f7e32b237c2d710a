import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../base/index.js';
import {
  FORECAST_HORIZON_DAYS, diskUtilizationReport, groupPoints, linearSlope, measuredRpoSeconds, parseTargetMinutes, periodDays, protectedComputersReport, recoveryPointStatusReport,
  scheduleGapSeconds, slaReport, statusReport, type GroupFact, type PointFact, type SourceFact,
} from './reports.js';

const H = 3_600_000;
/** Local midnight starting Monday 2026-03-02; the fake clock reads 3 days later at 12:00. */
const FROM = new Date(2026, 2, 2);
const clock = new ManualClock(new Date(2026, 2, 5, 12, 0));
const at = (day: number, hour: number, minute = 0) => new Date(2026, 2, 2 + day, hour, minute).toISOString();
const period = () => ({ from: FROM, to: new Date(2026, 2, 9), now: clock.now() });

const daily: GroupFact = { name: 'g1', policy: { pointTimes: ['20:00'], days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] }, rpoTargetMinutes: 24 * 60 + 30, rtoTargetMinutes: 60 };
const src = (id: string, group: string | null = 'g1'): SourceFact => ({ id, agent: id.split(':')[0]!, group, since: at(-10, 0), allocationBytes: 1000, usedBytes: 500 });
const pt = (sourceId: string, time: string, bytesAdded = 0, logicalBytes = 0, recoveryPoint = true): PointFact => ({ sourceId, time, recoveryPoint, logicalBytes, bytesAdded });

test('schedule gap: the longest wait between scheduled points over the week', () => {
  assert.equal(scheduleGapSeconds({ pointTimes: ['08:00', '20:00'], days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] }), 12 * 3600);
  assert.equal(scheduleGapSeconds({ pointTimes: ['20:00'], days: ['mon', 'tue', 'wed', 'thu', 'fri'] }), 72 * 3600);
  assert.equal(scheduleGapSeconds({ pointTimes: ['20:00'], days: [] }), null);
});

test('measured RPO: the largest gap, counted from the point before the period and up to its end', () => {
  const t0 = Date.parse(at(0, 0));
  assert.equal(measuredRpoSeconds([t0 + 2 * H, t0 + 5 * H], t0 - 10 * H, t0, t0 + 8 * H), 12 * 3600, 'from the point before the period');
  assert.equal(measuredRpoSeconds([t0 + 2 * H, t0 + 5 * H], null, t0, t0 + 20 * H), 15 * 3600, 'to the end');
  assert.equal(measuredRpoSeconds([], null, t0, t0 + 4 * H), 4 * 3600, 'no point: the whole period');
});

test('recovery point status: missed slots and measured RPO with a fake clock', () => {
  // g1 makes a point at 20:00 every day; the clock says Thursday 12:00.
  // a: points Mon, Tue, Wed at 20:00 → nothing missed (Wed's window is still open until Thu 20:00 anyway).
  // b: points Mon 20:00 and Wed 20:05 → Tue 20:00 missed; measured RPO 48 h 05 min.
  const inPeriod = [pt('a:fs:/x', at(0, 20)), pt('a:fs:/x', at(1, 20)), pt('a:fs:/x', at(2, 20)), pt('b:fs:/y', at(0, 20)), pt('b:fs:/y', at(2, 20, 5))];
  const before = [pt('a:fs:/x', at(-1, 20)), pt('b:fs:/y', at(-1, 20))];
  const newest = [pt('a:fs:/x', at(2, 20)), pt('b:fs:/y', at(2, 20, 5))];
  const r = recoveryPointStatusReport(period(), [src('a:fs:/x'), src('b:fs:/y')], [daily], groupPoints(inPeriod, before, newest));
  const [a, b] = r.sources;
  assert.equal(r.missed, 1);
  assert.deepEqual({ expected: a!.pointsExpected, missed: a!.pointsMissed, rpo: a!.measuredRpoSeconds, late: a!.missedRpo }, { expected: 2, missed: 0, rpo: 24 * 3600, late: false });
  assert.deepEqual({ expected: b!.pointsExpected, missed: b!.pointsMissed, rpo: b!.measuredRpoSeconds, late: b!.missedRpo }, { expected: 2, missed: 1, rpo: 48 * 3600 + 300, late: true });
  assert.equal(b!.newestAgeSeconds, (15 * 60 + 55) * 60, 'Wed 20:05 to Thu 12:00');
  assert.equal(a!.scheduleSeconds, 24 * 3600);
  // An hour later nothing changes; at Thu 20:00 Wed's slot is judged too.
  clock.advance(8 * H);
  const later = recoveryPointStatusReport(period(), [src('a:fs:/x')], [daily], groupPoints(inPeriod, before, newest));
  assert.equal(later.sources[0]!.pointsExpected, 3);
  clock.set(new Date(2026, 2, 5, 12, 0));
});

test('status: counts per group, day and kind; the daily totals', () => {
  const jobs = [
    { kind: 'sync', state: 'succeeded', sourceId: 'a:fs:/x', createdAt: at(0, 9), finishedAt: at(0, 10) },
    { kind: 'sync', state: 'failed', sourceId: 'a:fs:/x', createdAt: at(0, 10), finishedAt: at(0, 11) },
    { kind: 'sync', state: 'succeeded', sourceId: 'a:fs:/x', createdAt: at(1, 10), finishedAt: at(1, 11) },
    { kind: 'gc', state: 'cancelled', sourceId: null, createdAt: at(1, 10), finishedAt: at(1, 12) },
    { kind: 'sync', state: 'succeeded', sourceId: 'a:fs:/x', createdAt: at(-1, 10), finishedAt: at(-1, 11) }, // before the period
  ];
  const r = statusReport(period(), jobs, new Map([['a:fs:/x', 'g1']]));
  assert.deepEqual(r.totals, { succeeded: 2, failed: 1, cancelled: 1 });
  assert.equal(r.days.length, 7);
  assert.deepEqual(r.days[0], { day: '2026-03-02', succeeded: 1, failed: 1, cancelled: 0 });
  assert.deepEqual(r.rows.map((x) => [x.group, x.day, x.kind, x.succeeded, x.failed, x.cancelled]), [
    ['g1', '2026-03-02', 'sync', 1, 1, 0],
    [null, '2026-03-03', 'gc', 0, 0, 1],
    ['g1', '2026-03-03', 'sync', 1, 0, 0],
  ]);
});

test('disk utilization: growth per day and the day the pool is full', () => {
  assert.equal(linearSlope([10, 20, 30]), 10);
  assert.equal(linearSlope([5]), null);
  // 100 bytes added each day Mon..Thu; 1000 stored now; 1000 free → 10 days from Thursday.
  const inPeriod = [0, 1, 2, 3].map((d) => pt('a:fs:/x', at(d, 1), 100, 5000));
  const pool = { bytesStored: 1000, directories: [{ path: '/pool', bytesUsed: 1200, bytesFree: 1000, bytesTotal: 4000 }] };
  const r = diskUtilizationReport(period(), [src('a:fs:/x')], groupPoints(inPeriod, [], [pt('a:fs:/x', at(3, 1), 100, 5000)]), pool);
  assert.deepEqual(r.days.slice(0, 4).map((d) => d.bytesStored), [700, 800, 900, 1000]);
  assert.equal(r.forecast.bytesPerDay, 100);
  assert.equal(r.forecast.daysLeft, 10);
  assert.equal(r.forecast.fullOn, '2026-03-15');
  assert.match(r.forecast.method, /least-squares/);
  assert.deepEqual(r.groups.map((g) => [g.group, g.logicalBytes, g.bytesAdded]), [['g1', 5000, 400]]);
  // Nothing growing: no date.
  const flat = diskUtilizationReport(period(), [src('a:fs:/x')], groupPoints([], [], []), pool);
  assert.equal(flat.forecast.fullOn, null);
  // Growing, but so slowly the pool is full in more than a century: the days, no date (a year of five digits is no YYYY-MM-DD).
  const vast = { ...pool, directories: [{ ...pool.directories[0]!, bytesFree: 100 * (FORECAST_HORIZON_DAYS + 1) }] };
  const slow = diskUtilizationReport(period(), [src('a:fs:/x')], groupPoints(inPeriod, [], [pt('a:fs:/x', at(3, 1), 100, 5000)]), vast);
  assert.deepEqual([slow.forecast.daysLeft, slow.forecast.fullOn], [FORECAST_HORIZON_DAYS + 1, null]);
});

test('SLA: measured RPO and recovery time against the group targets', () => {
  const inPeriod = [pt('a:fs:/x', at(0, 20)), pt('a:fs:/x', at(2, 20))];
  const jobs = [
    { kind: 'recovery', state: 'succeeded', sourceId: 'a:fs:/x', createdAt: at(1, 9), finishedAt: at(1, 9, 45) },
    { kind: 'recovery', state: 'succeeded', sourceId: 'a:fs:/x', createdAt: at(1, 10), finishedAt: at(1, 11, 30) },
    { kind: 'recovery', state: 'failed', sourceId: 'a:fs:/x', createdAt: at(1, 12), finishedAt: at(1, 12, 1) },
  ];
  const r = slaReport(period(), [daily, { ...daily, name: 'g2', rpoTargetMinutes: null, rtoTargetMinutes: null }], [src('a:fs:/x')], groupPoints(inPeriod, [pt('a:fs:/x', at(-1, 20))], []), jobs);
  const g1 = r.groups[0]!;
  assert.equal(g1.measuredRpoSeconds, 48 * 3600);
  assert.equal(g1.rpoMet, false);
  assert.equal(g1.measuredRtoSeconds, 90 * 60);
  assert.equal(g1.rtoMet, false);
  assert.deepEqual([g1.recoveries, g1.failedRecoveries], [3, 1]);
  assert.deepEqual([r.groups[1]!.measuredRpoSeconds, r.groups[1]!.rpoMet], [null, null]);
});

test('protected computers, period days and targets', () => {
  const r = protectedComputersReport(period(), [
    { name: 'b', hostname: 'b.lan', lastSeen: at(3, 11), version: '1.0', revoked: false, connected: true },
    { name: 'a', hostname: 'a.lan', lastSeen: null, version: null, revoked: true, connected: false },
  ], [src('b:fs:/x'), src('b:fs:/y')], groupPoints([], [], [pt('b:fs:/x', at(1, 20)), pt('b:fs:/y', at(2, 20))]));
  assert.deepEqual(r.computers.map((c) => [c.name, c.status, c.dataSources, c.newestPoint]), [['a', 'revoked', 0, null], ['b', 'connected', 2, at(2, 20)]]);
  assert.deepEqual(periodDays({ from: FROM, to: new Date(2026, 2, 4) }), ['2026-03-02', '2026-03-03']);
  assert.equal(parseTargetMinutes('4h'), 240);
  assert.equal(parseTargetMinutes('1d'), 1440);
  assert.equal(parseTargetMinutes('0m'), undefined);
  assert.equal(parseTargetMinutes('31d'), undefined);
  assert.equal(parseTargetMinutes('soon'), undefined);
});
