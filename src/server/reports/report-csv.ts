/**
 * A report as CSV: its main table (reportTables' first), a header row and
 * one row per line, machine values (bytes, seconds, ISO times). RFC 4180:
 * CRLF line ends, a field holding a comma, quote, CR or LF is quoted with
 * its quotes doubled. A field that a spreadsheet would run as a formula
 * (starting with =, +, -, @, a tab or a CR — a group or path name can be
 * anything) is neutralised with a leading apostrophe.
 */
import { reportTables, type Report } from '../../protocol/rest/index.js';

const FORMULA_START = /^[=+\-@\t\r]/;

/** One CSV field. */
export function csvField(value: string): string {
  const v = FORMULA_START.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function csvLine(fields: readonly string[]): string {
  return `${fields.map(csvField).join(',')}\r\n`;
}

export function reportCsv(r: Report): string {
  const main = reportTables(r, { raw: true })[0]!;
  return [main.headers, ...main.rows].map(csvLine).join('');
}
