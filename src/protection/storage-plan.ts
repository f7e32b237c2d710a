/**
 * The storage calculator (product.md section 9): from what is protected and
 * how — data size, daily change, retention, synchronization frequency,
 * recovery point times, growth — the disk it needs and the recovery
 * objectives it gives. Pure: `custos plan storage` runs it with no server,
 * the server runs it with its measured recovery rate and the current groups.
 *
 * The formulas, as the seeds give them:
 * - replica = data size + one day of logs. seeds/003 line 4928 ("Sizing the
 *   Replica and Recovery Point Volumes"): "The replica volume needs to store
 *   the live data plus at least one day of transactional logs" (500 GB of
 *   data: at least 500 GB, likely about 550 GB). File data sources have no
 *   logs: their replica is the data.
 * - recovery point space = retention days × daily change. seeds/003 line
 *   4934: "size the RPV equal to N (number of days retained) times Dc (Data
 *   change rate)": 100 GB changing 5 % a day, kept 30 days, 30 × 5 = 150 GB;
 *   "appreciably less" in practice since the same data changes again (and
 *   the pool deduplicates): an upper bound.
 * - storage pool: seeds/000 line 41, "1,5 Times the size of the protected
 *   data, recommended = 2 – 3 times": the range 1.5–3 × protected data.
 * - RPO: seeds/003 line 1546, with disk-based protection "RPO essentially
 *   becomes the measurement of that data protection frequency": the
 *   synchronization interval; for recovery points (the times one can go
 *   back to) the largest gap between scheduled points, over the week.
 * - RTO = data size / measured recovery rate + preparation (product.md
 *   section 9): unknown (null) until the server has measured a rate.
 * - The default allocation is what the server gives a data source joining a
 *   group (defaultAllocation, allocation.ts: DPM's 1.5 × replica and 2 % a
 *   day, which the seeds do not give: see there), shown beside the formulas
 *   so the two can be compared.
 * - Growth compounds yearly; every figure is given for each year planned.
 *
 * Figures are whole bytes (rounded) and seconds. Input is checked against
 * the product's limits (policy.ts) and refused with a UserError('usage')
 * that names the value and what is allowed.
 */
import { UserError } from '../base/errors.js';
import { defaultAllocation } from './allocation.js';
import {
  MAX_FILE_RECOVERY_POINTS,
  MAX_POINT_TIMES,
  MAX_RETENTION_DAYS,
  MIN_RETENTION_DAYS,
  SYNC_FREQUENCIES,
  WEEKDAYS,
  formatSync,
  parseTimeOfDay,
  recoveryPointsKept,
  type Weekday,
} from './policy.js';

/** The storage pool's recommended size, as multiples of the protected data (seeds/000 line 41). */
export const POOL_MIN_FACTOR = 1.5;
export const POOL_MAX_FACTOR = 3;
/** One data source of at most 1 PiB; more is a typo or a plan for several servers. */
export const MAX_PLAN_SOURCE_BYTES = 1024 ** 5;
export const MAX_PLAN_YEARS = 10;
/** Yearly growth above 1000 % (11 × a year) is refused as a typo. */
export const MAX_GROWTH_PERCENT = 1000;
/** Preparation before a recovery starts (replace a disk, attach an agent): at most a week. */
export const MAX_PREPARATION_SECONDS = 7 * 86_400;
export const MAX_PLAN_GROUPS = 100;
export const MAX_PLAN_SOURCES = 1000;

export interface PlanSourceInput {
  /** A data source id, or any label. */
  readonly name: string;
  readonly dataBytes: number;
  /** Percent of the data that changes a day, 0–100. */
  readonly dailyChangePercent: number;
  /** Bytes of logs a day (application data sources; 0 or absent for files). */
  readonly logBytesPerDay?: number;
}

export interface PlanGroupInput {
  readonly name: string;
  readonly sources: readonly PlanSourceInput[];
  readonly retentionDays: number;
  /** One of SYNC_FREQUENCIES. */
  readonly syncMinutes: number;
  /** 'HH:MM' times of recovery points, 1–8. */
  readonly pointTimes: readonly string[];
  /** Weekdays with recovery points; every day when absent. */
  readonly days?: readonly Weekday[];
  readonly yearlyGrowthPercent: number;
  /** Years to plan beyond now, 0–10. */
  readonly years: number;
}

export interface StoragePlanInput {
  readonly groups: readonly PlanGroupInput[];
  /** Bytes per second this server recovers at (measured), or null when unknown. */
  readonly recoveryRate: number | null;
  /** Seconds before bytes start to flow in a recovery; default 0. */
  readonly preparationSeconds?: number;
}

// The output's arrays are plain (not readonly) so the REST contract's types (src/protocol/rest) take them as they are.

/** A data source's (or a sum's) figures at one size. */
export interface PlanFigures {
  readonly dataBytes: number;
  readonly logBytesPerDay: number;
  readonly dailyChangeBytes: number;
  /** Data + one day of logs. */
  readonly replicaBytes: number;
  /** Retention days × daily change. */
  readonly recoveryPointBytes: number;
  /** Replica + recovery point space. */
  readonly plannedBytes: number;
  /** Data size / recovery rate + preparation; null without a measured rate. */
  readonly rtoSeconds: number | null;
}

export interface PlanYear extends PlanFigures {
  /** 0 is now. */
  readonly year: number;
}

export interface SourcePlan extends PlanFigures {
  readonly name: string;
  readonly dailyChangePercent: number;
  /** What the server allocates when the data source joins a group now (allocation.ts). */
  readonly defaultAllocationBytes: number;
  /** Year 0 (now) to the last year planned. */
  readonly growth: PlanYear[];
}

export interface GroupPlan extends PlanFigures {
  readonly name: string;
  readonly retentionDays: number;
  readonly syncMinutes: number;
  readonly pointTimes: string[];
  readonly days: Weekday[];
  readonly yearlyGrowthPercent: number;
  readonly years: number;
  /** The most recovery points the schedule keeps per data source (policy.ts). */
  readonly recoveryPointsKept: number;
  readonly rpo: {
    /** Data written since the last synchronization can be lost: at most this long. */
    readonly syncMinutes: number;
    /** The largest gap between scheduled recovery points over the week. */
    readonly recoveryPointMinutes: number;
  };
  readonly defaultAllocationBytes: number;
  readonly sources: SourcePlan[];
  /** Sums over the sources, year by year. */
  readonly growth: PlanYear[];
}

export interface PoolYear {
  readonly year: number;
  readonly protectedBytes: number;
  readonly plannedBytes: number;
  readonly recommendedMinBytes: number;
  readonly recommendedMaxBytes: number;
  /** Every data source recovered one after another. */
  readonly rtoSeconds: number | null;
}

export interface StoragePlan {
  readonly recoveryRate: number | null;
  readonly preparationSeconds: number;
  readonly groups: GroupPlan[];
  readonly pool: {
    readonly protectedBytes: number;
    readonly plannedBytes: number;
    readonly defaultAllocationBytes: number;
    readonly recommendedMinBytes: number;
    readonly recommendedMaxBytes: number;
    /** Year by year up to the longest plan of any group (a shorter one keeps its last year). */
    readonly growth: PoolYear[];
  };
  readonly warnings: string[];
}

/** Computes the plan; throws UserError('usage') for input outside the product's limits. */
export function planStorage(input: StoragePlanInput): StoragePlan {
  checkPlanInput(input);
  const preparationSeconds = input.preparationSeconds ?? 0;
  const rto = (bytes: number): number | null => (input.recoveryRate === null ? null : bytes / input.recoveryRate + preparationSeconds);
  const warnings: string[] = [];
  const groups = input.groups.map((g) => planGroup(g, rto, warnings));
  const lastYear = Math.max(0, ...groups.map((g) => g.years));
  const growth: PoolYear[] = [];
  for (let year = 0; year <= lastYear; year++) {
    const at = groups.map((g) => g.growth[Math.min(year, g.years)]!);
    const protectedBytes = sum(at, (y) => y.dataBytes);
    growth.push({
      year,
      protectedBytes,
      plannedBytes: sum(at, (y) => y.plannedBytes),
      recommendedMinBytes: Math.round(protectedBytes * POOL_MIN_FACTOR),
      recommendedMaxBytes: Math.round(protectedBytes * POOL_MAX_FACTOR),
      rtoSeconds: rto(protectedBytes),
    });
  }
  const now = growth[0]!;
  const last = growth.at(-1)!;
  if (last.plannedBytes > Number.MAX_SAFE_INTEGER || last.recommendedMaxBytes > Number.MAX_SAFE_INTEGER) {
    throw new UserError('usage', `this plan grows beyond ${Number.MAX_SAFE_INTEGER} bytes (8 PiB), more than one server can hold: plan fewer data sources, years or less growth`);
  }
  if (now.plannedBytes > now.recommendedMaxBytes) {
    warnings.push(
      `the formulas ask for ${ratio(now.plannedBytes, now.protectedBytes)} × the protected data, above the ${POOL_MAX_FACTOR} × recommended: ` +
        'a long retention or a high change rate; the recovery point space is an upper bound (data that changes again, deduplication)',
    );
  }
  return {
    recoveryRate: input.recoveryRate,
    preparationSeconds,
    groups,
    pool: {
      protectedBytes: now.protectedBytes,
      plannedBytes: now.plannedBytes,
      defaultAllocationBytes: sum(groups, (g) => g.defaultAllocationBytes),
      recommendedMinBytes: now.recommendedMinBytes,
      recommendedMaxBytes: now.recommendedMaxBytes,
      growth,
    },
    warnings,
  };
}

function planGroup(g: PlanGroupInput, rto: (bytes: number) => number | null, warnings: string[]): GroupPlan {
  const days = g.days ?? WEEKDAYS;
  const pointTimes = [...g.pointTimes].map((t) => parseTimeOfDay(t)!).sort();
  const factor = (year: number) => (1 + g.yearlyGrowthPercent / 100) ** year;
  const sources = g.sources.map((s): SourcePlan => {
    const growth: PlanYear[] = [];
    for (let year = 0; year <= g.years; year++) {
      const f = factor(year);
      growth.push({ year, ...figures(Math.round(s.dataBytes * f), Math.round((s.logBytesPerDay ?? 0) * f), s.dailyChangePercent, g.retentionDays, rto) });
    }
    return {
      name: s.name,
      dailyChangePercent: s.dailyChangePercent,
      ...growth[0]!,
      defaultAllocationBytes: defaultAllocation({ dataBytes: s.dataBytes, retentionDays: g.retentionDays }),
      growth,
    };
  });
  const growth: PlanYear[] = [];
  for (let year = 0; year <= g.years; year++) growth.push({ year, ...sumFigures(sources.map((s) => s.growth[year]!), rto) });
  const kept = recoveryPointsKept({ retentionDays: g.retentionDays, pointTimes, days });
  if (kept > MAX_FILE_RECOVERY_POINTS) {
    warnings.push(
      `group ${g.name}: this schedule keeps up to ${kept} recovery points per data source; file data sources keep at most ` +
        `${MAX_FILE_RECOVERY_POINTS} (DPM's limit): the oldest are pruned early, so fewer days are kept than planned`,
    );
  }
  const { year: _now, ...now } = growth[0]!;
  return {
    name: g.name,
    retentionDays: g.retentionDays,
    syncMinutes: g.syncMinutes,
    pointTimes,
    days: [...days],
    yearlyGrowthPercent: g.yearlyGrowthPercent,
    years: g.years,
    recoveryPointsKept: kept,
    rpo: { syncMinutes: g.syncMinutes, recoveryPointMinutes: largestPointGapMinutes(pointTimes, days) },
    ...now,
    defaultAllocationBytes: sum(sources, (s) => s.defaultAllocationBytes),
    sources,
    growth,
  };
}

/** One size's figures: the formulas of the header. */
function figures(dataBytes: number, logBytesPerDay: number, dailyChangePercent: number, retentionDays: number, rto: (bytes: number) => number | null): PlanFigures {
  const dailyChangeBytes = Math.round((dataBytes * dailyChangePercent) / 100);
  const replicaBytes = dataBytes + logBytesPerDay;
  const recoveryPointBytes = retentionDays * dailyChangeBytes;
  return { dataBytes, logBytesPerDay, dailyChangeBytes, replicaBytes, recoveryPointBytes, plannedBytes: replicaBytes + recoveryPointBytes, rtoSeconds: rto(dataBytes) };
}

/** Sums of figures (RTO: recovering them all one after another). */
function sumFigures(parts: readonly PlanFigures[], rto: (bytes: number) => number | null): PlanFigures {
  const dataBytes = sum(parts, (p) => p.dataBytes);
  return {
    dataBytes,
    logBytesPerDay: sum(parts, (p) => p.logBytesPerDay),
    dailyChangeBytes: sum(parts, (p) => p.dailyChangeBytes),
    replicaBytes: sum(parts, (p) => p.replicaBytes),
    recoveryPointBytes: sum(parts, (p) => p.recoveryPointBytes),
    plannedBytes: sum(parts, (p) => p.plannedBytes),
    rtoSeconds: rto(dataBytes),
  };
}

const DAY_MINUTES = 1440;
const WEEK_MINUTES = 7 * DAY_MINUTES;

/** The largest gap between consecutive scheduled recovery points over a week (one point a day: 1440; one a week: 10080). */
export function largestPointGapMinutes(pointTimes: readonly string[], days: readonly Weekday[]): number {
  const slots = days
    .flatMap((d) => pointTimes.map((t) => WEEKDAYS.indexOf(d) * DAY_MINUTES + Number(t.slice(0, 2)) * 60 + Number(t.slice(3, 5))))
    .sort((a, b) => a - b);
  if (slots.length === 0) return WEEK_MINUTES;
  let gap = slots[0]! + WEEK_MINUTES - slots.at(-1)!;
  for (let i = 1; i < slots.length; i++) gap = Math.max(gap, slots[i]! - slots[i - 1]!);
  return gap;
}

// --- measurements -------------------------------------------------------------------------------

/** The recoveries a rate is measured from: the newest this many that wrote at least MIN_RATE_SAMPLE_BYTES. */
export const RATE_SAMPLES = 20;
/** A recovery of a few files measures the job's start, not the rate: smaller ones are left out. */
export const MIN_RATE_SAMPLE_BYTES = 1024 * 1024;

export interface RecoverySample {
  readonly bytes: number;
  readonly durationMs: number;
}

/**
 * The median rate in bytes per second of the newest RATE_SAMPLES recoveries
 * (newest first in `samples`) that wrote at least MIN_RATE_SAMPLE_BYTES in a
 * positive time, and how many it rests on; null with none. The median, so
 * one recovery slowed by a throttle or a busy disk does not move it.
 */
export function measuredRecoveryRate(samples: readonly RecoverySample[]): { bytesPerSecond: number | null; recoveries: number } {
  const rates = samples
    .filter((s) => s.bytes >= MIN_RATE_SAMPLE_BYTES && s.durationMs > 0)
    .slice(0, RATE_SAMPLES)
    .map((s) => (s.bytes * 1000) / s.durationMs)
    .sort((a, b) => a - b);
  if (rates.length === 0) return { bytesPerSecond: null, recoveries: 0 };
  const mid = Math.floor(rates.length / 2);
  const median = rates.length % 2 === 1 ? rates[mid]! : (rates[mid - 1]! + rates[mid]!) / 2;
  return { bytesPerSecond: median, recoveries: rates.length };
}

/** Days of recent points the daily change is measured over. */
export const CHANGE_WINDOW_DAYS = 7;
const DAY_MS = 86_400_000;

export interface PointSample {
  readonly time: Date;
  readonly logicalBytes: number;
  readonly bytesAdded: number;
}

export interface MeasuredChange {
  readonly dataBytes: number;
  /** null: nothing to measure from (no point after the first). */
  readonly dailyChangePercent: number | null;
  /** Days the change was measured over. */
  readonly days: number;
  /** Points it rests on. */
  readonly points: number;
}

/**
 * A data source's size (its newest point's logical size) and daily change:
 * the bytes its points of the last CHANGE_WINDOW_DAYS added to the pool, per
 * day. The first point ever (the replica's creation) is the data itself, not
 * a change: left out, and the window starts there when it is younger. At
 * least a day is counted, so a few hours of points are not multiplied up.
 * `points` in any order.
 */
export function measuredDailyChange(points: readonly PointSample[], now: Date): MeasuredChange {
  const sorted = [...points].sort((a, b) => a.time.getTime() - b.time.getTime());
  const newest = sorted.at(-1);
  const dataBytes = newest?.logicalBytes ?? 0;
  const first = sorted[0];
  if (!first || sorted.length < 2) return { dataBytes, dailyChangePercent: null, days: 0, points: 0 };
  const start = Math.max(now.getTime() - CHANGE_WINDOW_DAYS * DAY_MS, first.time.getTime());
  const recent = sorted.slice(1).filter((p) => p.time.getTime() > start && p.time.getTime() <= now.getTime());
  if (recent.length === 0) return { dataBytes, dailyChangePercent: null, days: 0, points: 0 };
  const days = Math.max(1, (now.getTime() - start) / DAY_MS);
  const perDay = sum(recent, (p) => p.bytesAdded) / days;
  const dailyChangePercent = dataBytes > 0 ? Math.min(100, (perDay / dataBytes) * 100) : 0;
  return { dataBytes, dailyChangePercent, days, points: recent.length };
}

// --- input --------------------------------------------------------------------------------------

function refuse(message: string): never {
  throw new UserError('usage', message);
}

const isCount = (n: number, max: number) => Number.isInteger(n) && n >= 0 && n <= max;

/** Checks a plan's input against the product's limits (see planStorage). */
export function checkPlanInput(input: StoragePlanInput): void {
  if (input.groups.length === 0) refuse('a storage plan needs at least one protection group with data sources');
  if (input.groups.length > MAX_PLAN_GROUPS) refuse(`at most ${MAX_PLAN_GROUPS} protection groups in one plan; got ${input.groups.length}`);
  const rate = input.recoveryRate;
  if (rate !== null && !(Number.isFinite(rate) && rate > 0)) refuse(`a recovery rate must be more than 0 bytes per second; got ${rate}`);
  const prep = input.preparationSeconds ?? 0;
  if (!(Number.isFinite(prep) && prep >= 0 && prep <= MAX_PREPARATION_SECONDS)) {
    refuse(`preparation time ${prep} s is not allowed: use 0 to ${MAX_PREPARATION_SECONDS} s (7 days)`);
  }
  const names = new Set<string>();
  for (const g of input.groups) {
    if (names.has(g.name)) refuse(`protection group ${g.name} is in the plan twice: name each group once`);
    names.add(g.name);
    checkGroup(g);
  }
}

function checkGroup(g: PlanGroupInput): void {
  const where = `group ${g.name}`;
  if (g.sources.length === 0) refuse(`${where}: at least one data source is needed`);
  if (g.sources.length > MAX_PLAN_SOURCES) refuse(`${where}: at most ${MAX_PLAN_SOURCES} data sources in a group; got ${g.sources.length}`);
  if (!Number.isInteger(g.retentionDays) || g.retentionDays < MIN_RETENTION_DAYS || g.retentionDays > MAX_RETENTION_DAYS) {
    refuse(`${where}: retention range ${g.retentionDays} days is not allowed: use whole days from ${MIN_RETENTION_DAYS} to ${MAX_RETENTION_DAYS}`);
  }
  if (!(SYNC_FREQUENCIES as readonly number[]).includes(g.syncMinutes)) {
    const allowed = SYNC_FREQUENCIES.map(formatSync);
    refuse(`${where}: synchronization frequency ${g.syncMinutes} minutes is not allowed: use ${allowed.slice(0, -1).join(', ')} or ${allowed.at(-1)}`);
  }
  if (g.pointTimes.length === 0 || g.pointTimes.length > MAX_POINT_TIMES) {
    refuse(`${where}: give 1 to ${MAX_POINT_TIMES} recovery point times a day (DPM's limit); got ${g.pointTimes.length}`);
  }
  const times = new Set<string>();
  for (const t of g.pointTimes) {
    const time = parseTimeOfDay(t);
    if (time === undefined) refuse(`${where}: recovery point time ${t} is not a time: use HH:MM from 00:00 to 23:59`);
    if (times.has(time)) refuse(`${where}: recovery point time ${time} is listed twice: list each time once`);
    times.add(time);
  }
  if (g.days !== undefined) {
    if (g.days.length === 0) refuse(`${where}: at least one day with recovery points is needed`);
    if (new Set(g.days).size !== g.days.length || g.days.some((d) => !WEEKDAYS.includes(d))) {
      refuse(`${where}: days ${g.days.join(',')} are not allowed: list each of mon, tue, wed, thu, fri, sat, sun at most once`);
    }
  }
  if (!(Number.isFinite(g.yearlyGrowthPercent) && g.yearlyGrowthPercent >= 0 && g.yearlyGrowthPercent <= MAX_GROWTH_PERCENT)) {
    refuse(`${where}: yearly growth ${g.yearlyGrowthPercent}% is not allowed: use 0% to ${MAX_GROWTH_PERCENT}%`);
  }
  if (!isCount(g.years, MAX_PLAN_YEARS)) refuse(`${where}: plan 0 to ${MAX_PLAN_YEARS} years ahead (whole years); got ${g.years}`);
  for (const s of g.sources) {
    const of = `${where}, data source ${s.name}`;
    if (!isCount(s.dataBytes, MAX_PLAN_SOURCE_BYTES)) refuse(`${of}: data size ${s.dataBytes} is not allowed: use whole bytes from 0 to 1 PiB`);
    if (!(Number.isFinite(s.dailyChangePercent) && s.dailyChangePercent >= 0 && s.dailyChangePercent <= 100)) {
      refuse(`${of}: daily change ${s.dailyChangePercent}% is not allowed: use 0% to 100% of the data`);
    }
    const logs = s.logBytesPerDay ?? 0;
    if (!isCount(logs, MAX_PLAN_SOURCE_BYTES)) refuse(`${of}: log size a day ${logs} is not allowed: use whole bytes from 0 to 1 PiB`);
  }
}

function sum<T>(items: readonly T[], of: (item: T) => number): number {
  let n = 0;
  for (const item of items) n += of(item);
  return n;
}

function ratio(a: number, b: number): string {
  return b > 0 ? (a / b).toFixed(1) : '∞';
}
