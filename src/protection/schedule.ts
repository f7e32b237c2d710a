/**
 * When work is due, as pure functions of the policy and the time. The
 * scheduler is a stateless per-minute tick (see conventions.md): it asks
 * "which slot is due now?" and compares the slot's key with the last one it
 * did, so a restart loses nothing and a server that was down over several
 * slots catches up once, not once per missed slot.
 *
 * Calendar times (recovery point times, weekdays, daily checks, nightly
 * pruning) are in the local time zone of the process, as DPM schedules in
 * the server's time zone. Run the server with TZ set if that matters. A slot
 * whose time does not exist (spring-forward gap) runs at the time
 * `new Date(y, m, d, hh, mm)` gives; its key still names the scheduled time.
 */
import type { ProtectionPolicy, Weekday } from './policy.js';

export interface PointSlot {
  /** 'YYYY-MM-DDTHH:MM' of the scheduled local date and time: stable, sortable. */
  readonly key: string;
  readonly time: Date;
}

/** A per-minute tick may fire a little before the period is up; do not make it wait a whole period more. */
const SYNC_EARLY_MS = 30_000;

/** How many calendar days (today included) are searched for a slot; with any weekday allowed, one week and a day suffice. */
const LOOK_DAYS = 8;

/** `Date.getDay()` index (0 = Sunday) → Weekday. */
const DAY_OF_WEEK: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/**
 * True when a synchronization is due: never synchronized, or at least
 * syncMinutes (less 30 s of tick slack) since the last one started.
 */
export function isSyncDue(lastSyncStartedAt: Date | null, policy: Pick<ProtectionPolicy, 'syncMinutes'>, now: Date): boolean {
  if (lastSyncStartedAt === null) return true;
  return now.getTime() - lastSyncStartedAt.getTime() >= policy.syncMinutes * 60_000 - SYNC_EARLY_MS;
}

/**
 * The newest scheduled recovery point time that is <= now, on an allowed
 * weekday, and >= notBefore (e.g. when the group was created, so a new group
 * does not make a point for a slot from before it existed). Looks back at
 * most 8 calendar days. Null when there is none.
 */
export function latestPointSlot(
  policy: Pick<ProtectionPolicy, 'pointTimes' | 'days'>,
  now: Date,
  notBefore: Date,
): PointSlot | null {
  return latest(slotsAround(now, -(LOOK_DAYS - 1), 0, policy.pointTimes, policy.days), now, notBefore);
}

/** The first scheduled recovery point time strictly after `after`; null only when no weekday is allowed. */
export function nextPointSlot(policy: Pick<ProtectionPolicy, 'pointTimes' | 'days'>, after: Date): PointSlot | null {
  let best: PointSlot | null = null;
  for (const s of slotsAround(after, 0, LOOK_DAYS - 1, policy.pointTimes, policy.days)) {
    if (s.time.getTime() > after.getTime() && (best === null || s.time.getTime() < best.time.getTime())) best = s;
  }
  return best;
}

/** How far back pointSlotsBetween looks: an outage longer than a year is counted as a year. */
const SPAN_DAYS = 366;

/**
 * Every scheduled recovery point slot from `from` to `until` (both
 * included), oldest first; at most a year back from `until`. The alert for
 * missed recovery points counts an outage's slots with it.
 */
export function pointSlotsBetween(policy: Pick<ProtectionPolicy, 'pointTimes' | 'days'>, from: Date, until: Date): PointSlot[] {
  const dayMs = (d: Date) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  // Rounded: a day with a DST change is 23 or 25 hours long.
  const days = Math.min(SPAN_DAYS, Math.max(0, Math.round((dayMs(until) - dayMs(from)) / 86_400_000)));
  return slotsAround(until, -days, 0, policy.pointTimes, policy.days)
    .filter((s) => s.time.getTime() >= from.getTime() && s.time.getTime() <= until.getTime());
}

/**
 * When the initial replica of a data source added at `createdAt` is made:
 * now → createdAt; later@HH:MM → the next HH:MM at or after createdAt;
 * manual → null (the administrator seeds it and runs a consistency check).
 */
export function replicaCreationTime(policy: Pick<ProtectionPolicy, 'replica'>, createdAt: Date): Date | null {
  switch (policy.replica.mode) {
    case 'now':
      return createdAt;
    case 'manual':
      return null;
    case 'later': {
      const at = policy.replica.at;
      const slot = slotsAround(createdAt, 0, 1, [at], null).find((s) => s.time.getTime() >= createdAt.getTime());
      return slot === undefined ? null : slot.time;
    }
  }
}

/** Like latestPointSlot for the daily consistency check (every day); null when the policy has none. */
export function dailyCheckSlot(policy: Pick<ProtectionPolicy, 'check'>, now: Date, notBefore: Date): PointSlot | null {
  if (policy.check.dailyAt === null) return null;
  return latest(slotsAround(now, -1, 0, [policy.check.dailyAt], null), now, notBefore);
}

/**
 * Nightly pruning: due when it never ran or last ran on an earlier local
 * calendar date than `now` (so the first tick after midnight runs it).
 */
export function isPruneDue(lastPruneAt: Date | null, now: Date): boolean {
  return lastPruneAt === null || localDateKey(lastPruneAt) < localDateKey(now);
}

/** 'YYYY-MM-DDTHH:MM' of `d` in local time, the same form as PointSlot keys. */
export function minuteKey(d: Date): string {
  return `${localDateKey(d)}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** 'YYYY-MM-DD' of `d` in local time. */
export function localDateKey(d: Date): string {
  return `${String(d.getFullYear()).padStart(4, '0')}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

function latest(slots: PointSlot[], now: Date, notBefore: Date): PointSlot | null {
  let best: PointSlot | null = null;
  for (const s of slots) {
    const t = s.time.getTime();
    if (t > now.getTime() || t < notBefore.getTime()) continue;
    if (best === null || t > best.time.getTime()) best = s;
  }
  return best;
}

/**
 * Every slot at `times` on the local dates from `fromDay` to `toDay` days
 * relative to `around`'s date, on the allowed weekdays (null = every day).
 * Built from calendar fields, not by adding 24 h, so DST days stay right.
 */
function slotsAround(
  around: Date,
  fromDay: number,
  toDay: number,
  times: readonly string[],
  days: readonly Weekday[] | null,
): PointSlot[] {
  const out: PointSlot[] = [];
  for (let offset = fromDay; offset <= toDay; offset++) {
    const date = new Date(around.getFullYear(), around.getMonth(), around.getDate() + offset);
    if (days !== null && !days.includes(DAY_OF_WEEK[date.getDay()])) continue;
    const dateKey = localDateKey(date);
    for (const hhmm of times) {
      const [h, m] = hhmm.split(':').map(Number) as [number, number];
      out.push({ key: `${dateKey}T${hhmm}`, time: new Date(date.getFullYear(), date.getMonth(), date.getDate(), h, m) });
    }
  }
  return out;
}
