/**
 * `custos point list --calendar`: the days of a month that have recovery
 * points and how many (the dates DPM shows in bold). Days are this
 * computer's local days (the CLI's time zone, as every time the CLI prints),
 * not the server's or the schedule's: a point made at 23:30 on the server
 * may fall on the next day here.
 */
import { CustosError } from '../base/index.js';

export interface CalendarMonth {
  readonly year: number;
  /** 1 to 12 */
  readonly month: number;
}

export interface CalendarDay {
  /** local date, YYYY-MM-DD */
  readonly date: string;
  readonly recoveryPoints: number;
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** `--month YYYY-MM`, or (without it) the local month of `now`. */
export function calendarMonth(text: string | undefined, now: Date): CalendarMonth {
  if (text === undefined) return { year: now.getFullYear(), month: now.getMonth() + 1 };
  const m = /^([0-9]{4})-(0[1-9]|1[0-2])$/.exec(text);
  if (!m || Number(m[1]) < 1970) {
    const shown = text.length > 20 ? `${text.slice(0, 20)}…` : text;
    throw new CustosError('usage', `--month ${JSON.stringify(shown)} is not a month: give YYYY-MM, e.g. 2026-12`);
  }
  return { year: Number(m[1]), month: Number(m[2]) };
}

export function monthLabel(m: CalendarMonth): string {
  return `${m.year}-${pad2(m.month)}`;
}

/** The local days of `month` with recovery points, in date order, each with its count; days without points are left out. */
export function calendarDays(times: readonly string[], month: CalendarMonth): CalendarDay[] {
  const counts = new Map<string, number>();
  for (const time of times) {
    const d = new Date(time);
    if (Number.isNaN(d.getTime()) || d.getFullYear() !== month.year || d.getMonth() + 1 !== month.month) continue;
    const date = `${monthLabel(month)}-${pad2(d.getDate())}`;
    counts.set(date, (counts.get(date) ?? 0) + 1);
  }
  return [...counts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([date, recoveryPoints]) => ({ date, recoveryPoints }));
}
