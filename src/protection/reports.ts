/**
 * The reports (product.md section 6, DPM's Reporting area) as pure functions
 * over facts the server read from the catalog: status (jobs per group, day
 * and kind), recovery point status (who missed a scheduled point, and the
 * measured RPO), disk utilization (per group and the pool, growth per day
 * and a forecast of when the pool is full), protected computers, and the
 * SLA report (measured RPO and recovery times against per-group targets).
 *
 * No I/O and no clock of their own: the period and "now" are arguments, so
 * every number here is tested with a fixed time. Days are the server's
 * local calendar days, as the schedules are (schedule.ts).
 */
import type { ProtectionPolicy } from './policy.js';
import { localDateKey, pointSlotsBetween, nextPointSlot } from './schedule.js';

export const REPORT_NAMES = ['status', 'recovery-points', 'disk-utilization', 'protected-computers', 'sla'] as const;
export type ReportName = (typeof REPORT_NAMES)[number];

export const REPORT_TITLES: Readonly<Record<ReportName, string>> = {
  status: 'Status report',
  'recovery-points': 'Recovery point status',
  'disk-utilization': 'Disk utilization',
  'protected-computers': 'Protected computers',
  sla: 'SLA report',
};

/** The longest period a report covers. */
export const MAX_REPORT_DAYS = 366;

// --- facts (what the server reads) -----------------------------------------------------------------

export interface ReportPeriod {
  readonly from: Date;
  /** Exclusive. */
  readonly to: Date;
  /** When the report is made; what happens after it (or after `to`) is not counted. */
  readonly now: Date;
}

export interface JobFact {
  readonly kind: string;
  readonly state: string;
  readonly sourceId: string | null;
  readonly createdAt: string;
  readonly finishedAt: string;
}

export interface PointFact {
  readonly sourceId: string;
  readonly time: string;
  /** False: the replica-only point a synchronization leaves. */
  readonly recoveryPoint: boolean;
  readonly logicalBytes: number;
  readonly bytesAdded: number;
}

export interface SourceFact {
  readonly id: string;
  readonly agent: string;
  readonly group: string | null;
  /** When it joined its group (or was created): nothing is expected of it before. */
  readonly since: string;
  readonly allocationBytes: number;
  readonly usedBytes: number;
}

export interface GroupFact {
  readonly name: string;
  readonly policy: Pick<ProtectionPolicy, 'pointTimes' | 'days'>;
  readonly rpoTargetMinutes: number | null;
  readonly rtoTargetMinutes: number | null;
}

export interface AgentFact {
  readonly name: string;
  readonly hostname: string;
  readonly lastSeen: string | null;
  readonly version: string | null;
  readonly revoked: boolean;
  readonly connected: boolean;
}

export interface PoolFact {
  readonly bytesStored: number;
  readonly directories: ReadonlyArray<{ readonly path: string; readonly bytesUsed: number; readonly bytesFree: number; readonly bytesTotal: number }>;
}

// --- reports (what the REST API answers; src/protocol/rest/objects.ts has their schemas) ----------

export interface ReportHeader {
  readonly title: string;
  readonly from: string;
  readonly to: string;
  readonly generatedAt: string;
  /** How the numbers were measured, in words, printed with the report. */
  readonly notes: string[];
}

export interface JobCounts {
  succeeded: number;
  failed: number;
  cancelled: number;
}

export interface StatusReport extends ReportHeader {
  readonly report: 'status';
  readonly totals: JobCounts;
  /** Every day of the period, all groups together (the chart). */
  readonly days: Array<{ day: string } & JobCounts>;
  /** Per group (null: jobs of no group, such as pool and catalog jobs), day and kind; only where something ended. */
  readonly rows: Array<{ group: string | null; day: string; kind: string } & JobCounts>;
}

export interface RecoveryPointStatusReport extends ReportHeader {
  readonly report: 'recovery-points';
  readonly missed: number;
  readonly sources: Array<{
    source: string;
    group: string | null;
    newestPoint: string | null;
    newestAgeSeconds: number | null;
    /** The longest wait between two scheduled recovery points of its group (null: in no group). */
    scheduleSeconds: number | null;
    measuredRpoSeconds: number;
    pointsExpected: number;
    pointsMade: number;
    pointsMissed: number;
    missedRpo: boolean;
  }>;
}

export interface DiskUtilizationReport extends ReportHeader {
  readonly report: 'disk-utilization';
  readonly pool: {
    bytesStored: number;
    bytesFree: number;
    bytesTotal: number;
    directories: Array<{ path: string; bytesUsed: number; bytesFree: number; bytesTotal: number }>;
  };
  readonly groups: Array<{ group: string | null; dataSources: number; logicalBytes: number; bytesAdded: number; bytesPerDay: number; allocationBytes: number; usedBytes: number }>;
  /** Every day of the period: bytes added, and the pool's stored bytes at the day's end (reconstructed). */
  readonly days: Array<{ day: string; bytesAdded: number; bytesStored: number }>;
  readonly forecast: { bytesPerDay: number; daysLeft: number | null; fullOn: string | null; method: string };
}

export interface ProtectedComputersReport extends ReportHeader {
  readonly report: 'protected-computers';
  readonly computers: Array<{
    name: string;
    hostname: string;
    status: 'connected' | 'disconnected' | 'revoked';
    lastContact: string | null;
    version: string | null;
    dataSources: number;
    newestPoint: string | null;
  }>;
}

export interface SlaReport extends ReportHeader {
  readonly report: 'sla';
  readonly groups: Array<{
    group: string;
    rpoTargetSeconds: number | null;
    measuredRpoSeconds: number | null;
    rpoMet: boolean | null;
    rtoTargetSeconds: number | null;
    recoveries: number;
    failedRecoveries: number;
    measuredRtoSeconds: number | null;
    rtoMet: boolean | null;
  }>;
}

export type Report = StatusReport | RecoveryPointStatusReport | DiskUtilizationReport | ProtectedComputersReport | SlaReport;

// --- helpers ---------------------------------------------------------------------------------------

const DAY_MS = 86_400_000;
const ms = (iso: string) => Date.parse(iso);

function header(name: ReportName, p: ReportPeriod, notes: string[]): ReportHeader {
  return { title: REPORT_TITLES[name], from: p.from.toISOString(), to: p.to.toISOString(), generatedAt: p.now.toISOString(), notes };
}

/** The end of what a report can see: the period's end, or now if that is earlier. */
function seen(p: ReportPeriod): number {
  return Math.min(p.to.getTime(), p.now.getTime());
}

/** The local calendar days the period touches, oldest first. */
export function periodDays(p: Pick<ReportPeriod, 'from' | 'to'>): string[] {
  const days: string[] = [];
  const last = localDateKey(new Date(p.to.getTime() - 1));
  for (let d = new Date(p.from.getFullYear(), p.from.getMonth(), p.from.getDate()); days.length <= MAX_REPORT_DAYS; d = new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1)) {
    const key = localDateKey(d);
    days.push(key);
    if (key >= last) break;
  }
  return days;
}

/**
 * The longest wait between two consecutive scheduled recovery points of a
 * policy, in seconds, over its weekly pattern (08:00 and 20:00 every day:
 * 12 h; 20:00 on weekdays: Friday to Monday, 72 h). Null without a slot.
 */
export function scheduleGapSeconds(policy: Pick<ProtectionPolicy, 'pointTimes' | 'days'>): number | null {
  const order = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
  const minutes: number[] = [];
  for (const day of policy.days) {
    for (const t of policy.pointTimes) {
      const [h, m] = t.split(':').map(Number);
      minutes.push(order.indexOf(day) * 1440 + h! * 60 + m!);
    }
  }
  if (minutes.length === 0) return null;
  minutes.sort((a, b) => a - b);
  let gap = minutes[0]! + 7 * 1440 - minutes.at(-1)!;
  for (let i = 1; i < minutes.length; i++) gap = Math.max(gap, minutes[i]! - minutes[i - 1]!);
  return gap * 60;
}

/**
 * The measured RPO of one data source over [start, end]: the longest time
 * during which its newest recovery point was as old — the largest gap
 * between consecutive recovery points, counting from the newest point
 * before the period (or from `start` when it had none) and up to `end`.
 */
export function measuredRpoSeconds(pointTimes: readonly number[], before: number | null, start: number, end: number): number {
  let last = before ?? start;
  let gap = 0;
  for (const t of [...pointTimes].sort((a, b) => a - b)) {
    if (t > end) break;
    gap = Math.max(gap, t - last);
    last = Math.max(last, t);
  }
  return Math.round(Math.max(gap, end - last) / 1000);
}

/**
 * Least-squares slope of `ys` over 0, 1, 2, …: the growth per step of a
 * series (null for fewer than two values).
 */
export function linearSlope(ys: readonly number[]): number | null {
  const n = ys.length;
  if (n < 2) return null;
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  ys.forEach((y, x) => {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  });
  return num / den;
}

/** The local day a time falls on. */
const dayOf = (iso: string) => localDateKey(new Date(iso));

// --- status ----------------------------------------------------------------------------------------

export function statusReport(p: ReportPeriod, jobs: readonly JobFact[], groupOf: ReadonlyMap<string, string | null>): StatusReport {
  const days = periodDays(p).map((day) => ({ day, succeeded: 0, failed: 0, cancelled: 0 }));
  const byDay = new Map(days.map((d) => [d.day, d]));
  const rows = new Map<string, { group: string | null; day: string; kind: string } & JobCounts>();
  const totals: JobCounts = { succeeded: 0, failed: 0, cancelled: 0 };
  for (const j of jobs) {
    const t = ms(j.finishedAt);
    if (t < p.from.getTime() || t >= p.to.getTime()) continue;
    const state = j.state as keyof JobCounts;
    if (state !== 'succeeded' && state !== 'failed' && state !== 'cancelled') continue;
    const day = dayOf(j.finishedAt);
    const group = j.sourceId === null ? null : groupOf.get(j.sourceId) ?? null;
    const key = JSON.stringify([group, day, j.kind]);
    const row = rows.get(key) ?? { group, day, kind: j.kind, succeeded: 0, failed: 0, cancelled: 0 };
    row[state]++;
    rows.set(key, row);
    const d = byDay.get(day);
    if (d) d[state]++;
    totals[state]++;
  }
  const sorted = [...rows.values()].sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : (a.group ?? '').localeCompare(b.group ?? '') || a.kind.localeCompare(b.kind)));
  return {
    report: 'status',
    ...header('status', p, ['Jobs are counted on the local day they ended; jobs still queued or running are not counted. "(none)" are jobs of no protection group: pool and catalog jobs, and data sources outside any group.']),
    totals,
    days,
    rows: sorted,
  };
}

// --- recovery point status -------------------------------------------------------------------------

interface PointsBySource {
  readonly inPeriod: ReadonlyMap<string, PointFact[]>;
  /** The newest recovery point before the period, by data source. */
  readonly before: ReadonlyMap<string, PointFact>;
  /** The newest recovery point before the period's end, by data source. */
  readonly newest: ReadonlyMap<string, PointFact>;
}

export function groupPoints(inPeriod: readonly PointFact[], before: readonly PointFact[], newest: readonly PointFact[]): PointsBySource {
  const by = new Map<string, PointFact[]>();
  for (const pt of inPeriod) by.set(pt.sourceId, [...(by.get(pt.sourceId) ?? []), pt]);
  return { inPeriod: by, before: new Map(before.map((b) => [b.sourceId, b])), newest: new Map(newest.map((b) => [b.sourceId, b])) };
}

interface SourceRpo {
  readonly measuredRpoSeconds: number;
  readonly pointsExpected: number;
  readonly pointsMade: number;
  readonly pointsMissed: number;
}

/**
 * One data source over the period: its measured RPO, and its scheduled
 * points — a slot is missed when no recovery point was made between it and
 * the next slot; a slot whose window has not closed yet is not judged.
 */
function sourceRpo(p: ReportPeriod, s: SourceFact, group: GroupFact | undefined, pts: PointsBySource): SourceRpo {
  const start = Math.max(p.from.getTime(), ms(s.since));
  const end = seen(p);
  const times = (pts.inPeriod.get(s.id) ?? []).filter((x) => x.recoveryPoint).map((x) => ms(x.time)).filter((t) => t <= end);
  const before = pts.before.get(s.id);
  const anchor = before && ms(before.time) < start ? ms(before.time) : null;
  const measured = start >= end ? 0 : measuredRpoSeconds(times, anchor, start, end);
  let expected = 0;
  let missed = 0;
  if (group && start < end) {
    for (const slot of pointSlotsBetween(group.policy, new Date(start), new Date(end))) {
      const next = nextPointSlot(group.policy, slot.time)?.time.getTime() ?? Infinity;
      if (next > end) continue;
      expected++;
      if (!times.some((t) => t >= slot.time.getTime() && t < next)) missed++;
    }
  }
  return { measuredRpoSeconds: measured, pointsExpected: expected, pointsMade: times.length, pointsMissed: missed };
}

export function recoveryPointStatusReport(
  p: ReportPeriod,
  sources: readonly SourceFact[],
  groups: readonly GroupFact[],
  pts: PointsBySource,
): RecoveryPointStatusReport {
  const byName = new Map(groups.map((g) => [g.name, g]));
  const rows = sources.map((s) => {
    const g = s.group === null ? undefined : byName.get(s.group);
    const r = sourceRpo(p, s, g, pts);
    const newest = pts.newest.get(s.id)?.time ?? null;
    return {
      source: s.id,
      group: s.group,
      newestPoint: newest,
      newestAgeSeconds: newest === null ? null : Math.max(0, Math.round((seen(p) - ms(newest)) / 1000)),
      scheduleSeconds: g ? scheduleGapSeconds(g.policy) : null,
      ...r,
      missedRpo: r.pointsMissed > 0,
    };
  });
  return {
    report: 'recovery-points',
    ...header('recovery-points', p, [
      'A scheduled recovery point is missed when no recovery point was made between its time and the next scheduled time; a slot whose next slot is still to come is not judged yet.',
      'Measured RPO: the longest time in the period during which the newest recovery point was that old (the largest gap between consecutive recovery points, counted from the newest point before the period and up to the end of the period or now).',
    ]),
    missed: rows.filter((r) => r.missedRpo).length,
    sources: rows,
  };
}

// --- disk utilization ------------------------------------------------------------------------------

/** Forecasts further out than this give no date. */
export const FORECAST_HORIZON_DAYS = 36_500;

export const FORECAST_METHOD =
  'Growth per day is the least-squares slope of the pool\'s stored bytes at the end of each day of the period, reconstructed from today\'s stored bytes less the bytes each later recovery point added. ' +
  'The pool is full when that growth has used the free space of its directories. Space freed by pruning and garbage collection is not subtracted, so the date is on the early (safe) side.';

export function diskUtilizationReport(p: ReportPeriod, sources: readonly SourceFact[], pts: PointsBySource, pool: PoolFact): DiskUtilizationReport {
  const dayKeys = periodDays(p);
  const added = new Map(dayKeys.map((d) => [d, 0]));
  const byGroup = new Map<string | null, { group: string | null; dataSources: number; logicalBytes: number; bytesAdded: number; bytesPerDay: number; allocationBytes: number; usedBytes: number }>();
  const groupOf = new Map(sources.map((s) => [s.id, s.group]));
  for (const s of sources) {
    const g = byGroup.get(s.group) ?? { group: s.group, dataSources: 0, logicalBytes: 0, bytesAdded: 0, bytesPerDay: 0, allocationBytes: 0, usedBytes: 0 };
    g.dataSources++;
    g.logicalBytes += pts.newest.get(s.id)?.logicalBytes ?? 0;
    g.allocationBytes += s.allocationBytes;
    g.usedBytes += s.usedBytes;
    byGroup.set(s.group, g);
  }
  let addedAfter = 0; // bytes added after the period's visible end (none when the period ends now)
  const end = seen(p);
  for (const list of pts.inPeriod.values()) {
    for (const pt of list) {
      if (ms(pt.time) > end) {
        addedAfter += pt.bytesAdded;
        continue;
      }
      const day = dayOf(pt.time);
      added.set(day, (added.get(day) ?? 0) + pt.bytesAdded);
      const g = byGroup.get(groupOf.get(pt.sourceId) ?? null);
      if (g) g.bytesAdded += pt.bytesAdded;
    }
  }
  const spanDays = Math.max(1, (end - p.from.getTime()) / DAY_MS);
  for (const g of byGroup.values()) g.bytesPerDay = Math.round(g.bytesAdded / spanDays);
  // Stored at each day's end: today's stored bytes less what later days added.
  let later = addedAfter;
  const days = dayKeys.map((day) => ({ day, bytesAdded: added.get(day) ?? 0, bytesStored: 0 }));
  for (let i = days.length - 1; i >= 0; i--) {
    days[i]!.bytesStored = Math.max(0, pool.bytesStored - later);
    later += days[i]!.bytesAdded;
  }
  const bytesFree = pool.directories.reduce((n, d) => n + d.bytesFree, 0);
  const bytesTotal = pool.directories.reduce((n, d) => n + d.bytesTotal, 0);
  // Only days that have ended or are today count (a period reaching into the future has nothing there).
  const today = localDateKey(new Date(end - 1));
  const slope = linearSlope(days.filter((d) => d.day <= today).map((d) => d.bytesStored));
  const perDay = slope === null ? 0 : Math.max(0, Math.round(slope));
  const daysLeft = perDay > 0 ? Math.floor(bytesFree / perDay) : null;
  // Beyond a century the date says nothing (and would not be YYYY-MM-DD for long): days left only.
  const fullOn = daysLeft === null || daysLeft > FORECAST_HORIZON_DAYS ? null : localDateKey(new Date(p.now.getFullYear(), p.now.getMonth(), p.now.getDate() + daysLeft));
  const groupRows = [...byGroup.values()].sort((a, b) => (a.group === null ? 1 : b.group === null ? -1 : a.group.localeCompare(b.group)));
  return {
    report: 'disk-utilization',
    ...header('disk-utilization', p, [
      'Logical bytes: the size of the protected data in each data source\'s newest recovery point. Bytes added: what recovery points and synchronizations of the period stored in the pool after deduplication and compression.',
      FORECAST_METHOD,
    ]),
    pool: { bytesStored: pool.bytesStored, bytesFree, bytesTotal, directories: pool.directories.map((d) => ({ ...d })) },
    groups: groupRows,
    days,
    forecast: { bytesPerDay: perDay, daysLeft, fullOn, method: FORECAST_METHOD },
  };
}

// --- protected computers ---------------------------------------------------------------------------

export function protectedComputersReport(p: ReportPeriod, agents: readonly AgentFact[], sources: readonly SourceFact[], pts: PointsBySource): ProtectedComputersReport {
  const computers = [...agents].sort((a, b) => a.name.localeCompare(b.name)).map((a) => {
    const mine = sources.filter((s) => s.agent === a.name);
    const newest = mine.map((s) => pts.newest.get(s.id)?.time ?? null).filter((t): t is string => t !== null).sort().at(-1) ?? null;
    return {
      name: a.name,
      hostname: a.hostname,
      status: a.revoked ? ('revoked' as const) : a.connected ? ('connected' as const) : ('disconnected' as const),
      lastContact: a.lastSeen,
      version: a.version,
      dataSources: mine.length,
      newestPoint: newest,
    };
  });
  return { report: 'protected-computers', ...header('protected-computers', p, ['Newest point: the newest recovery point of any of the computer\'s data sources before the end of the period.']), computers };
}

// --- SLA -------------------------------------------------------------------------------------------

export function slaReport(p: ReportPeriod, groups: readonly GroupFact[], sources: readonly SourceFact[], pts: PointsBySource, jobs: readonly JobFact[]): SlaReport {
  const rows = [...groups].sort((a, b) => a.name.localeCompare(b.name)).map((g) => {
    const members = sources.filter((s) => s.group === g.name);
    const ids = new Set(members.map((s) => s.id));
    const rpos = members.map((s) => sourceRpo(p, s, g, pts).measuredRpoSeconds);
    const measuredRpo = rpos.length > 0 ? Math.max(...rpos) : null;
    const recoveries = jobs.filter((j) => j.kind === 'recovery' && j.sourceId !== null && ids.has(j.sourceId) && ms(j.finishedAt) >= p.from.getTime() && ms(j.finishedAt) < p.to.getTime());
    const done = recoveries.filter((j) => j.state === 'succeeded').map((j) => Math.round((ms(j.finishedAt) - ms(j.createdAt)) / 1000));
    const measuredRto = done.length > 0 ? Math.max(...done) : null;
    const rpoTarget = g.rpoTargetMinutes === null ? null : g.rpoTargetMinutes * 60;
    const rtoTarget = g.rtoTargetMinutes === null ? null : g.rtoTargetMinutes * 60;
    return {
      group: g.name,
      rpoTargetSeconds: rpoTarget,
      measuredRpoSeconds: measuredRpo,
      rpoMet: rpoTarget === null || measuredRpo === null ? null : measuredRpo <= rpoTarget,
      rtoTargetSeconds: rtoTarget,
      recoveries: recoveries.length,
      failedRecoveries: recoveries.filter((j) => j.state === 'failed').length,
      measuredRtoSeconds: measuredRto,
      rtoMet: rtoTarget === null || measuredRto === null ? null : measuredRto <= rtoTarget,
    };
  });
  return {
    report: 'sla',
    ...header('sla', p, [
      'Measured RPO: the worst of the group\'s data sources (see the recovery point status report for how it is measured).',
      'Measured recovery time: the longest successful recovery of the period, from the request to the last byte written; failed recoveries are counted apart.',
    ]),
    groups: rows,
  };
}

// --- targets ---------------------------------------------------------------------------------------

/** The longest SLA target accepted (30 days), in minutes. */
export const MAX_TARGET_MINUTES = 30 * 1440;

/** Parses an SLA target ('30m', '1h', '4h', '1d', or minutes as a number) into minutes; undefined when not allowed. */
export function parseTargetMinutes(value: string | number): number | undefined {
  let minutes: number | undefined;
  if (typeof value === 'number') minutes = value;
  else {
    const m = /^(\d{1,6})\s*(m|h|d)?$/.exec(value.trim());
    if (m) minutes = Number(m[1]) * (m[2] === 'h' ? 60 : m[2] === 'd' ? 1440 : 1);
  }
  return minutes !== undefined && Number.isInteger(minutes) && minutes >= 1 && minutes <= MAX_TARGET_MINUTES ? minutes : undefined;
}
