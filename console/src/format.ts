/** How the console writes times; sizes, durations, progress and results come from the contract's present.ts, as in the CLI. */
export { describeProgress, formatBytes, formatDuration, plural, progressFigures, resultFields } from '../../src/protocol/rest/present.js';

const timeFormat = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false, timeZoneName: 'short',
});

/** Local time with the zone, e.g. "07/12/2026, 13:04:05 UTC"; '—' for none. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : timeFormat.format(d);
}
