// Local times in a zone with daylight saving time: the zone is set for this
// file only (node --test runs each file in a process of its own).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useTimeZone } from '../../test/helpers/time-zone.js';
import { shortTime } from './server-cli.js';

useTimeZone('Europe/Berlin');

test('shortTime: local time, and the offset within an hour of a daylight saving change, so the repeated hour is told apart', () => {
  assert.equal(shortTime('2026-07-01T18:00:00Z'), '2026-07-01 20:00');
  // 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
  assert.equal(shortTime('2026-10-25T00:30:00Z'), '2026-10-25 02:30 +02:00');
  assert.equal(shortTime('2026-10-25T01:30:00Z'), '2026-10-25 02:30 +01:00');
  assert.equal(shortTime('2026-10-25T05:00:00Z'), '2026-10-25 06:00');
  assert.equal(shortTime(null), '-');
  assert.equal(shortTime('not a time'), 'not a time');
});
