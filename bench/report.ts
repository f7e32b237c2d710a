/** Results model, ratios against restic, targets, and the printed tables. */
import type { ChangeInfo, DatasetName } from './dataset.js';
import type { Comparison } from './tree-manifest.js';
import type { ToolName } from './tools.js';

export type Step = 'init' | 'initial' | 'unchanged' | 'changed' | 'restore';
export const MEASURED_STEPS: readonly Step[] = ['initial', 'unchanged', 'changed', 'restore'];

export interface StepResult {
  readonly seconds: number;
  readonly peakRssKiB: number;
  /** User + system CPU seconds (with services: theirs, not the client's). */
  readonly cpuSeconds: number;
  /** When the tool runs as several processes (server mode): each one's peak RSS. */
  readonly peakRssKiBEach?: Record<string, number>;
  /** ...and the CPU seconds each used in the step. */
  readonly cpuSecondsEach?: Record<string, number>;
  /** The tool's own summary of a backup (parsed from its JSON output), if any. */
  readonly summary?: unknown;
}

export interface RestoreCheck extends Comparison {
  /** Where in the restore target the backed-up directory was found. */
  readonly root: string | null;
}

export interface ToolRun {
  readonly tool: ToolName;
  readonly config: string;
  version?: string;
  status: 'ok' | 'skipped' | 'failed';
  reason?: string;
  readonly steps: Partial<Record<Step, StepResult>>;
  poolBytes?: number;
  /** Size of the tool's local cache/config dir (HOME); not part of the pool size. */
  cacheBytes?: number;
  /** Peak RSS over the backup and restore steps. */
  peakRssKiB?: number;
  restoreCheck?: RestoreCheck;
  extra?: Record<string, unknown>;
}

export type Metric = 'initial' | 'unchanged' | 'changed' | 'restore' | 'poolSize' | 'peakRss';
export const METRICS: readonly Metric[] = ['initial', 'unchanged', 'changed', 'restore', 'poolSize', 'peakRss'];

export const METRIC_LABELS: Record<Metric, string> = {
  initial: 'initial backup',
  unchanged: 'unchanged re-backup',
  changed: 're-backup after 1% change',
  restore: 'restore latest',
  poolSize: 'pool/repo size (du -sb)',
  peakRss: 'peak RSS (max of steps)',
};

/** Custos's targets, as ratios to restic measured in the same run (standalone, and through server + agent). */
export const TARGETS: Readonly<Partial<Record<ToolName, Partial<Record<Metric, number>>>>> = {
  custos: { initial: 0.6, unchanged: 0.5, restore: 0.7, poolSize: 1.0, peakRss: 1.5 },
  'custos-server': { initial: 0.8, unchanged: 0.3, restore: 0.9 },
};

export interface RatioEntry {
  readonly ratio: number | null;
  readonly target?: number;
  readonly met?: boolean;
}

export interface DatasetResult {
  readonly name: DatasetName;
  readonly description: string;
  readonly root: string;
  readonly files: number;
  readonly bytes: number;
  change?: ChangeInfo;
  /** SHA-256 over the expected post-change tree manifest. */
  expectedDigest?: string;
  readonly runs: ToolRun[];
  /** Per tool (other than restic), per metric: value / restic's value. */
  ratios: Partial<Record<ToolName, Partial<Record<Metric, RatioEntry>>>>;
}

export function metricValue(run: ToolRun, metric: Metric): number | null {
  if (run.status !== 'ok') return null;
  switch (metric) {
    case 'poolSize':
      return run.poolBytes ?? null;
    case 'peakRss':
      return run.peakRssKiB ?? null;
    default:
      return run.steps[metric]?.seconds ?? null;
  }
}

export function computeRatios(result: DatasetResult): void {
  const base = result.runs.find((r) => r.tool === 'restic');
  result.ratios = {};
  for (const run of result.runs) {
    if (run.tool === 'restic') continue;
    const entries: Partial<Record<Metric, RatioEntry>> = {};
    for (const metric of METRICS) {
      const value = metricValue(run, metric);
      const ref = base ? metricValue(base, metric) : null;
      const ratio = value !== null && ref !== null && ref > 0 ? value / ref : null;
      const target = TARGETS[run.tool]?.[metric];
      entries[metric] =
        target === undefined ? { ratio } : { ratio, target, ...(ratio === null ? {} : { met: ratio <= target }) };
    }
    result.ratios[run.tool] = entries;
  }
}

/**
 * What a synchronization that verifies the change journal (a metadata scan,
 * custos-server-scan's unchanged step) costs against the standalone
 * unchanged backup of the same run; null unless both ran.
 */
export function verificationCost(result: DatasetResult): number | null {
  const scan = result.runs.find((r) => r.tool === 'custos-server-scan');
  const standalone = result.runs.find((r) => r.tool === 'custos');
  const a = scan ? metricValue(scan, 'unchanged') : null;
  const b = standalone ? metricValue(standalone, 'unchanged') : null;
  return a !== null && b !== null && b > 0 ? a / b : null;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(u === 0 ? 0 : v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[u]}`;
}

export function formatSeconds(s: number): string {
  return s >= 100 ? `${s.toFixed(0)} s` : s >= 10 ? `${s.toFixed(1)} s` : `${s.toFixed(2)} s`;
}

function formatMetric(metric: Metric, value: number | null): string {
  if (value === null) return '-';
  if (metric === 'poolSize') return formatBytes(value);
  if (metric === 'peakRss') return formatBytes(value * 1024);
  return formatSeconds(value);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '))
    .join('\n');
}

export function renderDataset(result: DatasetResult): string {
  const lines: string[] = [];
  lines.push(`== ${result.name}: ${result.description}`);
  lines.push(`   ${result.files.toLocaleString('en-US')} files, ${formatBytes(result.bytes)} at ${result.root}`);
  if (result.change) lines.push(`   change: ${result.change.description}`);
  const runs = result.runs;
  const others = runs.filter((r) => r.tool !== 'restic' && r.status === 'ok');
  const header = ['', ...runs.map((r) => r.tool), ...others.map((r) => `${r.tool}/restic`)];
  const targeted = others.filter((r) => TARGETS[r.tool] !== undefined);
  for (const r of targeted) header.push(targeted.length > 1 ? `${r.tool} target` : 'target', 'met');
  const rows: string[][] = [header];
  for (const metric of METRICS) {
    const row = [METRIC_LABELS[metric]];
    for (const run of runs) row.push(run.status === 'ok' ? formatMetric(metric, metricValue(run, metric)) : run.status);
    for (const run of others) {
      const ratio = result.ratios[run.tool]?.[metric]?.ratio ?? null;
      row.push(ratio === null ? '-' : ratio.toFixed(2));
    }
    for (const r of targeted) {
      const entry = result.ratios[r.tool]?.[metric];
      row.push(entry?.target === undefined ? '' : `<= ${entry.target.toFixed(2)}`);
      row.push(entry?.met === undefined ? '' : entry.met ? 'yes' : 'NO');
    }
    rows.push(row);
  }
  const check = ['restore check'];
  for (const run of runs) {
    const c = run.restoreCheck;
    check.push(run.status !== 'ok' ? run.status : !c ? '-' : c.ok ? 'identical' : `MISMATCH(${c.mismatchCount})`);
  }
  rows.push(check);
  lines.push(table(rows).replace(/^/gm, '   '));
  const verification = verificationCost(result);
  if (verification !== null) {
    lines.push(`   verification scan (custos-server-scan unchanged) / standalone unchanged backup (custos): ${verification.toFixed(2)} (target <= 1.00: ${verification <= 1 ? 'met' : 'NOT met'})`);
  }
  for (const run of runs) {
    if (run.status !== 'ok' && run.reason) lines.push(`   ${run.tool} ${run.status}: ${run.reason.split('\n')[0]}`);
    if (run.cacheBytes !== undefined) {
      const rss = MEASURED_STEPS.map((s) => `${s} ${formatBytes((run.steps[s]?.peakRssKiB ?? 0) * 1024)}`).join(', ');
      const cpu = MEASURED_STEPS.map((s) => `${s} ${(run.steps[s]?.cpuSeconds ?? 0).toFixed(1)}`).join(', ');
      lines.push(`   ${run.tool}: local cache ${formatBytes(run.cacheBytes)} (not in pool size); RSS ${rss}; CPU-s ${cpu}`);
    }
  }
  return lines.join('\n');
}
