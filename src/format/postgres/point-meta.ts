/**
 * The `app` metadata of a postgres recovery point (docs/design/postgresql.md
 * §4.4, docs/design/pool-format.md "Application points"): what the agent
 * that made an express full says about it, carried in its commit, kept in
 * the point object and in the catalog. Everything here comes from an agent or
 * from a file in the pool, so it is parsed strictly: exact fields, types,
 * ranges, and the LSNs and WAL file names agreeing with one another.
 */
import { CustosError } from '../../base/index.js';
import { isSegmentSize, parseLsn, parseSegmentFileName, segmentFileName, segmentOf } from './wal-names.js';

/**
 * The metadata of a postgres point. A full point (an express full) is a base
 * backup (data/, label/) with the WAL from its start through its stop
 * (wal/). A log point (a synchronization) is its base full's tree with the
 * WAL from the base's start through `walEnd`, which holds a marker: a
 * restore point and a commit made by the synchronization, so every time up
 * to the marker's can be recovered. The base fields (version … dataChecksums)
 * are the base backup's, in both.
 */
export interface PostgresPointMeta {
  readonly kind: 'postgres';
  readonly point: 'full' | 'log';
  /** logs: its WAL is synchronized (a replication slot of ours); full-only: express fulls only. */
  readonly logMode: 'logs' | 'full-only';
  /** server_version_num (150018). */
  readonly version: number;
  /** The cluster's system identifier, decimal. */
  readonly systemIdentifier: string;
  readonly walSegmentSize: number;
  /** The block size relation files were cut in. */
  readonly blockSize: number;
  readonly timeline: number;
  readonly startLsn: string;
  readonly stopLsn: string;
  /** ISO 8601, UTC: when the backup started and stopped (the agent's clock). */
  readonly startTime: string;
  readonly stopTime: string;
  readonly dataChecksums: boolean;
  /** The first and last WAL segment files in the point (wal/NAME): the base's start segment through the one holding the end. */
  readonly walSegments: readonly [string, string];
  /** Log points: the full point whose data/ this is. */
  readonly base?: string;
  /** Log points: the WAL in the point ends here (after the marker). */
  readonly walEnd?: string;
  /**
   * Log points: the restore point and commit the synchronization made;
   * `time` is the database server's clock at it. null: a tail point (the
   * WAL read from a stopped cluster's pg_wal for a recovery to the latest:
   * it replays to its last whole record, at a time no marker tells).
   */
  readonly marker?: PointMarker | null;
}

export interface PointMarker { readonly name: string; readonly lsn: string; readonly xid: string; readonly time: string }

const FIELDS = ['kind', 'point', 'logMode', 'version', 'systemIdentifier', 'walSegmentSize', 'blockSize', 'timeline', 'startLsn', 'stopLsn', 'startTime', 'stopTime', 'dataChecksums', 'walSegments'] as const;
/** The `app` of a recovery point: one kind so far. */
export type AppPointMeta = PostgresPointMeta;

const LOG_FIELDS = ['base', 'walEnd', 'marker'] as const;
/** A synchronization's restore point: custos-job-N. */
export const MARKER_NAME = /^custos-[0-9a-z-]{1,60}$/;
const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;

function bad(path: string, what: string): never {
  throw new CustosError('format', `${path} ${what}`);
}

function int(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(path, `must be a whole number from ${min} to ${max}`);
  return v;
}

function lsn(v: unknown, path: string): bigint {
  const n = typeof v === 'string' && v.length <= 17 ? parseLsn(v) : null;
  if (n === null) bad(path, 'must be an LSN (X/X in hexadecimal)');
  return n;
}

function time(v: unknown, path: string): string {
  if (typeof v !== 'string' || !ISO_UTC.test(v) || Number.isNaN(Date.parse(v))) bad(path, 'must be a UTC time (ISO 8601, ending in Z)');
  return v;
}

/** Whether `n` is a block size a writer may cut relation files in (a power of two from 4 KiB to 1 MiB, as the pipeline's fixed blocks). */
function isBlockSize(n: number): boolean {
  return Number.isInteger(n) && n >= 4096 && n <= 1024 * 1024 && (n & (n - 1)) === 0;
}

/** A log point's marker: a restore point between the base's stop and the WAL's end. */
function parseMarker(m: unknown, path: string, stop: bigint, end: bigint): PointMarker {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) bad(path, 'must be an object or null');
  const mo = m as Record<string, unknown>;
  for (const k of Object.keys(mo)) if (!['name', 'lsn', 'xid', 'time'].includes(k)) bad(path, `has an unknown field ${JSON.stringify(k.slice(0, 40))}`);
  const name = mo['name'];
  if (typeof name !== 'string' || !MARKER_NAME.test(name)) bad(`${path}.name`, 'must be custos- and up to 60 letters, digits or -');
  const at = lsn(mo['lsn'], `${path}.lsn`);
  if (at < stop || at > end) bad(`${path}.lsn`, 'must be between stopLsn and walEnd');
  const xid = mo['xid'];
  if (typeof xid !== 'string' || !/^[1-9][0-9]{0,19}$/.test(xid)) bad(`${path}.xid`, 'must be a transaction id in decimal');
  return { name, lsn: mo['lsn'] as string, xid, time: time(mo['time'], `${path}.time`) };
}

/**
 * A postgres point's metadata, or a `format` error naming the field
 * (`path` prefixes it: "commit.app.stopLsn must be …").
 */
export function parsePointMeta(v: unknown, path = 'app'): AppPointMeta {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(path, 'must be an object');
  const o = v as Record<string, unknown>;
  const log = o['point'] === 'log';
  for (const k of Object.keys(o)) if (!(FIELDS as readonly string[]).includes(k) && !(log && (LOG_FIELDS as readonly string[]).includes(k))) bad(path, `has an unknown field ${JSON.stringify(k.slice(0, 40))}`);
  for (const k of [...FIELDS, ...(log ? LOG_FIELDS : [])]) if (!Object.hasOwn(o, k)) bad(path, `lacks the field ${k}`);
  if (o['kind'] !== 'postgres') bad(`${path}.kind`, 'must be postgres');
  if (o['point'] !== 'full' && o['point'] !== 'log') bad(`${path}.point`, 'must be full or log');
  if (o['logMode'] !== 'logs' && o['logMode'] !== 'full-only') bad(`${path}.logMode`, 'must be logs or full-only');
  if (log && o['logMode'] !== 'logs') bad(`${path}.logMode`, 'must be logs in a log point');
  const version = int(o['version'], `${path}.version`, 130000, 999999);
  const systemIdentifier = o['systemIdentifier'];
  if (typeof systemIdentifier !== 'string' || !/^[1-9][0-9]{0,19}$/.test(systemIdentifier) || BigInt(systemIdentifier) >= 1n << 64n) bad(`${path}.systemIdentifier`, 'must be a 64-bit number in decimal');
  const walSegmentSize = int(o['walSegmentSize'], `${path}.walSegmentSize`, 1, 0x4000_0000);
  if (!isSegmentSize(walSegmentSize)) bad(`${path}.walSegmentSize`, 'must be a power of two from 1 MiB to 1 GiB');
  const blockSize = int(o['blockSize'], `${path}.blockSize`, 1, 1024 * 1024);
  if (!isBlockSize(blockSize)) bad(`${path}.blockSize`, 'must be a power of two from 4 KiB to 1 MiB');
  const timeline = int(o['timeline'], `${path}.timeline`, 1, 0xffff_ffff);
  const start = lsn(o['startLsn'], `${path}.startLsn`);
  const stop = lsn(o['stopLsn'], `${path}.stopLsn`);
  if (stop <= start) bad(`${path}.stopLsn`, 'must be after startLsn');
  const startTime = time(o['startTime'], `${path}.startTime`);
  const stopTime = time(o['stopTime'], `${path}.stopTime`);
  if (Date.parse(stopTime) < Date.parse(startTime)) bad(`${path}.stopTime`, 'must not be before startTime');
  if (typeof o['dataChecksums'] !== 'boolean') bad(`${path}.dataChecksums`, 'must be true or false');
  const segments = o['walSegments'];
  if (!Array.isArray(segments) || segments.length !== 2 || !segments.every((s) => typeof s === 'string' && s.length === 24)) bad(`${path}.walSegments`, 'must be two WAL segment file names');
  const [first, last] = segments as [string, string];
  // The segments are exactly those the LSNs name: the one holding the start, the one holding the end's last byte.
  let end = stop;
  let extra: Pick<PostgresPointMeta, 'base' | 'walEnd' | 'marker'> = {};
  if (log) {
    const base = o['base'];
    if (typeof base !== 'string' || !/^[0-9a-f]{32}$/.test(base)) bad(`${path}.base`, 'must be a recovery point id');
    end = lsn(o['walEnd'], `${path}.walEnd`);
    if (end < stop) bad(`${path}.walEnd`, 'must not be before stopLsn');
    extra = { base, walEnd: o['walEnd'] as string, marker: o['marker'] === null ? null : parseMarker(o['marker'], `${path}.marker`, stop, end) };
  }
  const wantFirst = segmentFileName(segmentOf(timeline, start, walSegmentSize), walSegmentSize);
  const wantLast = segmentFileName(segmentOf(timeline, end - 1n, walSegmentSize), walSegmentSize);
  if (parseSegmentFileName(first, walSegmentSize) === null || first !== wantFirst) bad(`${path}.walSegments[0]`, `must be ${wantFirst}, the segment of startLsn`);
  if (parseSegmentFileName(last, walSegmentSize) === null || last !== wantLast) bad(`${path}.walSegments[1]`, `must be ${wantLast}, the segment before ${log ? 'walEnd' : 'stopLsn'}`);
  return {
    kind: 'postgres', point: log ? 'log' : 'full', logMode: o['logMode'], version, systemIdentifier, walSegmentSize, blockSize, timeline,
    startLsn: o['startLsn'] as string, stopLsn: o['stopLsn'] as string, startTime, stopTime, dataChecksums: o['dataChecksums'], walSegments: [first, last],
    ...extra,
  };
}
