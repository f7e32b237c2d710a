/**
 * Recovery throttling: what `--throttle` takes ("20MiB/s", and windowed
 * rates such as "5MiB/s@mon-fri,08:00-18:00") and the token bucket that
 * holds the restore writer to the rate in force. Pure: the bucket reads the
 * time through a Clock (tests use ManualClock) and answers how long to wait;
 * the caller does the waiting.
 *
 * Which rate is in force: the lowest of the windowed rates whose window
 * holds the local time now (the agent's time zone), else the plain rate,
 * else none (no limit).
 */
import { UserError } from '../base/errors.js';
import type { Clock } from '../base/clock.js';
import { parseSize } from '../base/units.js';
import { parseDays, parseTimeOfDay, WEEKDAYS, type Weekday } from './policy.js';

export interface ThrottleWindow {
  /** Days on which the window opens (mon..sun order). */
  readonly days: readonly Weekday[];
  /** 'HH:MM' local time, inclusive. */
  readonly from: string;
  /** 'HH:MM' local time, exclusive; earlier than `from`: the window runs past midnight into the next day. */
  readonly to: string;
}

export interface ThrottleRule {
  readonly bytesPerSecond: number;
  /** Absent: the rate outside every window (at most one such rule). */
  readonly window?: ThrottleWindow;
}

/** At most this many rules (one plain rate and windowed ones). */
export const MAX_THROTTLE_RULES = 16;
/** Rates below 1 KiB/s would make a recovery of a few files take hours: refused as a typo. */
export const MIN_THROTTLE_RATE = 1024;

/** "20MiB/s", "500KB/s", "1.5GiB/s", "2MiB" (per second understood) → bytes per second; the units are parseSize's. */
export function parseRate(text: string): number {
  const rate = parseSize(text.trim().replace(/\/s$/i, ''));
  if (rate === undefined) {
    throw new UserError('usage', `throttle rate ${JSON.stringify(text)} is not a rate: use a number and a unit per second, e.g. 20MiB/s, 500KiB/s or 1GB/s`);
  }
  if (rate < MIN_THROTTLE_RATE) throw new UserError('usage', `throttle rate ${text} is below the lowest allowed (1KiB/s)`);
  return rate;
}

function requireTime(text: string, rule: string): string {
  const t = parseTimeOfDay(text);
  if (t === undefined) throw new UserError('usage', `throttle ${rule}: ${text} is not a time: use HH:MM from 00:00 to 23:59`);
  return t;
}

/** "mon-fri,08:00-18:00" (days optional: "08:00-18:00" is every day). */
function parseWindow(text: string, rule: string): ThrottleWindow {
  const parts = text.split(',').map((s) => s.trim());
  const hours = /^(\d{1,2}:\d{2})-(\d{1,2}:\d{2})$/.exec(parts.pop() ?? '');
  if (!hours) throw new UserError('usage', `throttle ${rule}: the window must end in a time range such as 08:00-18:00 (e.g. 5MiB/s@mon-fri,08:00-18:00)`);
  const from = requireTime(hours[1]!, rule);
  const to = requireTime(hours[2]!, rule);
  if (from === to) throw new UserError('usage', `throttle ${rule}: the window ${from}-${to} is empty`);
  const days = parts.length === 0 ? [...WEEKDAYS] : parseDays(parts);
  return { days, from, to };
}

/** The `--throttle` values (repeatable) as rules: at most one plain rate, any number of windowed ones. */
export function parseThrottle(texts: readonly string[]): ThrottleRule[] {
  if (texts.length > MAX_THROTTLE_RULES) throw new UserError('usage', `at most ${MAX_THROTTLE_RULES} --throttle rates`);
  const rules: ThrottleRule[] = [];
  for (const text of texts) {
    const at = text.indexOf('@');
    const rate = parseRate(at < 0 ? text : text.slice(0, at));
    if (at < 0) {
      if (rules.some((r) => r.window === undefined)) throw new UserError('usage', `--throttle ${text}: only one rate without a window (@days,HH:MM-HH:MM) may be given`);
      rules.push({ bytesPerSecond: rate });
    } else {
      rules.push({ bytesPerSecond: rate, window: parseWindow(text.slice(at + 1), text) });
    }
  }
  return rules;
}

/** The rules as `--throttle` would take them (for logs and job details). */
export function formatThrottle(rules: readonly ThrottleRule[]): string[] {
  return rules.map((r) => {
    const rate = formatRate(r.bytesPerSecond);
    if (!r.window) return rate;
    const days = r.window.days.length === 7 ? '' : `${r.window.days.join(',')},`;
    return `${rate}@${days}${r.window.from}-${r.window.to}`;
  });
}

function formatRate(bytesPerSecond: number): string {
  for (const [unit, f] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytesPerSecond >= f && bytesPerSecond % f === 0) return `${bytesPerSecond / f}${unit}/s`;
  }
  return `${bytesPerSecond}B/s`;
}

const minutesOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
/** Date.getDay() (0 = Sunday) → our weekday names. */
const BY_GET_DAY: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** Whether the local time `at` is inside the window (a window past midnight belongs to the day it opens). */
export function inWindow(w: ThrottleWindow, at: Date): boolean {
  const minute = at.getHours() * 60 + at.getMinutes();
  const from = minutesOf(w.from);
  const to = minutesOf(w.to);
  const today = BY_GET_DAY[at.getDay()]!;
  if (from < to) return w.days.includes(today) && minute >= from && minute < to;
  const yesterday = BY_GET_DAY[(at.getDay() + 6) % 7]!;
  return (w.days.includes(today) && minute >= from) || (w.days.includes(yesterday) && minute < to);
}

/** The rate in force at local time `at`, in bytes per second; null: no limit. */
export function rateAt(rules: readonly ThrottleRule[], at: Date): number | null {
  let windowed: number | null = null;
  for (const r of rules) if (r.window && inWindow(r.window, at)) windowed = Math.min(windowed ?? Infinity, r.bytesPerSecond);
  return windowed ?? rules.find((r) => r.window === undefined)?.bytesPerSecond ?? null;
}

/**
 * A token bucket over the rate in force: it holds up to one second of
 * bytes (the burst), fills at the rate, and a take beyond what it holds
 * goes into debt that the caller waits out. take() answers the wait in
 * milliseconds (0: go on) and never sleeps itself.
 */
export class ThrottleBucket {
  private tokens: number | null = null;
  private last: number;

  constructor(private readonly rules: readonly ThrottleRule[], private readonly clock: Clock) {
    this.last = clock.now().getTime();
  }

  /** Whether any rule is set (without rules the bucket always answers 0). */
  get limited(): boolean {
    return this.rules.length > 0;
  }

  /** Takes `bytes`; returns how long to wait before writing them (ms). */
  take(bytes: number): number {
    const now = this.clock.now();
    const elapsed = Math.max(0, now.getTime() - this.last);
    this.last = now.getTime();
    const rate = rateAt(this.rules, now);
    if (rate === null) {
      this.tokens = null;
      return 0;
    }
    const tokens = Math.min(rate, (this.tokens ?? rate) + (elapsed * rate) / 1000) - bytes;
    this.tokens = tokens;
    return tokens >= 0 ? 0 : Math.ceil((-tokens * 1000) / rate);
  }
}
