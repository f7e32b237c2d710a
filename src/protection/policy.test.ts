import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { UserError } from '../base/errors.js';
import {
  DEFAULT_POLICY,
  formatCheck,
  formatReplica,
  parsePolicy,
  recoveryPointsKept,
  WEEKDAYS,
  type PolicyInput,
  type ProtectionPolicy,
} from './policy.js';

function rejects(input: PolicyInput, message: string | RegExp): void {
  assert.throws(
    () => parsePolicy(input),
    (err: unknown) => {
      assert.ok(err instanceof UserError, `expected a UserError, got ${String(err)}`);
      assert.equal(err.code, 'usage');
      if (typeof message === 'string') assert.equal(err.message, message);
      else assert.match(err.message, message);
      return true;
    },
  );
}

describe('parsePolicy defaults', () => {
  it('gives DPM defaults for an empty input', () => {
    const { policy, warnings } = parsePolicy({});
    assert.deepEqual(policy, {
      retentionDays: 5,
      syncMinutes: 15,
      pointTimes: ['20:00'],
      days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
      excludes: [],
      replica: { mode: 'now' },
      check: { auto: true, dailyAt: null },
    });
    assert.deepEqual(warnings, []);
    assert.equal(formatReplica(policy), 'now');
    assert.equal(formatCheck(policy), 'auto');
    assert.equal(recoveryPointsKept(policy), 5);
  });

  it('DEFAULT_POLICY cannot be changed by accident', () => {
    assert.ok(Object.isFrozen(DEFAULT_POLICY));
    assert.ok(Object.isFrozen(DEFAULT_POLICY.pointTimes));
  });
});

describe('retention', () => {
  it('accepts days, weeks and plain numbers', () => {
    assert.equal(parsePolicy({ retention: '5d' }).policy.retentionDays, 5);
    assert.equal(parsePolicy({ retention: '2w' }).policy.retentionDays, 14);
    assert.equal(parsePolicy({ retention: 30 }).policy.retentionDays, 30);
    assert.equal(parsePolicy({ retention: ' 7 ' }).policy.retentionDays, 7);
    assert.equal(parsePolicy({ retention: '448d' }).policy.retentionDays, 448);
    assert.equal(parsePolicy({ retention: 1 }).policy.retentionDays, 1);
    assert.equal(parsePolicy({ retention: '64w' }).policy.retentionDays, 448);
  });

  it('rejects out of range and non-whole values, naming them', () => {
    rejects({ retention: '449d' }, 'retention range 449d is not allowed: use whole days from 1 to 448 (e.g. 5d, 2w or 30)');
    rejects({ retention: 0 }, /^retention range 0 is not allowed/);
    rejects({ retention: '65w' }, /^retention range 65w is not allowed/);
    rejects({ retention: 1.5 }, /^retention range 1\.5 is not allowed/);
    rejects({ retention: '36h' }, /^retention range 36h is not allowed/);
    rejects({ retention: 'five' }, /^retention range five is not allowed/);
    rejects({ retention: -3 }, /^retention range -3 is not allowed/);
  });
});

describe('synchronization frequency', () => {
  it('accepts the DPM frequencies in any unit', () => {
    assert.equal(parsePolicy({ sync: '15m' }).policy.syncMinutes, 15);
    assert.equal(parsePolicy({ sync: '1h' }).policy.syncMinutes, 60);
    assert.equal(parsePolicy({ sync: '24h' }).policy.syncMinutes, 1440);
    assert.equal(parsePolicy({ sync: '1d' }).policy.syncMinutes, 1440);
    assert.equal(parsePolicy({ sync: '120m' }).policy.syncMinutes, 120);
    assert.equal(parsePolicy({ sync: 360 }).policy.syncMinutes, 360);
    assert.equal(parsePolicy({ sync: '30' }).policy.syncMinutes, 30);
  });

  it('rejects other frequencies with the list of allowed ones', () => {
    rejects({ sync: '20m' }, 'synchronization frequency 20m is not allowed: use 15m, 30m, 1h, 2h, 4h, 6h, 12h or 24h');
    rejects({ sync: 20 }, 'synchronization frequency 20m is not allowed: use 15m, 30m, 1h, 2h, 4h, 6h, 12h or 24h');
    rejects({ sync: '3h' }, /^synchronization frequency 3h is not allowed/);
    rejects({ sync: '2d' }, /^synchronization frequency 2d is not allowed/);
    rejects({ sync: '900s' }, /^synchronization frequency 900s is not allowed/);
    rejects({ sync: 'often' }, /^synchronization frequency often is not allowed/);
  });
});

describe('recovery point times', () => {
  it('sorts and normalizes times', () => {
    assert.deepEqual(parsePolicy({ points: '20:00, 8:00,12:30' }).policy.pointTimes, ['08:00', '12:30', '20:00']);
    assert.deepEqual(parsePolicy({ points: ['23:59', '00:00'] }).policy.pointTimes, ['00:00', '23:59']);
  });

  it('allows 8 and rejects 9 with DPM\'s limit', () => {
    const eight = ['00:00', '03:00', '06:00', '09:00', '12:00', '15:00', '18:00', '21:00'];
    assert.deepEqual(parsePolicy({ points: eight.join(',') }).policy.pointTimes, eight);
    rejects({ points: [...eight, '22:00'] }, "at most 8 recovery point times a day (DPM's limit); got 9");
  });

  it('rejects duplicates, bad times and an empty list', () => {
    rejects({ points: '08:00,8:00' }, 'recovery point time 08:00 is listed twice: list each time once');
    rejects({ points: '24:00' }, 'recovery point time 24:00 is not a time: use HH:MM from 00:00 to 23:59');
    rejects({ points: '12:60' }, /^recovery point time 12:60 is not a time/);
    rejects({ points: 'noon' }, /^recovery point time noon is not a time/);
    rejects({ points: '' }, /^at least one recovery point time/);
    rejects({ points: [] }, /^at least one recovery point time/);
  });
});

describe('days', () => {
  it('accepts names, keywords and combinations, in mon..sun order', () => {
    assert.deepEqual(parsePolicy({ days: 'fri,mon' }).policy.days, ['mon', 'fri']);
    assert.deepEqual(parsePolicy({ days: 'weekdays' }).policy.days, ['mon', 'tue', 'wed', 'thu', 'fri']);
    assert.deepEqual(parsePolicy({ days: 'weekends' }).policy.days, ['sat', 'sun']);
    assert.deepEqual(parsePolicy({ days: 'daily' }).policy.days, ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
    assert.deepEqual(parsePolicy({ days: 'weekdays,Sat' }).policy.days, ['mon', 'tue', 'wed', 'thu', 'fri', 'sat']);
    assert.deepEqual(parsePolicy({ days: ['sunday', 'wed'] }).policy.days, ['wed', 'sun']);
    assert.deepEqual(parsePolicy({ days: 'mon-fri' }).policy.days, ['mon', 'tue', 'wed', 'thu', 'fri']);
    assert.deepEqual(parsePolicy({ days: 'Tue-Thu,sun' }).policy.days, ['tue', 'wed', 'thu', 'sun']);
    assert.deepEqual(parsePolicy({ days: 'fri-mon' }).policy.days, ['mon', 'fri', 'sat', 'sun'], 'across the end of the week');
    assert.deepEqual(parsePolicy({ days: 'wed-wed' }).policy.days, ['wed']);
  });

  it('rejects unknown days, duplicates and an empty set', () => {
    rejects({ days: 'mon,funday' }, 'day funday is not known: use mon, tue, wed, thu, fri, sat, sun, a range such as mon-fri, daily, weekdays or weekends');
    rejects({ days: 'mon-funday' }, /^day mon-funday is not known/);
    rejects({ days: 'weekdays-sun' }, /^day weekdays-sun is not known/);
    rejects({ days: 'mon-fri,wed' }, /^day wed is listed twice/);
    rejects({ days: 'mon,mon' }, /^day mon is listed twice/);
    rejects({ days: 'weekdays,tue' }, /^day tue is listed twice/);
    rejects({ days: '' }, /^at least one day is needed/);
    rejects({ days: 'toString' }, /^day toString is not known/);
  });
});

describe('excludes', () => {
  it('trims and drops repeats, keeping order', () => {
    assert.deepEqual(parsePolicy({ excludes: ['*.mp3', ' cache/ ', '*.mp3'] }).policy.excludes, ['*.mp3', 'cache/']);
  });
  it('rejects an empty glob', () => {
    rejects({ excludes: ['*.tmp', ' '] }, 'exclusion " " is not allowed: use a non-empty glob such as *.mp3 or cache/');
  });
});

describe('replica creation', () => {
  it('parses and formats each mode', () => {
    for (const text of ['now', 'later@22:30', 'manual']) {
      assert.equal(formatReplica(parsePolicy({ replica: text }).policy), text);
    }
    assert.deepEqual(parsePolicy({ replica: 'later@7:05' }).policy.replica, { mode: 'later', at: '07:05' });
  });
  it('rejects anything else', () => {
    rejects({ replica: 'later' }, 'replica creation later is not allowed: use now, later@HH:MM or manual');
    rejects({ replica: 'later@25:00' }, /^replica creation later@25:00 is not allowed/);
    rejects({ replica: 'tomorrow' }, /^replica creation tomorrow is not allowed/);
  });
});

describe('consistency check', () => {
  it('parses and formats each form', () => {
    for (const text of ['auto', 'daily@02:00', 'auto,daily@02:00', 'off']) {
      assert.equal(formatCheck(parsePolicy({ check: text }).policy), text);
    }
    assert.deepEqual(parsePolicy({ check: 'daily@3:15,auto' }).policy.check, { auto: true, dailyAt: '03:15' });
    assert.deepEqual(parsePolicy({ check: 'off' }).policy.check, { auto: false, dailyAt: null });
  });
  it('rejects anything else', () => {
    const allowed = 'is not allowed: use auto, daily@HH:MM, auto,daily@HH:MM or off';
    rejects({ check: 'weekly' }, `consistency check weekly ${allowed}`);
    rejects({ check: 'auto,auto' }, `consistency check auto,auto ${allowed}`);
    rejects({ check: 'daily@99:00' }, `consistency check daily@99:00 ${allowed}`);
    rejects({ check: 'auto,off' }, `consistency check auto,off ${allowed}`);
    rejects({ check: '' }, `consistency check (empty) ${allowed}`);
  });
});

describe('update with a base policy', () => {
  it('changes only the given fields', () => {
    const { policy: base } = parsePolicy({ retention: '2w', points: '08:00,20:00', days: 'weekdays', excludes: ['*.iso'], check: 'off' });
    const { policy } = parsePolicy({ sync: '1h' }, base);
    const expected: ProtectionPolicy = { ...base, syncMinutes: 60 };
    assert.deepEqual(policy, expected);
    assert.equal(policy.retentionDays, 14);
    assert.deepEqual(policy.days, ['mon', 'tue', 'wed', 'thu', 'fri']);
    assert.equal(formatCheck(policy), 'off');
  });

  it('a rejected update throws without a partial result', () => {
    const { policy: base } = parsePolicy({ retention: 10 });
    assert.throws(() => parsePolicy({ retention: 20, sync: '7m' }, base), /synchronization frequency 7m/);
    assert.equal(base.retentionDays, 10);
  });

  it('warns from the merged policy, not only the given fields', () => {
    const { policy: base } = parsePolicy({ points: '00:00,03:00,06:00,09:00,12:00,15:00,18:00,21:00' });
    assert.deepEqual(parsePolicy({}, base).warnings, []);
    assert.equal(parsePolicy({ retention: 9 }, base).warnings.length, 1);
  });
});

describe('the 64 recovery point warning', () => {
  const eight = '00:00,03:00,06:00,09:00,12:00,15:00,18:00,21:00';

  it('8 times a day, 7 days, 10 days keeps up to 80: warns', () => {
    const { policy, warnings } = parsePolicy({ points: eight, days: 'daily', retention: '10d' });
    assert.equal(recoveryPointsKept(policy), 80);
    assert.deepEqual(warnings, [
      "this schedule keeps up to 80 recovery points per data source; file data sources keep at most 64 (DPM's limit): the oldest are pruned early",
    ]);
  });

  it('8 times a day on weekdays for 11 days keeps 72 (a week and four weekdays): warns', () => {
    const { policy, warnings } = parsePolicy({ points: eight, days: 'weekdays', retention: '11d' });
    assert.equal(recoveryPointsKept(policy), 72);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^this schedule keeps up to 72 recovery points per data source/);
    // 8 days hold at most 6 weekdays (Mon..Fri and the next Mon): 48, no warning
    assert.equal(recoveryPointsKept(parsePolicy({ points: eight, days: 'weekdays', retention: 8 }).policy), 48);
  });

  it('exactly 64 does not warn; 65 does', () => {
    assert.deepEqual(parsePolicy({ points: eight, retention: 8 }).warnings, []);
    assert.equal(recoveryPointsKept(parsePolicy({ points: eight, retention: 8 }).policy), 64);
    assert.equal(recoveryPointsKept(parsePolicy({ retention: 65 }).policy), 65);
    assert.equal(parsePolicy({ retention: 65 }).warnings.length, 1);
  });

  it('counts only the scheduled weekdays, in the span that holds the most', () => {
    // 2 a day on weekdays for 30 days: four weeks and two more weekdays, 22 × 2
    assert.equal(recoveryPointsKept(parsePolicy({ points: '08:00,20:00', days: 'weekdays', retention: 30 }).policy), 44);
    // weekends only, 3 days: Saturday and Sunday
    assert.equal(recoveryPointsKept(parsePolicy({ days: 'weekends', retention: 3 }).policy), 2);
    // once a week, kept 1 day: the one point
    assert.equal(recoveryPointsKept(parsePolicy({ days: 'mon', retention: 1 }).policy), 1);
    // a point kept exactly 24 h is gone when the next day's is made: 1 a day for 1 day keeps 1
    assert.equal(recoveryPointsKept(parsePolicy({ retention: 1 }).policy), 1);
    // one a week for 448 days: 64
    const weekly = parsePolicy({ days: 'sun', retention: 448 });
    assert.equal(recoveryPointsKept(weekly.policy), 64);
    assert.deepEqual(weekly.warnings, []);
  });
});

describe('recoveryPointsKept against counting slot by slot', () => {
  it('equals the most slots in any retention span over four weeks of the calendar', () => {
    const WEEK = 7 * 1440;
    fc.assert(
      fc.property(
        fc.subarray(['00:00', '01:30', '03:00', '08:00', '12:00', '12:01', '20:00', '23:59'], { minLength: 1 }),
        fc.subarray([...WEEKDAYS], { minLength: 1 }),
        fc.integer({ min: 1, max: 21 }),
        (points, days, retention) => {
          const { policy } = parsePolicy({ points, days: [...days], retention });
          // every slot of weeks 0..3 as minutes since a Monday 00:00
          const slots: number[] = [];
          for (let week = 0; week < 4; week++) {
            WEEKDAYS.forEach((d, i) => {
              if (!policy.days.includes(d)) return;
              for (const t of policy.pointTimes) slots.push(week * WEEK + i * 1440 + Number(t.slice(0, 2)) * 60 + Number(t.slice(3)));
            });
          }
          const span = retention * 1440;
          // spans ending in the last week, so each looks back over whole weeks of slots
          const ends = slots.filter((s) => s >= 3 * WEEK);
          const most = Math.max(...ends.map((end) => slots.filter((s) => s > end - span && s <= end).length));
          assert.equal(recoveryPointsKept(policy), most);
        },
      ),
    );
  });
});
