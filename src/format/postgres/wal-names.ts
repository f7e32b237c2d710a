/**
 * PostgreSQL's write-ahead log positions and file names, as the protection
 * of a cluster reads and writes them (docs/design/postgresql.md, §2 and §5):
 *
 * - an LSN is a 64-bit byte position in the log, written `HI/LO` with both
 *   halves in upper-case hexadecimal without leading zeros (`16/B374D848`);
 * - a WAL segment file holds `segmentBytes` of the log (16 MiB unless
 *   initdb said otherwise: a power of two from 1 MiB to 1 GiB) and is named
 *   `TTTTTTTTXXXXXXXXYYYYYYYY`: the timeline, then the segment number split
 *   into the "log" (which 4 GiB of the log) and the segment within it;
 * - a timeline's history file `TTTTTTTT.history` lists, a line each, the
 *   parent timelines and the LSN where each switched (`1\t0/3000060\treason`).
 *
 * Pure, strict parsers: anything that is not exactly one of these forms is
 * refused (`null` or a `format` error), since names come from another
 * computer's disk and WAL streams.
 */
import { CustosError } from '../../base/index.js';

const TWO_32 = 0x1_0000_0000n;
const MAX_LSN = (1n << 64n) - 1n;

/** The default and the bounds of a cluster's WAL segment size (initdb --wal-segsize, in bytes). */
export const DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024;
export const MIN_SEGMENT_BYTES = 1024 * 1024;
export const MAX_SEGMENT_BYTES = 1024 * 1024 * 1024;

/** Whether `n` may be a WAL segment size: a power of two from 1 MiB to 1 GiB. */
export function isSegmentSize(n: number): boolean {
  return Number.isInteger(n) && n >= MIN_SEGMENT_BYTES && n <= MAX_SEGMENT_BYTES && (n & (n - 1)) === 0;
}

function checkSegmentSize(n: number): bigint {
  if (!isSegmentSize(n)) throw new CustosError('format', `${n} is not a WAL segment size (a power of two from 1 MiB to 1 GiB)`);
  return BigInt(n);
}

/** `HI/LO` → the LSN; null for anything else (lower case is accepted, as PostgreSQL's pg_lsn input does). */
export function parseLsn(text: string): bigint | null {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!m) return null;
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** The LSN as PostgreSQL writes it: `HI/LO`, upper-case hexadecimal, no leading zeros. */
export function formatLsn(lsn: bigint): string {
  if (lsn < 0n || lsn > MAX_LSN) throw new CustosError('format', `${lsn} is not an LSN`);
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffff_ffffn).toString(16).toUpperCase()}`;
}

/** A WAL segment: its timeline and its number (the LSN of its first byte is segno × segment size). */
export interface WalSegment {
  readonly timeline: number;
  readonly segno: bigint;
}

/** The segment holding byte `lsn` of the log. */
export function segmentOf(timeline: number, lsn: bigint, segmentBytes = DEFAULT_SEGMENT_BYTES): WalSegment {
  checkTimeline(timeline);
  if (lsn < 0n || lsn > MAX_LSN) throw new CustosError('format', `${lsn} is not an LSN`);
  return { timeline, segno: lsn / checkSegmentSize(segmentBytes) };
}

/** The LSN of a segment's first byte. */
export function segmentStart(segno: bigint, segmentBytes = DEFAULT_SEGMENT_BYTES): bigint {
  return segno * checkSegmentSize(segmentBytes);
}

/** `TTTTTTTTXXXXXXXXYYYYYYYY` of a segment. */
export function segmentFileName(s: WalSegment, segmentBytes = DEFAULT_SEGMENT_BYTES): string {
  checkTimeline(s.timeline);
  const perLog = TWO_32 / checkSegmentSize(segmentBytes);
  return hex8(BigInt(s.timeline)) + hex8(s.segno / perLog) + hex8(s.segno % perLog);
}

/**
 * A segment file's name → its segment; null for any other name (a
 * `.partial` or `.history` file, lower case, a segment number within the
 * log that this segment size cannot have, timeline 0).
 */
export function parseSegmentFileName(name: string, segmentBytes = DEFAULT_SEGMENT_BYTES): WalSegment | null {
  const m = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/.exec(name);
  if (!m) return null;
  const timeline = Number.parseInt(m[1]!, 16);
  if (timeline === 0) return null;
  const perLog = TWO_32 / checkSegmentSize(segmentBytes);
  const log = BigInt(`0x${m[2]}`);
  const seg = BigInt(`0x${m[3]}`);
  if (seg >= perLog) return null;
  return { timeline, segno: log * perLog + seg };
}

/** `TTTTTTTT.history`. */
export function historyFileName(timeline: number): string {
  checkTimeline(timeline);
  return `${hex8(BigInt(timeline))}.history`;
}

/** A history file's name → its timeline; null for any other name. */
export function parseHistoryFileName(name: string): number | null {
  const m = /^([0-9A-F]{8})\.history$/.exec(name);
  if (!m) return null;
  const t = Number.parseInt(m[1]!, 16);
  return t === 0 ? null : t;
}

/** One line of a history file: the timeline `parent` ended at `switchLsn` (the next line's parent, or this file's timeline, began there). */
export interface TimelineSwitch {
  readonly parent: number;
  readonly switchLsn: bigint;
  readonly reason: string;
}

/**
 * A history file's text → its switches, oldest first. Blank lines and lines
 * starting with `#` are skipped, as PostgreSQL does; the parents must rise
 * and the switch points must not go back, else `format`.
 */
export function parseHistory(text: string, timeline: number): TimelineSwitch[] {
  checkTimeline(timeline);
  const out: TimelineSwitch[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) continue;
    const m = /^\s*(\d{1,10})\s+([0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8})(?:\s+(.*))?$/.exec(line);
    const bad = (why: string) => new CustosError('format', `history of timeline ${timeline}, line ${i + 1}: ${why}`);
    if (!m) throw bad('is not "PARENT<tab>LSN<tab>REASON"');
    const parent = Number(m[1]);
    const switchLsn = parseLsn(m[2]!)!;
    const last = out.at(-1);
    if (parent < 1 || parent >= timeline) throw bad(`parent timeline ${parent} is not below ${timeline}`);
    if (last && parent <= last.parent) throw bad(`parent timeline ${parent} does not follow ${last.parent}`);
    if (last && switchLsn < last.switchLsn) throw bad(`switch point ${formatLsn(switchLsn)} is before ${formatLsn(last.switchLsn)}`);
    out.push({ parent, switchLsn, reason: (m[3] ?? '').trim() });
  }
  return out;
}

/** The timeline byte `lsn` of the log belongs to, for a history read on `timeline` (the newest): the first switch at or after it ends its parent's. */
export function timelineAt(history: readonly TimelineSwitch[], timeline: number, lsn: bigint): number {
  for (const s of history) if (lsn < s.switchLsn) return s.parent;
  return timeline;
}

function checkTimeline(t: number): void {
  if (!Number.isInteger(t) || t < 1 || t > 0xffff_ffff) throw new CustosError('format', `${t} is not a timeline (1 to 4294967295)`);
}

function hex8(n: bigint): string {
  return n.toString(16).toUpperCase().padStart(8, '0');
}
