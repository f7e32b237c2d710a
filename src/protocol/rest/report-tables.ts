/**
 * A report as tables of text: the one layout the CLI's terminal table, the
 * console, the HTML, the PDF and the CSV share, so they show the same
 * columns in the same order. `raw` gives machine values (bytes and seconds
 * as integers, times as ISO 8601) for CSV; otherwise values are formatted
 * for people (formatBytes, formatDuration). Runs in the browser too.
 */
import type { Report } from './objects.js';
import { formatBytes, formatDuration } from './present.js';

export interface ReportTable {
  readonly title: string;
  readonly headers: readonly string[];
  readonly rows: ReadonlyArray<readonly string[]>;
}

export interface TableOptions {
  /** Machine values (for CSV) instead of formatted ones. */
  readonly raw?: boolean;
}

const NONE_GROUP = '(none)';

/** The report's tables; the first is its main one (the CSV holds that one). */
export function reportTables(r: Report, o: TableOptions = {}): ReportTable[] {
  const bytes = (n: number) => (o.raw ? String(n) : formatBytes(n));
  const secs = (n: number | null) => (n === null ? '' : o.raw ? String(n) : formatDuration(n * 1000));
  const time = (t: string | null) => (t === null ? (o.raw ? '' : 'never') : o.raw ? t : shortTime(t));
  const yes = (b: boolean | null) => (b === null ? (o.raw ? '' : '-') : b ? 'yes' : 'no');
  const group = (g: string | null) => g ?? NONE_GROUP;
  switch (r.report) {
    case 'status':
      return [
        {
          title: 'Jobs by protection group, day and kind',
          headers: ['Group', 'Day', 'Kind', 'Succeeded', 'Failed', 'Cancelled'],
          rows: r.rows.map((x) => [group(x.group), x.day, x.kind, String(x.succeeded), String(x.failed), String(x.cancelled)]),
        },
        {
          title: 'Jobs per day',
          headers: ['Day', 'Succeeded', 'Failed', 'Cancelled'],
          rows: [...r.days.map((d) => [d.day, String(d.succeeded), String(d.failed), String(d.cancelled)]), ['Total', String(r.totals.succeeded), String(r.totals.failed), String(r.totals.cancelled)]],
        },
      ];
    case 'recovery-points':
      return [{
        title: 'Recovery point status per data source',
        headers: ['Data source', 'Group', 'Newest point', 'Age', 'Schedule', 'Measured RPO', 'Expected', 'Made', 'Missed', 'RPO missed'],
        rows: r.sources.map((s) => [
          s.source, group(s.group), time(s.newestPoint), secs(s.newestAgeSeconds), secs(s.scheduleSeconds), secs(s.measuredRpoSeconds),
          String(s.pointsExpected), String(s.pointsMade), String(s.pointsMissed), s.missedRpo ? 'yes' : 'no',
        ]),
      }];
    case 'disk-utilization':
      return [
        {
          title: 'Disk utilization per protection group',
          headers: ['Group', 'Data sources', 'Logical bytes', 'Bytes added', 'Per day', 'Allocation', 'Used'],
          rows: r.groups.map((g) => [group(g.group), String(g.dataSources), bytes(g.logicalBytes), bytes(g.bytesAdded), bytes(g.bytesPerDay), bytes(g.allocationBytes), bytes(g.usedBytes)]),
        },
        {
          title: 'Storage pool',
          headers: ['Directory', 'Used', 'Free', 'Total'],
          rows: [...r.pool.directories.map((d) => [d.path, bytes(d.bytesUsed), bytes(d.bytesFree), bytes(d.bytesTotal)]), ['Stored in the pool', bytes(r.pool.bytesStored), bytes(r.pool.bytesFree), bytes(r.pool.bytesTotal)]],
        },
        {
          title: 'Growth per day',
          headers: ['Day', 'Bytes added', 'Stored at end of day'],
          rows: r.days.map((d) => [d.day, bytes(d.bytesAdded), bytes(d.bytesStored)]),
        },
        {
          title: 'Forecast',
          headers: ['Growth per day', 'Days left', 'Pool full on'],
          rows: [[bytes(r.forecast.bytesPerDay), r.forecast.daysLeft === null ? (o.raw ? '' : 'not growing') : String(r.forecast.daysLeft), r.forecast.fullOn ?? (o.raw ? '' : r.forecast.daysLeft === null ? '-' : 'more than a century')]],
        },
      ];
    case 'protected-computers':
      return [{
        title: 'Protected computers',
        headers: ['Computer', 'Host name', 'Status', 'Last contact', 'Version', 'Data sources', 'Newest point'],
        rows: r.computers.map((c) => [c.name, c.hostname, c.status, time(c.lastContact), c.version ?? '', String(c.dataSources), time(c.newestPoint)]),
      }];
    case 'sla':
      return [{
        title: 'Service levels per protection group',
        headers: ['Group', 'RPO target', 'Measured RPO', 'RPO met', 'RTO target', 'Recoveries', 'Failed', 'Measured recovery time', 'RTO met'],
        rows: r.groups.map((g) => [
          g.group, secs(g.rpoTargetSeconds), secs(g.measuredRpoSeconds), yes(g.rpoMet), secs(g.rtoTargetSeconds),
          String(g.recoveries), String(g.failedRecoveries), secs(g.measuredRtoSeconds), yes(g.rtoMet),
        ]),
      }];
  }
}

/** A few lines that sum the report up (the top of the HTML and PDF, a scheduled mail's text). */
export function reportHighlights(r: Report): string[] {
  switch (r.report) {
    case 'status':
      return [`${r.totals.succeeded} jobs succeeded, ${r.totals.failed} failed, ${r.totals.cancelled} cancelled`];
    case 'recovery-points':
      return [`${r.missed} of ${r.sources.length} data sources missed a scheduled recovery point`];
    case 'disk-utilization':
      return [
        `Pool: ${formatBytes(r.pool.bytesStored)} stored, ${formatBytes(r.pool.bytesFree)} free of ${formatBytes(r.pool.bytesTotal)}`,
        r.forecast.daysLeft === null
          ? 'Forecast: the pool is not growing'
          : r.forecast.fullOn === null
            ? `Forecast: growing ${formatBytes(r.forecast.bytesPerDay)} a day, full in more than a century`
            : `Forecast: growing ${formatBytes(r.forecast.bytesPerDay)} a day, full on ${r.forecast.fullOn} (in ${r.forecast.daysLeft} days)`,
      ];
    case 'protected-computers':
      return [`${r.computers.length} computers, ${r.computers.filter((c) => c.status === 'connected').length} connected`];
    case 'sla': {
      const missed = r.groups.filter((g) => g.rpoMet === false || g.rtoMet === false).length;
      return [`${missed} of ${r.groups.length} protection groups missed a target`];
    }
  }
}

/** The period as people read it: 2026-03-02 00:00 to 2026-03-09 00:00 (server local time when the report was made there). */
export function reportPeriod(r: Report): string {
  return `${shortTime(r.from)} to ${shortTime(r.to)}`;
}

/** YYYY-MM-DD HH:MM of a time, in the local time of whoever runs this. */
export function shortTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** A chart of a report, drawn the same by the console (SVG), the HTML (SVG) and the PDF (drawing operators). */
export interface ReportChart {
  readonly title: string;
  readonly kind: 'bars' | 'line';
  /** What the y axis counts. */
  readonly unit: 'count' | 'bytes';
  /** The x axis: one label per position. */
  readonly labels: readonly string[];
  /** Bars are stacked in this order; a line's null values are gaps. */
  readonly series: ReadonlyArray<{ readonly name: string; readonly color: string; readonly values: ReadonlyArray<number | null>; readonly dashed?: boolean }>;
  /** A horizontal line (the pool's capacity). */
  readonly limit?: { readonly name: string; readonly value: number };
}

/** The colours of the charts (also the console's). */
export const CHART_COLORS = { succeeded: '#2e7d32', failed: '#c62828', cancelled: '#9e9e9e', stored: '#1565c0', forecast: '#ef6c00', limit: '#616161' } as const;

/** The report's chart, if it has one: jobs per day (status), the pool's growth and forecast (disk utilization). */
export function reportChart(r: Report): ReportChart | null {
  if (r.report === 'status') {
    return {
      title: 'Jobs per day',
      kind: 'bars',
      unit: 'count',
      labels: r.days.map((d) => d.day.slice(5)),
      series: [
        { name: 'succeeded', color: CHART_COLORS.succeeded, values: r.days.map((d) => d.succeeded) },
        { name: 'failed', color: CHART_COLORS.failed, values: r.days.map((d) => d.failed) },
        { name: 'cancelled', color: CHART_COLORS.cancelled, values: r.days.map((d) => d.cancelled) },
      ],
    };
  }
  if (r.report === 'disk-utilization') {
    // The period's days, then as many days again of forecast (at most 60): enough to see the trend meet the capacity when it is near.
    const past = r.days;
    const ahead = Math.min(60, Math.max(7, past.length));
    const last = past.at(-1)?.bytesStored ?? r.pool.bytesStored;
    const labels = [...past.map((d) => d.day.slice(5)), ...Array.from({ length: ahead }, (_, i) => `+${i + 1}d`)];
    const capacity = r.pool.bytesStored + r.pool.bytesFree;
    return {
      title: 'Pool: stored bytes per day and forecast',
      kind: 'line',
      unit: 'bytes',
      labels,
      series: [
        { name: 'stored', color: CHART_COLORS.stored, values: [...past.map((d) => d.bytesStored), ...Array<null>(ahead).fill(null)] },
        {
          name: 'forecast',
          color: CHART_COLORS.forecast,
          dashed: true,
          values: [...past.map((_, i) => (i === past.length - 1 ? last : null)), ...Array.from({ length: ahead }, (_, i) => Math.min(capacity, last + r.forecast.bytesPerDay * (i + 1)))],
        },
      ],
      limit: { name: 'capacity', value: capacity },
    };
  }
  return null;
}

/** The largest value a chart shows (its y axis' top; at least 1). */
export function chartMax(c: ReportChart): number {
  let max = c.limit?.value ?? 0;
  if (c.kind === 'bars') {
    for (let i = 0; i < c.labels.length; i++) max = Math.max(max, c.series.reduce((n, s) => n + (s.values[i] ?? 0), 0));
  } else {
    for (const s of c.series) for (const v of s.values) if (v !== null) max = Math.max(max, v);
  }
  return Math.max(1, max);
}
