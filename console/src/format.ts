/** How the console writes times; sizes, durations, progress and results come from the contract's present.ts, as in the CLI. */
export { describeProgress, formatBytes, formatDuration, plural, progressFigures, resultFields } from '../../src/protocol/rest/present.js';

const zoneName = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' });
const pad = (n: number) => String(n).padStart(2, '0');

/** Local time with the zone, as the CLI's tables write it: "2026-12-07 13:04 CET" ('—' for none; seconds when asked). */
export function formatTime(iso: string | null | undefined, seconds = false): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const zone = zoneName.formatToParts(d).find((p) => p.type === 'timeZoneName')?.value ?? '';
  const time = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}${seconds ? `:${pad(d.getSeconds())}` : ''}`;
  return zone ? `${time} ${zone}` : time;
}
