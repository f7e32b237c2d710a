/**
 * A protection group's short-term disk policy (product.md section 3): how long
 * recovery points are kept, how often data is synchronized, when recovery
 * points are made, how the replica is created and when it is checked.
 *
 * parsePolicy is the one place that turns what people type ("5d", "1h",
 * "08:00,20:00", "weekdays", "later@22:00") into a ProtectionPolicy, so the
 * CLI, the REST API and the console reject the same values with the same
 * message.
 */
import { UserError } from '../base/errors.js';
import { parseDuration } from '../base/clock.js';

/** The synchronization frequencies DPM offers, in minutes (15 min to 24 h). */
export const SYNC_FREQUENCIES = [15, 30, 60, 120, 240, 360, 720, 1440] as const;

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

/** Monday first, as the policy stores them. */
export const WEEKDAYS: readonly Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

export const MIN_RETENTION_DAYS = 1;
export const MAX_RETENTION_DAYS = 448;
export const MAX_POINT_TIMES = 8;

/** DPM's VSS limits: recovery points kept per file / application data source. */
export const MAX_FILE_RECOVERY_POINTS = 64;
export const MAX_APP_RECOVERY_POINTS = 512;

export type ReplicaCreation =
  | { readonly mode: 'now' }
  | { readonly mode: 'later'; readonly at: string }
  | { readonly mode: 'manual' };

export interface ConsistencyCheckPolicy {
  /** Run a consistency check by itself when a replica becomes inconsistent. */
  readonly auto: boolean;
  /** 'HH:MM' of a daily consistency check, or null for none. */
  readonly dailyAt: string | null;
}

export interface ProtectionPolicy {
  /** The retention range in whole days, 1..448: every recovery point is kept at least this many × 24 h (retention.ts). */
  readonly retentionDays: number;
  /** One of SYNC_FREQUENCIES. */
  readonly syncMinutes: number;
  /** 'HH:MM' local times of recovery points, sorted, unique, 1..8. */
  readonly pointTimes: readonly string[];
  /** Weekdays with recovery points, in mon..sun order, unique, at least one. */
  readonly days: readonly Weekday[];
  /** Exclusion globs (`*.mp3`, `cache/`), in the order given. */
  readonly excludes: readonly string[];
  readonly replica: ReplicaCreation;
  readonly check: ConsistencyCheckPolicy;
}

/** What people type; every field optional (missing fields come from `base`). */
export interface PolicyInput {
  retention?: string | number;
  sync?: string | number;
  points?: string | readonly string[];
  days?: string | readonly string[];
  excludes?: readonly string[];
  replica?: string;
  check?: string;
}

export const DEFAULT_POLICY: ProtectionPolicy = Object.freeze({
  retentionDays: 5,
  syncMinutes: 15,
  pointTimes: Object.freeze(['20:00']),
  days: Object.freeze([...WEEKDAYS]),
  excludes: Object.freeze([]),
  replica: Object.freeze({ mode: 'now' as const }),
  check: Object.freeze({ auto: true, dailyAt: null }),
});

/**
 * Validates `input` and applies it over `base` (DEFAULT_POLICY when creating a
 * group; the group's current policy when updating, so only the given fields
 * change). Throws UserError('usage') naming the bad value and what is
 * allowed; returns warnings that do not stop the change (a schedule that
 * keeps more recovery points than DPM's limit).
 */
export function parsePolicy(
  input: PolicyInput,
  base: ProtectionPolicy = DEFAULT_POLICY,
): { policy: ProtectionPolicy; warnings: string[] } {
  const policy: ProtectionPolicy = {
    retentionDays: input.retention === undefined ? base.retentionDays : parseRetention(input.retention),
    syncMinutes: input.sync === undefined ? base.syncMinutes : parseSync(input.sync),
    pointTimes: input.points === undefined ? base.pointTimes : parsePointTimes(input.points),
    days: input.days === undefined ? base.days : parseDays(input.days),
    excludes: input.excludes === undefined ? base.excludes : parseExcludes(input.excludes),
    replica: input.replica === undefined ? base.replica : parseReplica(input.replica),
    check: input.check === undefined ? base.check : parseCheck(input.check),
  };
  const warnings: string[] = [];
  const kept = recoveryPointsKept(policy);
  if (kept > MAX_FILE_RECOVERY_POINTS) {
    warnings.push(
      `this schedule keeps up to ${kept} recovery points per data source; file data sources keep at most ` +
        `${MAX_FILE_RECOVERY_POINTS} (DPM's limit): the oldest are pruned early`,
    );
  }
  return { policy, warnings };
}

const DAY_MINUTES = 1440;
const WEEK_MINUTES = 7 * DAY_MINUTES;

/**
 * The most recovery points the schedule keeps at once per data source: the
 * largest number of schedule slots (times on the scheduled weekdays) within
 * any retentionDays × 24 h, the span a recovery point is kept (retention.ts).
 * Counted, not estimated: 8 a day on weekdays for 11 days keeps 72 (one
 * whole week and four more weekdays), where times × weekdays × days / 7
 * says 63.
 */
export function recoveryPointsKept(p: Pick<ProtectionPolicy, 'retentionDays' | 'pointTimes' | 'days'>): number {
  // Slots as minutes since Monday 00:00; the schedule repeats every week.
  const slots = p.days.flatMap((day) =>
    p.pointTimes.map((t) => {
      const [h, m] = t.split(':').map(Number) as [number, number];
      return WEEKDAYS.indexOf(day) * DAY_MINUTES + h * 60 + m;
    }),
  );
  const span = p.retentionDays * DAY_MINUTES;
  let most = 0;
  // The count is largest in a span that ends at a slot: count the slots in (end - span, end].
  for (const end of slots) {
    let n = 0;
    for (const s of slots) {
      const back = (end - s + WEEK_MINUTES) % WEEK_MINUTES; // to s's last occurrence at or before end
      if (back < span) n += Math.ceil((span - back) / WEEK_MINUTES); // it and its earlier weeks within the span
    }
    most = Math.max(most, n);
  }
  return most;
}

/** 'now' | 'later@HH:MM' | 'manual' — the form parsePolicy accepts. */
export function formatReplica(p: ProtectionPolicy): string {
  return p.replica.mode === 'later' ? `later@${p.replica.at}` : p.replica.mode;
}

/** 'auto' | 'daily@HH:MM' | 'auto,daily@HH:MM' | 'off' — the form parsePolicy accepts. */
export function formatCheck(p: ProtectionPolicy): string {
  const parts: string[] = [];
  if (p.check.auto) parts.push('auto');
  if (p.check.dailyAt !== null) parts.push(`daily@${p.check.dailyAt}`);
  return parts.length === 0 ? 'off' : parts.join(',');
}

/** Formats minutes as people write a synchronization frequency: 15m, 1h, 24h. */
export function formatSync(minutes: number): string {
  return minutes % 60 === 0 ? `${minutes / 60}h` : `${minutes}m`;
}

const DAY_MS = 86_400_000;

function parseRetention(value: string | number): number {
  let days: number | undefined;
  const shown = typeof value === 'number' ? String(value) : value.trim();
  if (typeof value === 'number') {
    days = value;
  } else if (/^\d+$/.test(shown)) {
    days = Number(shown);
  } else if (/^\d+[dw]$/.test(shown)) {
    days = (parseDuration(shown) ?? NaN) / DAY_MS;
  }
  if (days === undefined || !Number.isInteger(days) || days < MIN_RETENTION_DAYS || days > MAX_RETENTION_DAYS) {
    throw new UserError(
      'usage',
      `retention range ${shown} is not allowed: use whole days from ${MIN_RETENTION_DAYS} to ${MAX_RETENTION_DAYS} (e.g. 5d, 2w or 30)`,
    );
  }
  return days;
}

function parseSync(value: string | number): number {
  let minutes: number | undefined;
  let shown: string;
  if (typeof value === 'number') {
    minutes = value;
    shown = Number.isFinite(value) ? `${value}m` : String(value);
  } else {
    shown = value.trim();
    if (/^\d+$/.test(shown)) minutes = Number(shown);
    else if (/^\d+[mhd]$/.test(shown)) minutes = (parseDuration(shown) ?? NaN) / 60_000;
  }
  if (minutes === undefined || !(SYNC_FREQUENCIES as readonly number[]).includes(minutes)) {
    const allowed = SYNC_FREQUENCIES.map(formatSync);
    throw new UserError(
      'usage',
      `synchronization frequency ${shown} is not allowed: use ${allowed.slice(0, -1).join(', ')} or ${allowed.at(-1)}`,
    );
  }
  return minutes;
}

/** Parses 'HH:MM' (or 'H:MM') within 00:00–23:59 into canonical 'HH:MM'; undefined when malformed. */
export function parseTimeOfDay(text: string): string | undefined {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text.trim());
  if (!m) return undefined;
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (h > 23 || min > 59) return undefined;
  return `${String(h).padStart(2, '0')}:${m[2]}`;
}

function requireTime(text: string, what: string): string {
  const t = parseTimeOfDay(text);
  if (t === undefined) throw new UserError('usage', `${what} ${text.trim() || '(empty)'} is not a time: use HH:MM from 00:00 to 23:59`);
  return t;
}

function splitList(value: string | readonly string[]): string[] {
  const items = typeof value === 'string' ? value.split(',') : [...value];
  return items.map((s) => s.trim());
}

function parsePointTimes(value: string | readonly string[]): string[] {
  const items = splitList(value).filter((s) => s !== '');
  if (items.length === 0) {
    throw new UserError('usage', 'at least one recovery point time a day is needed: use HH:MM, e.g. 20:00 or 08:00,20:00');
  }
  if (items.length > MAX_POINT_TIMES) {
    throw new UserError('usage', `at most ${MAX_POINT_TIMES} recovery point times a day (DPM's limit); got ${items.length}`);
  }
  const times: string[] = [];
  for (const item of items) {
    const t = requireTime(item, 'recovery point time');
    if (times.includes(t)) throw new UserError('usage', `recovery point time ${t} is listed twice: list each time once`);
    times.push(t);
  }
  return times.sort();
}

const DAY_NAMES: Record<string, readonly Weekday[]> = {
  daily: WEEKDAYS,
  weekdays: ['mon', 'tue', 'wed', 'thu', 'fri'],
  weekends: ['sat', 'sun'],
  mon: ['mon'], monday: ['mon'],
  tue: ['tue'], tuesday: ['tue'],
  wed: ['wed'], wednesday: ['wed'],
  thu: ['thu'], thursday: ['thu'],
  fri: ['fri'], friday: ['fri'],
  sat: ['sat'], saturday: ['sat'],
  sun: ['sun'], sunday: ['sun'],
};

/** A range such as mon-fri (or fri-mon, across the end of the week), or undefined when `item` is not one. */
function dayRange(item: string): readonly Weekday[] | undefined {
  const m = /^([a-z]+)-([a-z]+)$/.exec(item.toLowerCase());
  const from = m && Object.hasOwn(DAY_NAMES, m[1]!) ? DAY_NAMES[m[1]!]! : undefined;
  const to = m && Object.hasOwn(DAY_NAMES, m[2]!) ? DAY_NAMES[m[2]!]! : undefined;
  if (from?.length !== 1 || to?.length !== 1) return undefined;
  const start = WEEKDAYS.indexOf(from[0]!);
  const days: Weekday[] = [];
  for (let i = start; ; i = (i + 1) % WEEKDAYS.length) {
    days.push(WEEKDAYS[i]!);
    if (WEEKDAYS[i] === to[0]) return days;
  }
}

/** Parses days as `--days` takes them (mon,wed, mon-fri, fri-mon, weekdays, …) into unique weekdays, mon..sun order. */
export function parseDays(value: string | readonly string[]): Weekday[] {
  const items = splitList(value).filter((s) => s !== '');
  if (items.length === 0) {
    throw new UserError('usage', 'at least one day is needed: use mon,tue,… or daily, weekdays or weekends');
  }
  const seen = new Set<Weekday>();
  for (const item of items) {
    const days = dayRange(item) ?? (Object.hasOwn(DAY_NAMES, item.toLowerCase()) ? DAY_NAMES[item.toLowerCase()] : undefined);
    if (days === undefined) {
      throw new UserError('usage', `day ${item} is not known: use mon, tue, wed, thu, fri, sat, sun, a range such as mon-fri, daily, weekdays or weekends`);
    }
    for (const d of days) {
      if (seen.has(d)) throw new UserError('usage', `day ${d} is listed twice (in ${items.join(',')}): list each day once`);
      seen.add(d);
    }
  }
  return WEEKDAYS.filter((d) => seen.has(d));
}

function parseExcludes(value: readonly string[]): string[] {
  const out: string[] = [];
  for (const raw of value) {
    const glob = raw.trim();
    if (glob === '' || glob.includes('\0')) {
      throw new UserError('usage', `exclusion ${JSON.stringify(raw)} is not allowed: use a non-empty glob such as *.mp3 or cache/`);
    }
    if (!out.includes(glob)) out.push(glob);
  }
  return out;
}

function parseReplica(value: string): ReplicaCreation {
  const text = value.trim();
  if (text === 'now') return { mode: 'now' };
  if (text === 'manual') return { mode: 'manual' };
  if (text.startsWith('later@')) {
    const at = parseTimeOfDay(text.slice('later@'.length));
    if (at !== undefined) return { mode: 'later', at };
  }
  throw new UserError('usage', `replica creation ${text || '(empty)'} is not allowed: use now, later@HH:MM or manual`);
}

function parseCheck(value: string): ConsistencyCheckPolicy {
  const text = value.trim();
  const bad = (): UserError =>
    new UserError('usage', `consistency check ${text || '(empty)'} is not allowed: use auto, daily@HH:MM, auto,daily@HH:MM or off`);
  if (text === 'off') return { auto: false, dailyAt: null };
  let auto = false;
  let dailyAt: string | null = null;
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length > 2) throw bad();
  for (const part of parts) {
    if (part === 'auto' && !auto) {
      auto = true;
    } else if (part.startsWith('daily@') && dailyAt === null) {
      const t = parseTimeOfDay(part.slice('daily@'.length));
      if (t === undefined) throw bad();
      dailyAt = t;
    } else {
      throw bad();
    }
  }
  return { auto, dailyAt };
}
