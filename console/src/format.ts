/** How the console writes times, sizes, rates and durations (the CLI's units). */

const timeFormat = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false, timeZoneName: 'short',
});

/** Local time with the zone, e.g. "07/12/2026, 13:04:05 UTC"; '—' for none. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : timeFormat.format(d);
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function formatBytes(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${UNITS[u]}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`;
}

export interface ProgressFigures {
  /** 0–100, or null when the total is not known. */
  readonly percent: number | null;
  readonly rate: number | null;
  readonly etaSeconds: number | null;
}

/** Percentage, rate and time left of a running job from its progress and start. */
export function progressFigures(p: { bytesDone: number; bytesTotal: number | null }, startedAt: string | null, now: number): ProgressFigures {
  const percent = p.bytesTotal ? Math.min(100, (100 * p.bytesDone) / p.bytesTotal) : null;
  const elapsed = startedAt ? (now - new Date(startedAt).getTime()) / 1000 : 0;
  const rate = elapsed > 1 && p.bytesDone > 0 ? p.bytesDone / elapsed : null;
  const etaSeconds = rate && p.bytesTotal && p.bytesTotal > p.bytesDone ? (p.bytesTotal - p.bytesDone) / rate : null;
  return { percent, rate, etaSeconds };
}
