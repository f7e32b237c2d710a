/**
 * The continuity rule of a postgres point's WAL (docs/design/postgresql.md
 * §8.2): the `wal/` files of its manifest against its metadata. Pure; the
 * server applies it when a point is committed (a gap refuses the commit)
 * and in the consistency check, where a file whose chunks are gone from the
 * pool counts as ending at the first missing one.
 *
 * A point replays from its base's start segment (`walSegments[0]`) through
 * its end (`walEnd`, or the base's `stopLsn` for a full), on its one
 * timeline: every segment between is there, each but the last whole
 * (`walSegmentSize` bytes), the last reaching the end. The timeline's
 * history file may be there too; nothing else may.
 */
import type { AppPointMeta } from './point-meta.js';
import { formatLsn, parseHistoryFileName, parseLsn, parseSegmentFileName, segmentFileName, segmentStart } from './wal-names.js';

/** A file under `wal/` of a point: its name, its size, and how many of its first bytes can be read (size, unless chunks are missing). */
export interface WalFile {
  readonly name: string;
  readonly size: number;
  readonly readable?: number;
}

export interface WalChainReport {
  /** What is wrong, a sentence each; empty when the WAL is whole. */
  readonly problems: readonly string[];
  /**
   * How far the point's WAL replays without a gap: its end when whole; the
   * first byte that is missing otherwise. Before the base's stop, the point
   * cannot be recovered at all.
   */
  readonly replayableTo: bigint;
  /** Whether the point can be recovered at all (its WAL reaches the base backup's stop). */
  readonly recoverable: boolean;
}

/** At most this many problems are named (a pool that lost a pack can miss thousands of segments). */
const MAX_PROBLEMS = 20;

export function walChainProblems(meta: AppPointMeta, files: readonly WalFile[]): WalChainReport {
  const size = meta.walSegmentSize;
  const first = parseSegmentFileName(meta.walSegments[0], size)!;
  const last = parseSegmentFileName(meta.walSegments[1], size)!;
  const end = parseLsn(meta.walEnd ?? meta.stopLsn)!;
  const stop = parseLsn(meta.stopLsn)!;
  const problems: string[] = [];
  const say = (text: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push(text);
    else if (problems.length === MAX_PROBLEMS) problems.push('… and more');
  };
  const segments = new Map<bigint, WalFile>();
  for (const f of files) {
    const seg = parseSegmentFileName(f.name, size);
    if (seg === null) {
      const history = parseHistoryFileName(f.name);
      if (history !== meta.timeline) say(`wal/${f.name} is not a WAL segment or the history of timeline ${meta.timeline}`);
      continue;
    }
    if (seg.timeline !== meta.timeline) say(`wal/${f.name} is on timeline ${seg.timeline}, not the point's ${meta.timeline}`);
    else if (seg.segno < first.segno || seg.segno > last.segno) say(`wal/${f.name} is outside the point's WAL (${meta.walSegments[0]} to ${meta.walSegments[1]})`);
    else segments.set(seg.segno, f);
  }
  // The first byte the replay cannot read: walking up from the start segment, the first missing or short one.
  let replayableTo = end;
  let segno = first.segno;
  const ordered = [...segments.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let at = 0;
  while (segno <= last.segno) {
    const f = ordered[at] === segno ? segments.get(segno)! : null;
    const name = segmentFileName({ timeline: meta.timeline, segno }, size);
    const segStart = segmentStart(segno, size);
    const needed = segno === last.segno ? Number(end - segStart) : size;
    if (f === null) {
      // Missing from here to the next present segment (or the end): one problem for the whole run.
      const next = ordered[at];
      const upTo = next === undefined ? last.segno : next - 1n;
      const lastName = segmentFileName({ timeline: meta.timeline, segno: upTo }, size);
      say(upTo === segno ? `WAL segment ${name} is missing` : `WAL segments ${name} to ${lastName} are missing (${upTo - segno + 1n})`);
      if (replayableTo === end) replayableTo = segStart;
      segno = upTo + 1n;
      continue;
    }
    at++;
    const readable = Math.min(f.readable ?? f.size, f.size);
    if (segno !== last.segno && f.size !== size) say(`WAL segment ${name} holds ${f.size} bytes, not ${size}`);
    if (readable < needed) {
      if (readable === 0) say(`WAL segment ${name} is missing from the pool`);
      else if (readable < f.size) say(`WAL segment ${name} can be read only to byte ${readable} of ${f.size}: the rest is missing from the pool`);
      else if (segno === last.segno) say(`WAL segment ${name} holds ${f.size} bytes; the point's WAL ends at ${formatLsn(end)}, byte ${needed} of it`);
      if (replayableTo === end) replayableTo = segStart + BigInt(readable);
    }
    segno++;
  }
  return { problems, replayableTo, recoverable: replayableTo >= stop };
}
