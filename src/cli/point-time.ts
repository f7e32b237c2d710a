/**
 * `--at TIME`: which recovery point a person means by a time. TIME is
 * `latest`, an ISO time (`2026-12-01T17:00`, seconds and an offset
 * optional; without an offset it is this computer's local time), or
 * `today HH:MM` / `yesterday HH:MM` (local). The server picks the newest
 * recovery point at or before the instant sent; a time given to the minute
 * stands for the whole minute (so `17:00` finds the point `custos point list`
 * shows as 17:00 even if it was made at 17:00:12), a time to the second for
 * the whole second.
 */
import { CustosError, parseIsoTime, type TimePrecision } from '../base/index.js';

export type PointTime = { readonly latest: true } | { readonly latest: false; readonly at: string };

const RELATIVE = /^(today|yesterday) ([0-9]{1,2}):([0-9]{2})$/;
const SPAN: Record<TimePrecision, number> = { minute: 60_000, second: 1000, millisecond: 1 };

/** The `--at` text as `latest` or an ISO UTC instant (the last millisecond the text covers); `now` is the local clock. */
export function parsePointTime(text: string, now: Date): PointTime {
  const t = text.trim();
  if (t === 'latest') return { latest: true };
  const rel = RELATIVE.exec(t);
  if (rel) {
    const hour = Number(rel[2]);
    const minute = Number(rel[3]);
    if (hour > 23 || minute > 59) throw bad(text);
    const day = new Date(now.getFullYear(), now.getMonth(), now.getDate() - (rel[1] === 'yesterday' ? 1 : 0));
    const pad = (n: number) => String(n).padStart(2, '0');
    // The same checks as any local ISO time: a time a daylight saving change skips does not exist.
    const local = parseIsoTime(`${day.getFullYear()}-${pad(day.getMonth() + 1)}-${pad(day.getDate())}T${pad(hour)}:${pad(minute)}`);
    if (!local) throw new CustosError('usage', `--at ${t}: that local time does not exist (a daylight saving change skips it); give an offset, e.g. 2026-03-29T03:00+02:00`);
    return { latest: false, at: new Date(local.date.getTime() + SPAN.minute - 1).toISOString() };
  }
  const iso = parseIsoTime(t);
  if (!iso) throw bad(text);
  return { latest: false, at: new Date(iso.date.getTime() + SPAN[iso.precision] - 1).toISOString() };
}

function bad(text: string): CustosError {
  const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  return new CustosError('usage', `--at ${JSON.stringify(shown)} is not a time: give latest, an ISO time (2026-12-01T17:00, local unless it ends in Z or an offset such as +01:00), "today 08:00" or "yesterday 17:00"`);
}
