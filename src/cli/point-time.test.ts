// `--at TIME` with a fake "now", in a zone with daylight saving time (set for
// this file only: node --test runs each file in its own process).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useTimeZone } from '../../test/helpers/time-zone.js';
import { CustosError } from '../base/index.js';
import { parsePointTime } from './point-time.js';

useTimeZone('Europe/Berlin');

const NOW = new Date('2026-12-02T09:15:00Z'); // 10:15 in Berlin
const at = (text: string, now = NOW) => {
  const r = parsePointTime(text, now);
  return r.latest ? 'latest' : r.at;
};

test('parsePointTime: latest, ISO times (local unless offset) and today/yesterday, each the last instant the text covers', () => {
  assert.equal(at('latest'), 'latest');
  assert.equal(at('2026-12-01T17:00'), '2026-12-01T16:00:59.999Z', 'to the minute: the whole minute, local time');
  assert.equal(at('2026-12-01T17:00:05'), '2026-12-01T16:00:05.999Z', 'to the second: the whole second');
  assert.equal(at('2026-12-01T17:00:05.250'), '2026-12-01T16:00:05.250Z');
  assert.equal(at('2026-12-01T17:00Z'), '2026-12-01T17:00:59.999Z');
  assert.equal(at('2026-12-01T17:00-05:00'), '2026-12-01T22:00:59.999Z');
  assert.equal(at('yesterday 17:00'), '2026-12-01T16:00:59.999Z');
  assert.equal(at('today 08:00'), '2026-12-02T07:00:59.999Z');
  assert.equal(at('today 8:05'), '2026-12-02T07:05:59.999Z');
  assert.equal(at(' yesterday 17:00 '), '2026-12-01T16:00:59.999Z', 'surrounding blanks are ignored');
});

test('parsePointTime: "yesterday" is the previous local calendar day, across a month, a year and a daylight saving change', () => {
  // 00:30 on 1 January in Berlin is still 31 December in UTC
  assert.equal(at('yesterday 12:00', new Date('2026-12-31T23:30:00Z')), '2026-12-31T11:00:59.999Z');
  assert.equal(at('today 12:00', new Date('2026-12-31T23:30:00Z')), '2027-01-01T11:00:59.999Z');
  assert.equal(at('yesterday 23:00', new Date('2026-03-01T10:00:00Z')), '2026-02-28T22:00:59.999Z');
  // the day after the spring change: yesterday 12:00 was in CEST (+02:00)
  assert.equal(at('yesterday 12:00', new Date('2026-03-30T10:00:00Z')), '2026-03-29T10:00:59.999Z');
});

test('parsePointTime: anything else is a usage error that says what a time looks like, and never echoes a huge text', () => {
  const bad = ['', 'now', 'tomorrow 08:00', 'yesterday', 'today 24:00', 'today 08:60', 'today 8', '2026-12-01', '2026-02-30T10:00',
    '2026-12-01T17:00+99:00', '17:00', 'LATEST!', '2026-12-01T17:00:00.1234567890Z', 'x'.repeat(100_000)];
  for (const text of bad) {
    assert.throws(() => parsePointTime(text, NOW), (e: unknown) => {
      assert.ok(e instanceof CustosError && e.code === 'usage', String(e));
      assert.ok(e.message.length < 400, 'short message');
      return true;
    }, JSON.stringify(text.slice(0, 40)));
  }
  assert.throws(() => parsePointTime('today 02:30', new Date('2026-03-29T10:00:00Z')), /does not exist/);
});
