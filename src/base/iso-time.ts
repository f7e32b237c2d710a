/**
 * ISO 8601 times as people and the REST API write them: `2026-12-01T17:00`,
 * with or without seconds (and a fraction), with `Z`, an offset
 * (`+01:00`) or none (then the local time of this process). Parsed by hand,
 * field by field, because `Date.parse` accepts more than ISO (and different
 * things in different engines) and silently rolls 2026-02-30 into March.
 */

/** The date and clock part, without an offset, as a regular expression source (no anchors). */
export const ISO_LOCAL_TIME_SOURCE = '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,9})?)?';
/** The offset part: `Z` or `±HH:MM`. */
export const ISO_OFFSET_SOURCE = '(Z|[+-][0-9]{2}:[0-9]{2})';

const ISO = /^([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?(Z|[+-][0-9]{2}:[0-9]{2})?$/;

/** How much of the clock a time gave: the instant stands for the start of that minute, second or millisecond. */
export type TimePrecision = 'minute' | 'second' | 'millisecond';

export interface ParsedIsoTime {
  readonly date: Date;
  readonly precision: TimePrecision;
  /** Whether the text carried `Z` or an offset (else it was read as local time). */
  readonly hasOffset: boolean;
}

/**
 * An ISO time, or undefined when the text is not one or names a day or hour
 * that does not exist (2026-02-30, 24:00, a local time skipped by a daylight
 * saving change, a year before 1970). A local time that happens twice (the hour repeated when
 * clocks go back) is the first of the two.
 */
export function parseIsoTime(text: string): ParsedIsoTime | undefined {
  if (text.length > 40) return undefined;
  const m = ISO.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number) as [number, number, number, number, number];
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  if (year < 1970 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  if (day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return undefined;
  const precision: TimePrecision = m[7] !== undefined ? 'millisecond' : m[6] !== undefined ? 'second' : 'minute';
  const offset = m[8];
  if (offset === undefined) {
    const d = new Date(year, month - 1, day, hour, minute, second, ms);
    if (d.getFullYear() !== year || d.getMonth() !== month - 1 || d.getDate() !== day || d.getHours() !== hour || d.getMinutes() !== minute) return undefined;
    return { date: d, precision, hasOffset: false };
  }
  let offsetMinutes = 0;
  if (offset !== 'Z') {
    const oh = Number(offset.slice(1, 3));
    const om = Number(offset.slice(4, 6));
    if (oh > 14 || om > 59) return undefined;
    offsetMinutes = (offset.startsWith('-') ? -1 : 1) * (oh * 60 + om);
  }
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMinutes * 60_000;
  const d = new Date(utc);
  if (Number.isNaN(d.getTime())) return undefined;
  return { date: d, precision, hasOffset: true };
}
