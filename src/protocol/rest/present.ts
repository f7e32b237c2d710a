/**
 * How people are shown the API's objects, the same in the CLI and the
 * console (both import this; it runs in the browser too): sizes in binary
 * units, durations, a running job's percentage, rate and time left, and a
 * finished job's result as named fields instead of a dump of its keys.
 */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 0 B, 512 B, 1.5 KiB, 3.2 GiB. */
export function formatBytes(n: number): string {
  let v = n;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${UNITS[i]}`;
}

/** 45 s, 3 min 20 s, 2 h 5 min. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m} min` : `${m} min ${s % 60} s`;
  return m % 60 === 0 ? `${Math.floor(m / 60)} h` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** "1 file", "2 files", "1,024 files". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

export interface ProgressLike {
  readonly phase: string;
  readonly filesDone: number;
  readonly bytesDone: number;
  readonly bytesTotal: number | null;
}

export interface ProgressFigures {
  /** 0–100, or null when the total is not known. */
  readonly percent: number | null;
  /** Bytes a second since the job started, or null before there is a measure. */
  readonly rate: number | null;
  /** Time left at that rate, in ms, or null. */
  readonly etaMs: number | null;
}

/** Percentage, rate and time left of a running job from its progress and the time it started. */
export function progressFigures(p: ProgressLike, startedAt: string | null, nowMs: number): ProgressFigures {
  const percent = p.bytesTotal ? Math.min(100, (100 * p.bytesDone) / p.bytesTotal) : null;
  const elapsed = startedAt ? (nowMs - Date.parse(startedAt)) / 1000 : 0;
  const rate = elapsed >= 1 && p.bytesDone > 0 ? p.bytesDone / elapsed : null;
  const etaMs = rate && p.bytesTotal && p.bytesTotal > p.bytesDone ? ((p.bytesTotal - p.bytesDone) / rate) * 1000 : null;
  return { percent, rate, etaMs };
}

/** "copying, 1,200 files, 1.2 GiB of 4.0 GiB (30%), 85.0 MiB/s, 34 s left". */
export function describeProgress(p: ProgressLike, startedAt: string | null, nowMs: number): string {
  const f = progressFigures(p, startedAt, nowMs);
  const parts: string[] = [];
  if (p.phase) parts.push(p.phase);
  if (p.filesDone > 0) parts.push(plural(p.filesDone, 'file'));
  if (f.percent !== null) parts.push(`${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal ?? 0)} (${Math.floor(f.percent)}%)`);
  else if (p.bytesDone > 0) parts.push(formatBytes(p.bytesDone));
  if (f.rate !== null) parts.push(`${formatBytes(f.rate)}/s`);
  if (f.etaMs !== null) parts.push(`${formatDuration(f.etaMs)} left`);
  return parts.join(', ');
}

/** Names people read for the result fields jobs report (others: their camelCase split into words). */
const RESULT_LABELS: Readonly<Record<string, string>> = {
  point: 'point',
  recoveryPoint: 'kind of point',
  time: 'point time',
  bytesAdded: 'new data in the pool',
  bytesReceived: 'received from the agent',
  chunksReceived: 'chunks received',
  logicalBytes: 'size of the data',
  files: 'files',
  partial: 'some items not read',
  pointsDeleted: 'recovery points deleted',
};

function resultValue(key: string, v: unknown): string {
  if (key === 'recoveryPoint' && typeof v === 'boolean') return v ? 'recovery point' : 'replica-only synchronization point';
  if (typeof v === 'number' && /bytes/i.test(key)) return formatBytes(v);
  if (typeof v === 'number' && key.endsWith('Ms')) return formatDuration(v);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  // A port is a name, not a count.
  if (typeof v === 'number' && key === 'port') return String(v);
  if (typeof v === 'number') return v.toLocaleString('en-US');
  return String(v);
}

/** A finished job's result as [label, value] pairs: scalars only, sizes in units, yes/no for flags, nested objects one level down. */
export function resultFields(result: Readonly<Record<string, unknown>> | null): Array<[string, string]> {
  if (!result) return [];
  const out: Array<[string, string]> = [];
  const add = (key: string, v: unknown, prefix: string) => {
    if (v === null || v === undefined || typeof v === 'object') return;
    const label = RESULT_LABELS[key] ?? key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
    out.push([prefix + (key.endsWith('Ms') && typeof v === 'number' ? label.replace(/ ms$/, '') : label), resultValue(key, v)]);
  };
  const seen = new Set<string>();
  for (const [k, v] of Object.entries(result)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) if (!(k2 in result) && !seen.has(k2)) {
        seen.add(k2);
        add(k2, v2, '');
      }
    } else add(k, v, '');
  }
  return out;
}
