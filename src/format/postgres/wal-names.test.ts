import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CustosError } from '../../base/index.js';
import {
  DEFAULT_SEGMENT_BYTES, formatLsn, historyFileName, isSegmentSize, parseHistory, parseHistoryFileName, parseLsn, parseSegmentFileName,
  segmentFileName, segmentOf, segmentStart, timelineAt,
} from './wal-names.js';

test('LSNs read and written as PostgreSQL does: HI/LO in hexadecimal', () => {
  assert.equal(parseLsn('16/B374D848'), 0x16b374d848n);
  assert.equal(parseLsn('0/0'), 0n);
  assert.equal(parseLsn('ffffffff/ffffffff'), (1n << 64n) - 1n);
  assert.equal(formatLsn(0x16b374d848n), '16/B374D848');
  assert.equal(formatLsn(0x3000060n), '0/3000060');
  for (const bad of ['', '16', '16/', '/1', '1/2/3', '123456789/0', '0/123456789', 'G/0', ' 0/0', '0/0 ', '-1/0', '0x1/0']) assert.equal(parseLsn(bad), null, bad);
  assert.throws(() => formatLsn(-1n), CustosError);
  assert.throws(() => formatLsn(1n << 64n), CustosError);
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (lsn) => parseLsn(formatLsn(lsn)) === lsn));
});

test('segment file names: timeline, log and segment; the examples PostgreSQL gives', () => {
  assert.equal(segmentFileName(segmentOf(1, 0x16b374d848n)), '0000000100000016000000B3');
  assert.equal(segmentFileName(segmentOf(1, 0x3000060n)), '000000010000000000000003');
  assert.equal(segmentFileName(segmentOf(2, 0xffffffffn)), '0000000200000000000000FF');
  assert.equal(segmentFileName(segmentOf(2, 0x100000000n)), '000000020000000100000000');
  // 1 GiB segments: four to a "log".
  assert.equal(segmentFileName(segmentOf(1, 0x1c0000000n, 1 << 30), 1 << 30), '000000010000000100000003');
  assert.equal(segmentStart(0x16b3n), 0x16b3000000n);
  assert.deepEqual(parseSegmentFileName('0000000100000016000000B3'), { timeline: 1, segno: 0x16b3n });
  for (const bad of ['0000000100000016000000b3', '0000000100000016000000B3.partial', '00000001.history', '000000010000001600000B3', '000000000000000000000001', '000000010000000000000100']) {
    assert.equal(parseSegmentFileName(bad), null, bad);
  }
  assert.equal(parseSegmentFileName('000000010000000000000004', 1 << 30), null, 'a 1 GiB segment size has segments 0 to 3 in a log');
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 0xffff_ffff }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.integer({ min: 20, max: 30 }),
    (timeline, lsn, bits) => {
      const size = 2 ** bits;
      const s = segmentOf(timeline, lsn, size);
      const name = segmentFileName(s, size);
      assert.match(name, /^[0-9A-F]{24}$/);
      assert.deepEqual(parseSegmentFileName(name, size), s);
      const start = segmentStart(s.segno, size);
      assert.ok(start <= lsn && lsn < start + BigInt(size));
    },
  ));
});

test('segment sizes: powers of two from 1 MiB to 1 GiB', () => {
  assert.ok(isSegmentSize(DEFAULT_SEGMENT_BYTES));
  for (const n of [1 << 20, 1 << 30]) assert.ok(isSegmentSize(n));
  for (const n of [0, 1 << 19, 2 ** 31, 3 << 20, 16.5 * 1024 * 1024]) assert.ok(!isSegmentSize(n), String(n));
  assert.throws(() => segmentOf(1, 0n, 3 << 20), /not a WAL segment size/);
  assert.throws(() => segmentOf(0, 0n), /not a timeline/);
});

test('history files: names, and their lines oldest first; a malformed one is refused', () => {
  assert.equal(historyFileName(2), '00000002.history');
  assert.equal(parseHistoryFileName('0000000A.history'), 10);
  for (const bad of ['00000000.history', '0000000a.history', '00000002.history.partial', '2.history']) assert.equal(parseHistoryFileName(bad), null, bad);
  const text = '1\t0/3000060\tno recovery target specified\n\n# a comment\n2\t0/5000000\tat restore point "custos-7"\n';
  const h = parseHistory(text, 3);
  assert.deepEqual(h, [
    { parent: 1, switchLsn: 0x3000060n, reason: 'no recovery target specified' },
    { parent: 2, switchLsn: 0x5000000n, reason: 'at restore point "custos-7"' },
  ]);
  assert.equal(timelineAt(h, 3, 0x3000000n), 1);
  assert.equal(timelineAt(h, 3, 0x3000060n), 2, 'the switch point begins the next timeline');
  assert.equal(timelineAt(h, 3, 0x6000000n), 3);
  assert.deepEqual(parseHistory('', 1), []);
  for (const [bad, why] of [
    ['x\t0/1\tr', /is not "PARENT/],
    ['3\t0/1\tr', /parent timeline 3 is not below 3/],
    ['0\t0/1\tr', /parent timeline 0/],
    ['1\t0/5\tr\n1\t0/6\tr', /does not follow/],
    ['1\t0/5\tr\n2\t0/4\tr', /is before/],
    ['1\t0/1/2\tr', /is not "PARENT/],
  ] as const) {
    assert.throws(() => parseHistory(bad, 3), why, bad);
  }
});
