// The calendar of recovery points, grouped by the CLI's local day (zone set
// for this file only: node --test runs each file in its own process).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useTimeZone } from '../../test/helpers/time-zone.js';
import { calendarDays, calendarMonth, monthLabel } from './point-calendar.js';

useTimeZone('Europe/Berlin');

test('calendarDays: local days of the month with their number of recovery points, in date order', () => {
  const times = [
    '2026-12-01T07:00:00.000Z',
    '2026-12-01T19:00:00.000Z',
    '2026-11-30T23:30:00.000Z', // 00:30 on 1 December in Berlin
    '2026-12-31T22:59:00.000Z', // 23:59 on 31 December
    '2026-12-31T23:00:00.000Z', // 00:00 on 1 January: next month
    '2026-11-30T22:59:00.000Z', // 23:59 on 30 November: last month
    '2026-12-15T12:00:00.000Z',
    'not a time',
  ];
  assert.deepEqual(calendarDays(times, { year: 2026, month: 12 }), [
    { date: '2026-12-01', recoveryPoints: 3 },
    { date: '2026-12-15', recoveryPoints: 1 },
    { date: '2026-12-31', recoveryPoints: 1 },
  ]);
  assert.deepEqual(calendarDays(times, { year: 2027, month: 1 }), [{ date: '2027-01-01', recoveryPoints: 1 }]);
  assert.deepEqual(calendarDays([], { year: 2026, month: 12 }), []);
});

test('calendarMonth: YYYY-MM, or the local month of now; anything else is a usage error', () => {
  assert.deepEqual(calendarMonth('2026-02', new Date()), { year: 2026, month: 2 });
  // 23:30 UTC on 31 December is already January in Berlin
  assert.deepEqual(calendarMonth(undefined, new Date('2026-12-31T23:30:00Z')), { year: 2027, month: 1 });
  assert.equal(monthLabel({ year: 2026, month: 3 }), '2026-03');
  for (const bad of ['2026-13', '2026-00', '2026-1', '26-01', '2026/01', '', '1969-12', '2026-01-01', 'x'.repeat(10_000)]) {
    assert.throws(() => calendarMonth(bad, new Date()), (e: Error & { code?: string }) => e.code === 'usage' && e.message.length < 200, JSON.stringify(bad.slice(0, 30)));
  }
});
