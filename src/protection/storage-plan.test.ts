import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { UserError } from '../base/errors.js';
import { MAX_RETENTION_DAYS, SYNC_FREQUENCIES } from './policy.js';
import {
  largestPointGapMinutes,
  measuredDailyChange,
  measuredRecoveryRate,
  planStorage,
  type PlanGroupInput,
  type StoragePlanInput,
} from './storage-plan.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

/** The example of the user guide: 500 GiB changing 5 % a day, kept 14 days, growing 20 % a year for 3 years. */
const example: PlanGroupInput = {
  name: 'files',
  sources: [{ name: 'data', dataBytes: 500 * GiB, dailyChangePercent: 5 }],
  retentionDays: 14,
  syncMinutes: 15,
  pointTimes: ['20:00', '08:00', '12:00'],
  yearlyGrowthPercent: 20,
  years: 3,
};

function refused(input: StoragePlanInput, message: RegExp): void {
  assert.throws(() => planStorage(input), (err: unknown) => {
    assert.ok(err instanceof UserError, String(err));
    assert.equal(err.code, 'usage');
    assert.match(err.message, message);
    return true;
  });
}

describe('planStorage: the formulas, by hand', () => {
  it('500 GiB, 5 %/day, 14 days: replica 500 GiB, recovery points 14 × 25 GiB, growth 20 % a year', () => {
    const plan = planStorage({ groups: [example], recoveryRate: 100 * MiB, preparationSeconds: 600 });
    const g = plan.groups[0]!;
    const s = g.sources[0]!;
    assert.equal(s.dailyChangeBytes, 25 * GiB);
    assert.equal(s.replicaBytes, 500 * GiB);
    assert.equal(s.recoveryPointBytes, 350 * GiB);
    assert.equal(s.plannedBytes, 850 * GiB);
    // DPM's default (allocation.ts): 1.5 × 500 GiB + 500 GiB × 14 × 2 % + 1600 MiB.
    assert.equal(s.defaultAllocationBytes, 750 * GiB + 140 * GiB + 1600 * MiB);
    // 500 GiB at 100 MiB/s is 5120 s, plus 10 minutes of preparation.
    assert.equal(s.rtoSeconds, 5720);
    assert.deepEqual(
      s.growth.map((y) => [y.year, y.dataBytes, y.recoveryPointBytes, y.plannedBytes]),
      [
        [0, 500 * GiB, 350 * GiB, 850 * GiB],
        [1, 600 * GiB, 420 * GiB, 1020 * GiB],
        [2, 720 * GiB, 504 * GiB, 1224 * GiB],
        // 864 GiB: a day's change of 43.2 GiB is a fraction of a byte off whole: rounded.
        [3, 864 * GiB, 14 * Math.round(43.2 * GiB), 864 * GiB + 14 * Math.round(43.2 * GiB)],
      ],
    );
    assert.deepEqual(g.pointTimes, ['08:00', '12:00', '20:00']);
    assert.deepEqual(g.rpo, { syncMinutes: 15, recoveryPointMinutes: 720 }, '20:00 to 08:00 is the longest gap');
    assert.equal(g.recoveryPointsKept, 42);
    assert.deepEqual(plan.pool.growth[0], {
      year: 0, protectedBytes: 500 * GiB, plannedBytes: 850 * GiB, recommendedMinBytes: 750 * GiB, recommendedMaxBytes: 1500 * GiB, rtoSeconds: 5720,
    });
    assert.equal(plan.pool.growth.length, 4);
    assert.equal(plan.pool.recommendedMaxBytes, 1500 * GiB);
    assert.deepEqual(plan.warnings, []);
  });

  it('replica = data + one day of logs (seeds/003: 500 GB of data and 50 GB of logs, about 550 GB)', () => {
    const plan = planStorage({
      groups: [{ ...example, years: 0, sources: [{ name: 'db', dataBytes: 500e9, dailyChangePercent: 0, logBytesPerDay: 50e9 }] }],
      recoveryRate: null,
    });
    const s = plan.groups[0]!.sources[0]!;
    assert.equal(s.replicaBytes, 550e9);
    assert.equal(s.recoveryPointBytes, 0);
  });

  it('RTO is unknown (null) without a measured rate, and the group RTO recovers its sources one after another', () => {
    const two = { ...example, years: 0, sources: [{ name: 'a', dataBytes: 10 * GiB, dailyChangePercent: 1 }, { name: 'b', dataBytes: 30 * GiB, dailyChangePercent: 1 }] };
    assert.equal(planStorage({ groups: [two], recoveryRate: null }).groups[0]!.rtoSeconds, null);
    const plan = planStorage({ groups: [two], recoveryRate: GiB, preparationSeconds: 60 });
    assert.deepEqual(plan.groups[0]!.sources.map((s) => s.rtoSeconds), [70, 90]);
    assert.equal(plan.groups[0]!.rtoSeconds, 100);
  });

  it('warns when the schedule keeps more recovery points than DPM allows, and when the plan passes 3 × the data', () => {
    const plan = planStorage({ groups: [{ ...example, retentionDays: 30, sources: [{ name: 'x', dataBytes: GiB, dailyChangePercent: 10 }] }], recoveryRate: null });
    assert.equal(plan.groups[0]!.recoveryPointsKept, 90);
    assert.equal(plan.warnings.length, 2);
    assert.match(plan.warnings[0]!, /group files: this schedule keeps up to 90 recovery points per data source; file data sources keep at most 64/);
    assert.match(plan.warnings[1]!, /4\.0 × the protected data, above the 3 × recommended/);
  });

  it('a pool of groups planned over different years: a shorter plan keeps its last year', () => {
    const plan = planStorage({ groups: [example, { ...example, name: 'other', years: 1 }], recoveryRate: null });
    assert.deepEqual(plan.pool.growth.map((y) => y.protectedBytes), [1000 * GiB, 1200 * GiB, 1320 * GiB, 1464 * GiB]);
  });
});

describe('largestPointGapMinutes', () => {
  it('over the week: once a day is a day, weekdays only leaves the weekend', () => {
    assert.equal(largestPointGapMinutes(['20:00'], ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']), 1440);
    assert.equal(largestPointGapMinutes(['20:00'], ['mon', 'tue', 'wed', 'thu', 'fri']), 3 * 1440);
    assert.equal(largestPointGapMinutes(['00:00', '23:00'], ['wed']), 7 * 1440 - 23 * 60, 'wed 23:00 to the next wed 00:00');
    assert.equal(largestPointGapMinutes(['06:00', '18:00'], ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']), 720);
  });
});

describe('planStorage: input outside the limits is refused, saying what is allowed', () => {
  const with_ = (patch: Partial<PlanGroupInput>): StoragePlanInput => ({ groups: [{ ...example, ...patch }], recoveryRate: null });
  const source = (patch: object): StoragePlanInput => with_({ sources: [{ ...example.sources[0]!, ...patch }] });
  it('refuses each bad value', () => {
    refused(source({ dataBytes: -1 }), /data source data: data size -1 is not allowed: use whole bytes from 0 to 1 PiB/);
    refused(source({ dataBytes: 2 * 1024 ** 5 }), /data size .* not allowed/);
    refused(source({ dailyChangePercent: 101 }), /daily change 101% is not allowed: use 0% to 100%/);
    refused(source({ dailyChangePercent: -0.5 }), /daily change -0.5%/);
    refused(source({ logBytesPerDay: 1.5 }), /log size a day 1.5 is not allowed/);
    refused(with_({ retentionDays: 0 }), /group files: retention range 0 days is not allowed: use whole days from 1 to 448/);
    refused(with_({ retentionDays: MAX_RETENTION_DAYS + 1 }), /retention range 449 days/);
    refused(with_({ syncMinutes: 20 }), /synchronization frequency 20 minutes is not allowed: use 15m, 30m, 1h, 2h, 4h, 6h, 12h or 24h/);
    refused(with_({ pointTimes: [] }), /give 1 to 8 recovery point times/);
    refused(with_({ pointTimes: ['25:00'] }), /recovery point time 25:00 is not a time/);
    refused(with_({ pointTimes: ['8:00', '08:00'] }), /08:00 is listed twice/);
    refused(with_({ days: [] }), /at least one day/);
    refused(with_({ days: ['mon', 'mon'] }), /each of mon, tue/);
    refused(with_({ yearlyGrowthPercent: -1 }), /yearly growth -1% is not allowed/);
    refused(with_({ years: 11 }), /plan 0 to 10 years/);
    refused(with_({ sources: [] }), /at least one data source/);
    refused({ groups: [], recoveryRate: null }, /at least one protection group/);
    refused({ groups: [example, example], recoveryRate: null }, /group files is in the plan twice/);
    refused({ groups: [example], recoveryRate: 0 }, /recovery rate must be more than 0/);
    refused({ groups: [example], recoveryRate: null, preparationSeconds: -1 }, /preparation time -1 s/);
    refused(with_({ yearlyGrowthPercent: 1000, years: 10, sources: [{ name: 'big', dataBytes: 1024 ** 5, dailyChangePercent: 1 }] }), /grows beyond .* \(8 PiB\)/);
  });
});

describe('planStorage: properties', () => {
  const sourceArb = fc.record({
    name: fc.string({ minLength: 1, maxLength: 8 }),
    dataBytes: fc.integer({ min: 0, max: 2 ** 40 }),
    dailyChangePercent: fc.double({ min: 0, max: 100, noNaN: true }),
    logBytesPerDay: fc.integer({ min: 0, max: 2 ** 30 }),
  });
  const groupArb = fc.record({
    name: fc.constant('g'),
    sources: fc.array(sourceArb, { minLength: 1, maxLength: 5 }),
    retentionDays: fc.integer({ min: 1, max: MAX_RETENTION_DAYS }),
    syncMinutes: fc.constantFrom(...SYNC_FREQUENCIES),
    pointTimes: fc.constant(['20:00']),
    yearlyGrowthPercent: fc.double({ min: 0, max: 100, noNaN: true }),
    years: fc.integer({ min: 0, max: 5 }),
  });

  it('totals are the sums of their parts, year by year, group and pool', () => {
    fc.assert(
      fc.property(fc.array(groupArb, { minLength: 1, maxLength: 3 }), (groups) => {
        const named = groups.map((g, i) => ({ ...g, name: `g${i}` }));
        const plan = planStorage({ groups: named, recoveryRate: null });
        for (const g of plan.groups) {
          for (const key of ['dataBytes', 'logBytesPerDay', 'dailyChangeBytes', 'replicaBytes', 'recoveryPointBytes', 'plannedBytes', 'defaultAllocationBytes'] as const) {
            assert.equal(g[key], g.sources.reduce((n, s) => n + s[key], 0), key);
          }
          for (const y of g.growth) assert.equal(y.plannedBytes, g.sources.reduce((n, s) => n + s.growth[y.year]!.plannedBytes, 0));
          for (const s of g.sources) assert.equal(s.plannedBytes, s.replicaBytes + s.recoveryPointBytes);
        }
        assert.equal(plan.pool.plannedBytes, plan.groups.reduce((n, g) => n + g.plannedBytes, 0));
        assert.equal(plan.pool.protectedBytes, plan.groups.reduce((n, g) => n + g.dataBytes, 0));
      }),
    );
  });

  /** A plan, or the case skipped when it grows past what one server can hold (planStorage refuses it, rightly: not this property's concern). */
  const planOrSkip = (input: Parameters<typeof planStorage>[0]) => {
    try {
      return planStorage(input);
    } catch (e) {
      fc.pre(!(e instanceof Error && /more than one server can hold/.test(e.message)));
      throw e;
    }
  };

  it('more retention, change or growth never needs less space', () => {
    fc.assert(
      fc.property(groupArb, fc.integer({ min: 0, max: 100 }), fc.double({ min: 0, max: 50, noNaN: true }), fc.double({ min: 0, max: 50, noNaN: true }), (g, moreDays, moreChange, moreGrowth) => {
        const base = planOrSkip({ groups: [g], recoveryRate: null }).groups[0]!;
        const longer = planOrSkip({ groups: [{ ...g, retentionDays: Math.min(MAX_RETENTION_DAYS, g.retentionDays + moreDays) }], recoveryRate: null }).groups[0]!;
        const changing = planOrSkip({
          groups: [{ ...g, sources: g.sources.map((s) => ({ ...s, dailyChangePercent: Math.min(100, s.dailyChangePercent + moreChange) })) }],
          recoveryRate: null,
        }).groups[0]!;
        const growing = planOrSkip({ groups: [{ ...g, yearlyGrowthPercent: g.yearlyGrowthPercent + moreGrowth }], recoveryRate: null }).groups[0]!;
        for (const other of [longer, changing, growing]) {
          for (const y of base.growth) {
            assert.ok(other.growth[y.year]!.plannedBytes >= y.plannedBytes);
            assert.ok(other.growth[y.year]!.recoveryPointBytes >= y.recoveryPointBytes);
          }
        }
        for (let y = 1; y < base.growth.length; y++) assert.ok(base.growth[y]!.dataBytes >= base.growth[y - 1]!.dataBytes, 'growth never shrinks the data');
      }),
    );
  });
});

describe('measuredRecoveryRate', () => {
  it('the median of the newest 20 recoveries of at least 1 MiB', () => {
    assert.deepEqual(measuredRecoveryRate([]), { bytesPerSecond: null, recoveries: 0 });
    assert.deepEqual(measuredRecoveryRate([{ bytes: 1000, durationMs: 1 }]), { bytesPerSecond: null, recoveries: 0 }, 'too small to measure');
    assert.deepEqual(measuredRecoveryRate([{ bytes: 10 * MiB, durationMs: 0 }]), { bytesPerSecond: null, recoveries: 0 });
    const s = (mibPerSecond: number) => ({ bytes: 100 * MiB, durationMs: (100 / mibPerSecond) * 1000 });
    assert.deepEqual(measuredRecoveryRate([s(10), s(50), s(20)]), { bytesPerSecond: 20 * MiB, recoveries: 3 });
    assert.deepEqual(measuredRecoveryRate([s(10), s(40), s(20), s(100)]), { bytesPerSecond: 30 * MiB, recoveries: 4 });
    const many = [...Array.from({ length: 20 }, () => s(50)), ...Array.from({ length: 30 }, () => s(1))];
    assert.deepEqual(measuredRecoveryRate(many), { bytesPerSecond: 50 * MiB, recoveries: 20 }, 'the newest 20 only');
  });
});

describe('measuredDailyChange', () => {
  const now = new Date('2026-03-10T12:00:00Z');
  const at = (daysAgo: number, logicalBytes: number, bytesAdded: number) => ({ time: new Date(now.getTime() - daysAgo * 86_400_000), logicalBytes, bytesAdded });
  it('bytes added by the points of the last 7 days, per day, of the newest size; the first point is not a change', () => {
    assert.deepEqual(measuredDailyChange([], now), { dataBytes: 0, dailyChangePercent: null, days: 0, points: 0 });
    assert.deepEqual(measuredDailyChange([at(3, 100, 100)], now), { dataBytes: 100, dailyChangePercent: null, days: 0, points: 0 });
    // Protected 30 days ago; the last 7 days added 7 × 2 GiB to 100 GiB: 2 %; the point 8 days ago is outside.
    const points = [at(30, 90 * GiB, 90 * GiB), at(8, 99 * GiB, 50 * GiB), ...[6, 5, 4, 3, 2, 1, 0].map((d) => at(d, 100 * GiB, 2 * GiB))];
    assert.deepEqual(measuredDailyChange(points.reverse(), now), { dataBytes: 100 * GiB, dailyChangePercent: 2, days: 7, points: 7 });
    // Protected 2 days ago: measured over those 2 days.
    assert.deepEqual(measuredDailyChange([at(2, 10 * GiB, 10 * GiB), at(1, 10 * GiB, GiB), at(0, 10 * GiB, GiB)], now), { dataBytes: 10 * GiB, dailyChangePercent: 10, days: 2, points: 2 });
    // Protected an hour ago: counted as a day, not multiplied up by 24.
    assert.equal(measuredDailyChange([at(1 / 24, 10 * GiB, 10 * GiB), at(0, 10 * GiB, GiB)], now).dailyChangePercent, 10);
  });
});
