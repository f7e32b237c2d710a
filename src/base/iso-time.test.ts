// ISO times with and without an offset; local ones in a zone with daylight
// saving time (set for this file only: node --test runs each file in its own process).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useTimeZone } from '../../test/helpers/time-zone.js';
import { parseIsoTime } from './iso-time.js';

useTimeZone('Europe/Berlin');

const iso = (text: string) => parseIsoTime(text)?.date.toISOString();

test('parseIsoTime: Z, offsets and local time, to the minute, second or millisecond', () => {
  assert.equal(iso('2026-12-01T17:00Z'), '2026-12-01T17:00:00.000Z');
  assert.equal(iso('2026-12-01T17:00:30+01:00'), '2026-12-01T16:00:30.000Z');
  assert.equal(iso('2026-12-01T17:00:30.5-02:30'), '2026-12-01T19:30:30.500Z');
  assert.equal(iso('2026-12-01T17:00:30.123456789Z'), '2026-12-01T17:00:30.123Z');
  assert.equal(iso('2026-12-01T17:00'), '2026-12-01T16:00:00.000Z', 'local: CET is +01:00');
  assert.equal(iso('2026-07-01 17:00'), '2026-07-01T15:00:00.000Z', 'local: CEST is +02:00; a space for the T');
  assert.deepEqual(parseIsoTime('2026-12-01T17:00')?.precision, 'minute');
  assert.deepEqual(parseIsoTime('2026-12-01T17:00:00Z')?.precision, 'second');
  assert.deepEqual(parseIsoTime('2026-12-01T17:00:00.0Z')?.precision, 'millisecond');
  assert.equal(parseIsoTime('2026-12-01T17:00')?.hasOffset, false);
  assert.equal(parseIsoTime('2026-12-01T17:00Z')?.hasOffset, true);
});

test('parseIsoTime: days and hours that do not exist, and anything not ISO, are refused', () => {
  for (const bad of [
    '2026-02-29T10:00Z', '2026-02-30T10:00', '2026-13-01T10:00Z', '2026-00-10T10:00Z', '2026-12-00T10:00Z',
    '2026-12-01T24:00Z', '2026-12-01T10:60Z', '2026-12-01T10:00:60Z', '2026-12-01T10:00+15:00', '2026-12-01T10:00+01:60',
    '2026-12-01', '17:00', '2026-12-01T17', '2026-12-01T17:00:00.1234567890Z', '0050-01-01T00:00Z', '1969-12-31T23:59Z',
    '2026-12-01T17:00Z ', ' 2026-12-01T17:00Z', '2026-12-01T17:00z', '+02026-12-01T17:00Z', '2026-12-01T17:00+0100',
    'yesterday', '', '2026-12-01T17:00Z'.repeat(1000), '２０２６-12-01T17:00Z', '2026-12-01T17:00\u0000Z',
    // 2026-03-29: clocks go from 02:00 to 03:00 in Berlin; 02:30 local does not exist
    '2026-03-29T02:30',
  ]) assert.equal(parseIsoTime(bad), undefined, JSON.stringify(bad.slice(0, 60)));
  assert.equal(iso('2024-02-29T10:00Z'), '2024-02-29T10:00:00.000Z', 'a leap day');
});

test('parseIsoTime: a local time the clocks pass twice is the first of the two', () => {
  // 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 happens at 00:30Z and again at 01:30Z.
  assert.equal(iso('2026-10-25T02:30'), '2026-10-25T00:30:00.000Z');
  assert.equal(iso('2026-10-25T02:30+01:00'), '2026-10-25T01:30:00.000Z', 'an offset picks the second');
});
