import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { PostgresPointMeta } from './point-meta.js';
import { walChainProblems, type WalFile } from './wal-chain.js';

const SEG = 16 << 20;
/** A log point over segments 0x10 … 0x14 of timeline 1, its WAL ending 0x60 bytes into 0x14; its base stopped in 0x11. */
const LOG: PostgresPointMeta = {
  kind: 'postgres', point: 'log', logMode: 'logs', version: 150018, systemIdentifier: '7716592498700678075', walSegmentSize: SEG, blockSize: 8192, timeline: 1,
  startLsn: '0/10000028', stopLsn: '0/11000100', startTime: '2026-12-08T00:00:00Z', stopTime: '2026-12-08T00:00:05Z', dataChecksums: false,
  walSegments: ['000000010000000000000010', '000000010000000000000014'],
  base: 'a'.repeat(32), walEnd: '0/14000060', marker: { name: 'custos-job-7', lsn: '0/14000030', xid: '900', time: '2026-12-08T00:15:00Z' },
};
const name = (segno: number) => `0000000100000000000000${segno.toString(16).toUpperCase().padStart(2, '0')}`;
const whole = (): WalFile[] => [0x10, 0x11, 0x12, 0x13].map((s) => ({ name: name(s), size: SEG })).concat([{ name: name(0x14), size: 0x60 }]);

test('a whole chain: no problem, replayable to its end', () => {
  const r = walChainProblems(LOG, whole());
  assert.deepEqual(r.problems, []);
  assert.equal(r.replayableTo, 0x14000060n);
  assert.equal(r.recoverable, true);
  // The last segment may be whole too, and the timeline's history may be there.
  assert.deepEqual(walChainProblems(LOG, [...whole().slice(0, 4), { name: name(0x14), size: SEG }, { name: '00000001.history', size: 40 }]).problems, []);
  // A full: its stop's segment.
  const full: PostgresPointMeta = { ...LOG, point: 'full', walSegments: ['000000010000000000000010', '000000010000000000000011'], base: undefined, walEnd: undefined, marker: undefined };
  assert.deepEqual(walChainProblems(full, whole().slice(0, 2)).problems, []);
});

test('a missing segment after the base: a gap; the point replays up to it', () => {
  const files = whole().filter((f) => f.name !== name(0x13));
  const r = walChainProblems(LOG, files);
  assert.deepEqual(r.problems, [`WAL segment ${name(0x13)} is missing`]);
  assert.equal(r.replayableTo, 0x13000000n);
  assert.equal(r.recoverable, true);
});

test("a gap inside the base backup's WAL: the point cannot be recovered at all", () => {
  const r = walChainProblems(LOG, whole().filter((f) => f.name !== name(0x11) && f.name !== name(0x12)));
  assert.deepEqual(r.problems, [`WAL segments ${name(0x11)} to ${name(0x12)} are missing (2)`]);
  assert.equal(r.replayableTo, 0x11000000n);
  assert.equal(r.recoverable, false);
});

test('short, unreadable, foreign and out-of-range files are named', () => {
  const files = whole();
  files[2] = { name: name(0x12), size: SEG, readable: 3 << 20 };
  files[4] = { name: name(0x14), size: 0x20 };
  const r = walChainProblems(LOG, [...files, { name: name(0x15), size: SEG }, { name: '000000020000000000000013', size: SEG }, { name: 'core', size: 1 }, { name: '00000002.history', size: 1 }]);
  assert.deepEqual(r.problems, [
    `wal/${name(0x15)} is outside the point's WAL (${name(0x10)} to ${name(0x14)})`,
    'wal/000000020000000000000013 is on timeline 2, not the point\'s 1',
    'wal/core is not a WAL segment or the history of timeline 1',
    'wal/00000002.history is not a WAL segment or the history of timeline 1',
    `WAL segment ${name(0x12)} can be read only to byte ${3 << 20} of ${SEG}: the rest is missing from the pool`,
    `WAL segment ${name(0x14)} holds 32 bytes; the point's WAL ends at 0/14000060, byte 96 of it`,
  ]);
  assert.equal(r.replayableTo, 0x12300000n);
  // A segment before the last that is not whole.
  assert.deepEqual(walChainProblems(LOG, whole().map((f) => (f.name === name(0x10) ? { ...f, size: SEG - 1 } : f))).problems,
    [`WAL segment ${name(0x10)} holds ${SEG - 1} bytes, not ${SEG}`]);
  // Nothing at all.
  assert.deepEqual(walChainProblems(LOG, []).problems, [`WAL segments ${name(0x10)} to ${name(0x14)} are missing (5)`]);
});

test('property: replayableTo is the start of the first missing segment, or the end when none is', () => {
  fc.assert(fc.property(fc.subarray([0x10, 0x11, 0x12, 0x13, 0x14]), (kept) => {
    const files = whole().filter((f) => kept.includes(Number.parseInt(f.name.slice(16), 16)));
    const r = walChainProblems(LOG, files);
    const firstMissing = [0x10, 0x11, 0x12, 0x13, 0x14].find((s) => !kept.includes(s));
    assert.equal(r.replayableTo, firstMissing === undefined ? 0x14000060n : BigInt(firstMissing) * BigInt(SEG));
    assert.equal(r.problems.length === 0, firstMissing === undefined);
    assert.equal(r.recoverable, firstMissing === undefined || firstMissing >= 0x12);
  }));
});

test('a range of millions of segments with a few present is walked by its runs, and at most 20 problems are named', () => {
  const wide: PostgresPointMeta = { ...LOG, walSegments: [name(0x10), 'FFFFFFFF'.replace(/.*/, '0000000100FFFFFF000000FF')], walEnd: 'FFFFFF/FF000060' };
  const files = Array.from({ length: 40 }, (_, i) => ({ name: name(0x10 + 2 * i), size: SEG }));
  const r = walChainProblems(wide, files);
  assert.equal(r.problems.length, 21);
  assert.equal(r.problems.at(-1), '… and more');
  assert.equal(r.replayableTo, 0x11000000n);
});
