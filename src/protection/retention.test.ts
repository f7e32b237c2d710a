import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parsePolicy } from './policy.js';
import { pointsToPrune, type PointInfo } from './retention.js';

const at = (d: number, hh: number, mm = 0): Date => new Date(2024, 10, d, hh, mm); // November 2024, local
const rp = (id: string, time: Date): PointInfo => ({ id, time, recoveryPoint: true });
const sync = (id: string, time: Date): PointInfo => ({ id, time, recoveryPoint: false });
const fiveDays = parsePolicy({ retention: '5d' }).policy;

describe('pointsToPrune: whole days', () => {
  it('retention 5d on Nov 22 keeps Nov 18..22 and drops Nov 17 and earlier', () => {
    const points = [
      rp('nov16', at(16, 20)),
      rp('nov17-late', at(17, 23, 59)),
      rp('nov18-early', at(18, 0, 0)),
      rp('nov20', at(20, 20)),
      rp('nov22', at(22, 1)),
    ];
    assert.deepEqual(pointsToPrune(points, fiveDays, at(22, 2)), ['nov16', 'nov17-late']);
    // late in the same day: the same answer, pruning is by date
    assert.deepEqual(pointsToPrune(points, fiveDays, at(22, 23, 59)), ['nov16', 'nov17-late']);
    // the next day Nov 18 goes too
    assert.deepEqual(pointsToPrune(points, fiveDays, at(23, 0, 1)), ['nov16', 'nov17-late', 'nov18-early']);
  });

  it('retention 1d keeps only today', () => {
    const oneDay = parsePolicy({ retention: 1 }).policy;
    const points = [rp('y', at(21, 23, 59)), rp('t1', at(22, 0)), rp('t2', at(22, 20))];
    assert.deepEqual(pointsToPrune(points, oneDay, at(22, 21)), ['y']);
  });

  it('returns ids oldest first whatever the input order', () => {
    const points = [rp('c', at(22, 20)), rp('a', at(10, 20)), rp('b', at(12, 20))];
    assert.deepEqual(pointsToPrune(points, fiveDays, at(22, 21)), ['a', 'b']);
  });

  it('prunes nothing from nothing', () => {
    assert.deepEqual(pointsToPrune([], fiveDays, at(22, 21)), []);
  });
});

describe('pointsToPrune: the newest point is the replica', () => {
  it('never prunes the newest point, however old', () => {
    const points = [rp('old', at(1, 20)), rp('newest', at(2, 20))];
    assert.deepEqual(pointsToPrune(points, fiveDays, at(22, 21)), ['old']);
  });
  it('never prunes a replica-only newest point', () => {
    const points = [rp('old', at(1, 20)), sync('replica', at(2, 20))];
    assert.deepEqual(pointsToPrune(points, fiveDays, at(22, 21)), ['old']);
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

describe('pointsToPrune: properties', () => {
  it('keeps the newest point, at most 64 recovery points, and only ids it was given', () => {
    const day = 86_400_000;
    const base = at(22, 12).getTime();
    fc.assert(
      fc.property(
        fc.array(fc.record({ offset: fc.integer({ min: 0, max: 40 * day }), recoveryPoint: fc.boolean() }), { maxLength: 150 }),
        fc.integer({ min: 1, max: 448 }),
        (raw, retentionDays) => {
          const points = raw.map((r, i) => ({ id: `p${i}`, time: new Date(base - r.offset), recoveryPoint: r.recoveryPoint }));
          const policy = parsePolicy({ retention: retentionDays }).policy;
          const pruned = pointsToPrune(points, policy, new Date(base));
          const prunedSet = new Set(pruned);
          assert.equal(prunedSet.size, pruned.length);
          const kept = points.filter((p) => !prunedSet.has(p.id));
          if (points.length === 0) return assert.deepEqual(pruned, []);
          const newestTime = Math.max(...points.map((p) => p.time.getTime()));
          assert.ok(kept.some((p) => p.time.getTime() === newestTime));
          assert.ok(kept.filter((p) => p.recoveryPoint).length <= 64);
          assert.ok(kept.filter((p) => !p.recoveryPoint).length <= 1);
          // oldest first
          const times = pruned.map((id) => points.find((p) => p.id === id)!.time.getTime());
          assert.deepEqual(times, [...times].sort((a, b) => a - b));
        },
      ),
    );
  });
});
