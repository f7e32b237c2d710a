import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../base/clock.js';
import { UserError } from '../base/errors.js';
import { useTimeZone } from '../../test/helpers/time-zone.js';
import { formatThrottle, inWindow, parseRate, parseThrottle, rateAt, ThrottleBucket } from './throttle.js';

useTimeZone('Europe/Paris');

const MiB = 1024 * 1024;

function refused(texts: string[], message: RegExp): void {
  assert.throws(() => parseThrottle(texts), (err: unknown) => err instanceof UserError && err.code === 'usage' && message.test(err.message));
}

describe('parseRate', () => {
  it('takes binary and decimal units, with or without /s', () => {
    assert.equal(parseRate('20MiB/s'), 20 * MiB);
    assert.equal(parseRate('500KiB/s'), 500 * 1024);
    assert.equal(parseRate('1.5GiB/s'), 1.5 * 1024 ** 3);
    assert.equal(parseRate('2MB/s'), 2_000_000);
    assert.equal(parseRate('4096'), 4096);
    assert.equal(parseRate(' 3mib '), 3 * MiB);
  });
  it('refuses what is not a rate, and rates below 1KiB/s', () => {
    for (const bad of ['', 'fast', '20 MiBs/s', '-5MiB/s', '1e6', '20XiB/s']) assert.throws(() => parseRate(bad), /is not a rate/);
    assert.throws(() => parseRate('100B/s'), /below the lowest/);
  });
});

describe('parseThrottle', () => {
  it('a plain rate and windowed ones; days optional', () => {
    const rules = parseThrottle(['20MiB/s', '5MiB/s@mon-fri,08:00-18:00', '1MiB/s@22:00-06:00']);
    assert.deepEqual(rules, [
      { bytesPerSecond: 20 * MiB },
      { bytesPerSecond: 5 * MiB, window: { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '08:00', to: '18:00' } },
      { bytesPerSecond: 1 * MiB, window: { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '22:00', to: '06:00' } },
    ]);
    assert.deepEqual(formatThrottle(rules), ['20MiB/s', '5MiB/s@mon,tue,wed,thu,fri,08:00-18:00', '1MiB/s@22:00-06:00']);
  });
  it('day ranges across the end of the week, and lists', () => {
    assert.deepEqual(parseThrottle(['5MiB/s@fri-mon,09:00-17:00'])[0]!.window!.days, ['mon', 'fri', 'sat', 'sun']);
    assert.deepEqual(parseThrottle(['5MiB/s@mon,wed,9:00-17:00'])[0]!.window, { days: ['mon', 'wed'], from: '09:00', to: '17:00' });
  });
  it('refuses two plain rates, bad windows and unknown days', () => {
    refused(['20MiB/s', '10MiB/s'], /only one rate without a window/);
    refused(['5MiB/s@mon-fri'], /time range such as 08:00-18:00/);
    refused(['5MiB/s@mon-fri,08:00-25:00'], /25:00 is not a time/);
    refused(['5MiB/s@mon-fri,08:00-08:00'], /is empty/);
    refused(['5MiB/s@someday,08:00-18:00'], /day someday is not known/);
    refused(['fast@mon,08:00-18:00'], /is not a rate/);
  });
});

describe('rateAt', () => {
  const rules = parseThrottle(['20MiB/s', '5MiB/s@mon-fri,08:00-18:00', '2MiB/s@fri-sat,22:00-02:00']);
  // 2026-12-07 is a Monday; local times (Europe/Paris).
  const at = (iso: string) => new Date(iso);
  it('a windowed rate in its window (local time), the plain one outside', () => {
    assert.equal(rateAt(rules, at('2026-12-07T08:00:00')), 5 * MiB);
    assert.equal(rateAt(rules, at('2026-12-07T17:59:59')), 5 * MiB);
    assert.equal(rateAt(rules, at('2026-12-07T18:00:00')), 20 * MiB);
    assert.equal(rateAt(rules, at('2026-12-07T07:59:00')), 20 * MiB);
    assert.equal(rateAt(rules, at('2026-12-12T12:00:00')), 20 * MiB); // Saturday
  });
  it('a window past midnight belongs to the day it opens', () => {
    assert.equal(rateAt(rules, at('2026-12-11T23:00:00')), 2 * MiB); // Friday night
    assert.equal(rateAt(rules, at('2026-12-12T01:00:00')), 2 * MiB); // Saturday early: Friday's window
    assert.equal(rateAt(rules, at('2026-12-14T01:00:00')), 20 * MiB); // Monday early: Sunday has no window
    assert.equal(rateAt(rules, at('2026-12-13T01:00:00')), 2 * MiB); // Sunday early: Saturday's window
  });
  it('no rules: no limit; only windows: no limit outside them', () => {
    assert.equal(rateAt([], at('2026-12-07T12:00:00')), null);
    assert.equal(rateAt(parseThrottle(['5MiB/s@mon,08:00-18:00']), at('2026-12-08T12:00:00')), null);
    assert.ok(inWindow({ days: ['mon'], from: '08:00', to: '18:00' }, at('2026-12-07T12:00:00')));
  });
});

describe('ThrottleBucket', () => {
  it('lets one second of bytes through, then makes the writer wait the rate out', () => {
    const clock = new ManualClock(new Date('2026-12-07T12:00:00'));
    const bucket = new ThrottleBucket(parseThrottle(['1MiB/s']), clock);
    assert.equal(bucket.take(MiB), 0); // the burst
    assert.equal(bucket.take(MiB / 2), 500); // half a second of debt
    clock.advance(500);
    assert.equal(bucket.take(MiB / 4), 250);
    clock.advance(10_000); // refills up to one second only
    assert.equal(bucket.take(MiB), 0);
    assert.equal(bucket.take(1024), 1);
  });
  it('over a long run, bytes taken ≈ rate × time', () => {
    const clock = new ManualClock(new Date('2026-12-07T12:00:00'));
    const bucket = new ThrottleBucket(parseThrottle(['2MiB/s']), clock);
    let written = 0;
    const start = clock.now().getTime();
    while (clock.now().getTime() - start < 60_000) {
      const wait = bucket.take(100_000);
      written += 100_000;
      clock.advance(wait);
    }
    // The one-second burst plus 60 s at the rate, give or take the last take.
    assert.ok(written <= 2 * MiB * 61 + 100_000 && written >= 2 * MiB * 60, `${written} bytes in 60 s`);
  });
  it('follows the rate in force as the clock enters and leaves a window', () => {
    const clock = new ManualClock(new Date('2026-12-07T07:59:59'));
    const bucket = new ThrottleBucket(parseThrottle(['5MiB/s@mon-fri,08:00-18:00']), clock);
    assert.equal(bucket.take(100 * MiB), 0); // unlimited before 08:00
    clock.advance(1000);
    assert.equal(bucket.take(10 * MiB), 1000); // 5 MiB burst, 5 MiB of debt at 5 MiB/s
    clock.set(new Date('2026-12-07T18:00:00'));
    assert.equal(bucket.take(100 * MiB), 0);
    assert.equal(new ThrottleBucket([], clock).limited, false);
  });
});
