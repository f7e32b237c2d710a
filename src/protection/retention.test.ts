// Times are built with new Date(y, m, d, hh, mm), i.e. in local time, so these
// pass in any TZ (no DST change between Nov 1 and Nov 30, 2024 in common
// zones). 2024-11-18 is a Monday. A week across a DST change:
// retention-dst.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parsePolicy } from './policy.js';
import { onDemandPointWarning, pointsToPrune, pruneDecisions, type PointInfo } from './retention.js';

const at = (d: number, hh: number, mm = 0): Date => new Date(2024, 10, d, hh, mm); // November 2024, local
const plusMs = (t: Date, ms: number): Date => new Date(t.getTime() + ms);
const rp = (id: string, time: Date): PointInfo => ({ id, time, recoveryPoint: true });
const sync = (id: string, time: Date): PointInfo => ({ id, time, recoveryPoint: false });
const DAY = 86_400_000;
const fiveDays = parsePolicy({ retention: '5d' }).policy;
const oneDay = parsePolicy({ retention: '1d' }).policy;
const twoDays = parsePolicy({ retention: '2d' }).policy;

describe('pointsToPrune: every recovery point is kept at least the retention range', () => {
  it('retention 1d: a 20:00 point survives midnight and goes only once more than 24 h old', () => {
    const points = [rp('mon20', at(18, 20)), sync('mon2345', at(18, 23, 45))];
    // midnight, 4 h later: kept (it is the only recovery point, and young)
    assert.deepEqual(pointsToPrune(points, oneDay, at(19, 0)), []);
    const withTuesday = [...points, rp('tue20', at(19, 20))];
    // Tuesday 20:00, exactly 24 h: still kept; a millisecond later it is older than the range
    assert.deepEqual(pointsToPrune(withTuesday, oneDay, at(19, 20)), ['mon2345']);
    assert.deepEqual(pointsToPrune(withTuesday, oneDay, plusMs(at(19, 20), 1)), ['mon20', 'mon2345']);
  });

  it('retention 2d on weekdays: Friday 20:00 is kept over the weekend, so a recovery point always exists', () => {
    // Thu Nov 21 and Fri Nov 22 20:00; synchronizations every 15 min after them
    const points = [rp('thu', at(21, 20)), rp('fri', at(22, 20)), sync('sat', at(23, 12)), sync('sat-late', at(23, 23, 45))];
    // Sunday 00:00: Thursday's is 52 h old and goes; Friday's is 28 h old and stays
    assert.deepEqual(pointsToPrune(points, twoDays, at(24, 0)), ['thu', 'sat']);
    // Monday 00:00: Friday's is 52 h old, but it is the newest recovery point
    assert.deepEqual(pointsToPrune(points, twoDays, at(25, 0)), ['thu', 'sat']);
    // once Monday's exists, Friday's (72 h old) goes
    const monday = [...points, rp('mon', at(25, 20))];
    assert.deepEqual(pointsToPrune(monday, twoDays, at(25, 20, 1)), ['thu', 'fri', 'sat', 'sat-late']);
  });

  it('retention 5d keeps what is at most 5 × 24 h old, whatever the time of day', () => {
    const now = at(22, 2);
    const points = [
      rp('old', at(10, 20)),
      rp('just-over', plusMs(now, -5 * DAY - 1)),
      rp('exactly', plusMs(now, -5 * DAY)),
      rp('nov20', at(20, 20)),
      rp('nov22', at(22, 1)),
    ];
    assert.deepEqual(pointsToPrune(points, fiveDays, now), ['old', 'just-over']);
    // an hour later 'exactly' is older than the range too
    assert.deepEqual(pointsToPrune(points, fiveDays, plusMs(now, 3_600_000)), ['old', 'just-over', 'exactly']);
  });

  it('returns ids oldest first whatever the input order', () => {
    const points = [rp('c', at(22, 20)), rp('a', at(10, 20)), rp('b', at(12, 20))];
    assert.deepEqual(pointsToPrune(points, fiveDays, at(22, 21)), ['a', 'b']);
  });

  it('prunes nothing from nothing', () => {
    assert.deepEqual(pointsToPrune([], fiveDays, at(22, 21)), []);
  });
});

describe('pointsToPrune: the newest point and the newest recovery point', () => {
  it('never prunes the newest point, however old', () => {
    const points = [rp('old', at(1, 20)), rp('newest', at(2, 20))];
    assert.deepEqual(pointsToPrune(points, fiveDays, at(22, 21)), ['old']);
  });
  it('never prunes a replica-only newest point', () => {
    const points = [rp('old', at(1, 20)), sync('replica', at(2, 20))];
    assert.deepEqual(pointsToPrune(points, fiveDays, at(22, 21)), []);
  });
  it('keeps the newest recovery point when a newer replica-only point exists, however old it is', () => {
    const points = [rp('old', at(1, 20)), rp('last', at(2, 20)), sync('s1', at(21, 20)), sync('replica', at(22, 20))];
    assert.deepEqual(pointsToPrune(points, fiveDays, at(22, 21)), ['old', 's1']);
  });
});

describe('pointsToPrune: replica-only points', () => {
  it('drops replica-only points older than the newest point, keeps recovery points in range', () => {
    const points = [
      rp('rp1', at(20, 20)),
      sync('s1', at(20, 20, 15)),
      sync('s2', at(20, 20, 30)),
      rp('rp2', at(21, 20)),
      sync('s3', at(21, 20, 15)),
    ];
    assert.deepEqual(pointsToPrune(points, fiveDays, at(21, 21)), ['s1', 's2']);
  });
  it('drops an older replica-only point once a recovery point is newer', () => {
    const points = [sync('s1', at(21, 19, 45)), rp('rp', at(21, 20))];
    assert.deepEqual(pointsToPrune(points, fiveDays, at(21, 21)), ['s1']);
  });
});

describe('pointsToPrune: the 64 recovery point cap', () => {
  // 8 a day for 10 days = 80 points, all within a 10-day retention range
  const policy = parsePolicy({ retention: 10, points: '00:00,03:00,06:00,09:00,12:00,15:00,18:00,21:00' }).policy;
  const points: PointInfo[] = [];
  for (let day = 13; day <= 22; day++) {
    for (let h = 0; h < 24; h += 3) points.push(rp(`d${day}h${h}`, at(day, h)));
  }

  it('keeps the newest 64 and drops the 16 oldest', () => {
    const pruned = pointsToPrune(points, policy, at(22, 22));
    assert.equal(pruned.length, 16);
    assert.deepEqual(pruned, points.slice(0, 16).map((p) => p.id));
    assert.equal(pruned.at(-1), 'd14h21');
  });

  it('does not count replica-only points towards the cap', () => {
    const withSync = [...points, sync('s-newest', at(22, 21, 30))];
    const pruned = pointsToPrune(withSync, policy, at(22, 22));
    assert.deepEqual(pruned, points.slice(0, 16).map((p) => p.id));
  });

  it('takes a larger cap for application data sources', () => {
    assert.deepEqual(pointsToPrune(points, policy, at(22, 22), { maxRecoveryPoints: 512 }), []);
  });
});

describe('pruneDecisions: reasons', () => {
  it('says why each point goes: expired, over the limit, or superseded', () => {
    const points = [rp('expired', at(1, 20)), rp('a', at(20, 20)), rp('b', at(21, 20)), rp('c', at(22, 20)), sync('s', at(22, 20, 15)), sync('replica', at(22, 20, 30))];
    assert.deepEqual(pruneDecisions(points, fiveDays, at(22, 21), { maxRecoveryPoints: 2 }), [
      { id: 'expired', reason: 'expired' },
      { id: 'a', reason: 'over-limit' },
      { id: 's', reason: 'superseded' },
    ]);
  });
});

describe('onDemandPointWarning', () => {
  const days = (n: number): Date[] => Array.from({ length: n }, (_, i) => at(22 - (i % 20), 20 - Math.floor(i / 20)));
  it('says nothing while one more recovery point fits under the limit', () => {
    assert.equal(onDemandPointWarning('lap:fs:/home', [], 64), null);
    assert.equal(onDemandPointWarning('lap:fs:/home', days(63), 64), null);
  });
  it('at the limit, names the oldest recovery point, which goes when the new one is made', () => {
    const held = days(64);
    const oldest = new Date(Math.min(...held.map((d) => d.getTime())));
    assert.equal(
      onDemandPointWarning('lap:fs:/home', held, 64),
      `lap:fs:/home already has 64 recovery points, the most kept for a file data source (64, DPM's limit): when this one is made, the oldest (${oldest.toISOString()}) is pruned`,
    );
  });
  it('over the limit (pruning not yet run), says how many go', () => {
    assert.match(onDemandPointWarning('s', days(66), 64)!, /^s already has 66 recovery points, .*: when this one is made, the oldest 3 \(from .* on\) are pruned$/);
  });
});

describe('pointsToPrune: properties', () => {
  it('keeps the newest point, the newest recovery point, every recovery point within the range up to 64, and only ids it was given', () => {
    const base = at(22, 12).getTime();
    fc.assert(
      fc.property(
        fc.array(fc.record({ offset: fc.integer({ min: 0, max: 40 * DAY }), recoveryPoint: fc.boolean() }), { maxLength: 150 }),
        fc.integer({ min: 1, max: 448 }),
        (raw, retentionDays) => {
          const points = raw.map((r, i) => ({ id: `p${i}`, time: new Date(base - r.offset), recoveryPoint: r.recoveryPoint }));
          const policy = parsePolicy({ retention: retentionDays }).policy;
          const pruned = pointsToPrune(points, policy, new Date(base));
          const prunedSet = new Set(pruned);
          assert.equal(prunedSet.size, pruned.length);
          assert.ok(pruned.every((id) => points.some((p) => p.id === id)));
          if (points.length === 0) return assert.deepEqual(pruned, []);
          const kept = points.filter((p) => !prunedSet.has(p.id));
          const newestTime = Math.max(...points.map((p) => p.time.getTime()));
          assert.ok(kept.some((p) => p.time.getTime() === newestTime), 'the newest point is kept');
          const rps = points.filter((p) => p.recoveryPoint);
          const keptRps = kept.filter((p) => p.recoveryPoint);
          if (rps.length > 0) {
            const newestRp = Math.max(...rps.map((p) => p.time.getTime()));
            assert.ok(keptRps.some((p) => p.time.getTime() === newestRp), 'the newest recovery point is kept');
          }
          assert.ok(keptRps.length <= 64);
          assert.ok(kept.filter((p) => !p.recoveryPoint).length <= 1);
          // a recovery point within the range goes only when 64 newer ones are kept
          const inRange = (p: PointInfo) => base - p.time.getTime() <= retentionDays * DAY;
          for (const p of rps.filter((q) => prunedSet.has(q.id) && inRange(q))) {
            assert.equal(keptRps.length, 64, `${p.id} is in range but was pruned`);
            assert.ok(keptRps.every((k) => k.time.getTime() >= p.time.getTime()));
          }
          // a kept recovery point out of range is the newest one
          assert.ok(keptRps.filter((p) => !inRange(p)).length <= 1);
          // oldest first
          const times = pruned.map((id) => points.find((p) => p.id === id)!.time.getTime());
          assert.deepEqual(times, [...times].sort((a, b) => a - b));
        },
      ),
    );
  });
});
