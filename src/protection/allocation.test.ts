import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { allocationLevel, defaultAllocation, grownAllocation, RECOVERY_POINT_ALLOWANCE_BYTES } from './allocation.js';

const GB = 1024 ** 3;
const MB = 1024 ** 2;

describe('defaultAllocation', () => {
  it('is data × 1.5 + data × days × 2 % + 1600 MB by default (DPM, file data)', () => {
    // 100 GB, 5 days: 150 GB + 10 GB + 1600 MB
    assert.equal(defaultAllocation({ dataBytes: 100 * GB, retentionDays: 5 }), 160 * GB + 1600 * MB);
    assert.equal(RECOVERY_POINT_ALLOWANCE_BYTES, 1600 * MB);
  });
  it('uses the given change rate', () => {
    // 100 GB, 30 days at 5 %: 150 GB + 150 GB + 1600 MB (the seeds' worked example for the RPV)
    assert.equal(defaultAllocation({ dataBytes: 100 * GB, dailyChangeRate: 0.05, retentionDays: 30 }), 300 * GB + 1600 * MB);
  });
  it('gives small data sources the fixed allowance and rounds up to whole bytes', () => {
    assert.equal(defaultAllocation({ dataBytes: 0, retentionDays: 5 }), 1600 * MB);
    assert.equal(defaultAllocation({ dataBytes: 1, retentionDays: 1 }), 1600 * MB + 2);
  });
  it('a fresh replica starts below the 80 % warning', () => {
    const data = 10 * GB;
    assert.equal(allocationLevel(data, defaultAllocation({ dataBytes: data, retentionDays: 1 })), 'ok');
  });
});

describe('allocationLevel', () => {
  it('warns at 80 % and is critical at 95 %', () => {
    assert.equal(allocationLevel(0, 1000), 'ok');
    assert.equal(allocationLevel(799, 1000), 'ok');
    assert.equal(allocationLevel(800, 1000), 'warning');
    assert.equal(allocationLevel(949, 1000), 'warning');
    assert.equal(allocationLevel(950, 1000), 'critical');
    assert.equal(allocationLevel(1200, 1000), 'critical');
  });
  it('treats a zero allocation as critical once anything is used', () => {
    assert.equal(allocationLevel(0, 0), 'ok');
    assert.equal(allocationLevel(1, 0), 'critical');
  });
});

describe('grownAllocation', () => {
  it('leaves the allocation below 90 % used', () => {
    assert.equal(grownAllocation(899, 1000), 1000);
    assert.equal(grownAllocation(0, 1000), 1000);
  });
  it('grows by 25 % at 90 %', () => {
    assert.equal(grownAllocation(900, 1000), 1250);
  });
  it('grows to leave 75 % used when 25 % is not enough', () => {
    assert.equal(grownAllocation(960, 1000), 1280);
    assert.equal(grownAllocation(1500, 1000), 2000);
    assert.equal(grownAllocation(1000, 1001), 1334);
  });
});
