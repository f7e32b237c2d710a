/**
 * Log synchronization of a PostgreSQL cluster (docs/design/postgresql.md
 * §5): the data source's own physical replication slot keeps the WAL from
 * the end of the newest point on; each synchronization makes a marker (a
 * restore point and one committed transaction, so every time up to it can
 * be recovered), streams the slot's WAL from the newest point's last
 * segment through the marker into a spool (WalReceiver), and hands the
 * spool's segment files to the caller, which makes the log point. Only once
 * the point is in the pool is the slot moved on (advanceSlot): until then
 * PostgreSQL keeps every byte.
 */
import { readdirSync } from 'node:fs';
import type pg from 'pg';
import { CustosError } from '../../../base/index.js';
import { formatLsn, parseLsn, parseSegmentFileName, segmentOf, segmentStart } from '../../../format/postgres/wal-names.js';
import { connectAsOwner, type OwnerTarget } from './connect.js';
import { readFacts, type ClusterFacts } from './facts.js';
import { WalReceiver } from './wal-receiver.js';

/** Our slots' names (the server gives one per data source). */
const SLOT = /^custos_[0-9a-f]{12}$/;

function checkSlotName(slot: string): void {
  if (!SLOT.test(slot)) throw new CustosError('usage', `${JSON.stringify(slot.slice(0, 80))} is not a Custos replication slot name`);
}

async function one<T>(client: pg.Client, sql: string, params: unknown[] = []): Promise<T | undefined> {
  return (await client.query(sql, params)).rows[0] as T | undefined;
}

/** The slot's restart_lsn, or null when there is no such slot. */
export async function slotRestart(client: pg.Client, slot: string): Promise<bigint | null | 'unreserved'> {
  const r = await one<{ restart_lsn: string | null }>(client, "SELECT restart_lsn::text AS restart_lsn FROM pg_replication_slots WHERE slot_name = $1 AND slot_type = 'physical'", [slot]);
  if (!r) return null;
  return r.restart_lsn === null ? 'unreserved' : (parseLsn(r.restart_lsn) ?? 'unreserved');
}

/** Makes the data source's slot, reserving WAL from now on, unless it exists. */
export async function ensureSlot(client: pg.Client, slot: string): Promise<boolean> {
  checkSlotName(slot);
  if ((await slotRestart(client, slot)) !== null) return false;
  await client.query('SELECT pg_create_physical_replication_slot($1, true)', [slot]);
  return true;
}

/** Where a point's WAL must be read on from: the first byte of the segment holding its last byte (that segment may have been partial). */
export function resumeLsn(end: bigint, segmentBytes: number): bigint {
  return segmentStart(segmentOf(1, end - 1n, segmentBytes).segno, segmentBytes);
}

/**
 * Lets PostgreSQL recycle the WAL a committed point holds: the slot is moved
 * to the first byte of the segment holding the point's last byte (the next
 * synchronization reads on from there), never backwards.
 */
export async function advanceSlot(target: OwnerTarget, slot: string, end: bigint, segmentBytes: number): Promise<string | null> {
  checkSlotName(slot);
  const client = await connectAsOwner(target);
  try {
    const restart = await slotRestart(client, slot);
    const to = resumeLsn(end, segmentBytes);
    if (restart === null || restart === 'unreserved' || restart >= to) return null;
    await client.query('SELECT pg_replication_slot_advance($1, $2::pg_lsn)', [slot, formatLsn(to)]);
    return formatLsn(to);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface Marker {
  readonly name: string;
  readonly lsn: string;
  readonly xid: string;
  /** The database server's clock at the marker (ISO, UTC). */
  readonly time: string;
}

export interface LogSyncOptions {
  readonly target: OwnerTarget;
  readonly dataDirectory: string;
  readonly slot: string;
  readonly systemIdentifier: string;
  readonly timeline: number;
  readonly segmentBytes: number;
  /** Where the newest point's WAL ends. */
  readonly previousEnd: bigint;
  /** The restore point's name (custos-job-N). */
  readonly markerName: string;
  /** The spool: segment files as in pg_wal; made by the caller, emptied by it. */
  readonly spoolDir: string;
  readonly log: (level: 'info' | 'warning', message: string) => void;
  /** How long the WAL through the marker may take to arrive. */
  readonly timeoutMs?: number;
}

export interface LogSyncResult {
  readonly marker: Marker;
  /** The WAL in the spool ends here (at or after the marker's commit). */
  readonly walEnd: bigint;
  /** Segment file names in the spool, ascending: from the newest point's last segment through the one holding walEnd − 1. */
  readonly segments: readonly string[];
}

/** The checks before a synchronization: the same cluster, a primary on the same timeline, its slot holding what the newest point lacks. */
function checkForSync(f: ClusterFacts, o: LogSyncOptions, restart: bigint | null | 'unreserved'): void {
  if (f.dataDirectory !== o.dataDirectory) throw new CustosError('usage', `the cluster on this port now has its data in ${f.dataDirectory}, not ${o.dataDirectory}: discover it again`);
  if (f.systemIdentifier !== o.systemIdentifier) throw new CustosError('usage', `the cluster on this port is not the one protected (system identifier ${f.systemIdentifier}, was ${o.systemIdentifier})`);
  if (f.inRecovery) throw new CustosError('usage', 'the cluster is a standby (in recovery): protect its primary');
  if (restart === null || restart === 'unreserved') throw new CustosError('usage', `the replication slot ${o.slot} is gone: the log since the newest point is lost; the next express full starts again (custos point create makes one now)`);
  if (restart > resumeLsn(o.previousEnd, o.segmentBytes)) {
    throw new CustosError('usage', `the replication slot ${o.slot} no longer holds the log from ${formatLsn(resumeLsn(o.previousEnd, o.segmentBytes))} (it starts at ${formatLsn(restart)}): the next express full starts again (custos point create makes one now)`);
  }
}

export async function logSync(o: LogSyncOptions): Promise<LogSyncResult> {
  checkSlotName(o.slot);
  const client = await connectAsOwner(o.target);
  let marker: Marker;
  let through: bigint;
  try {
    const facts = await readFacts(client);
    checkForSync(facts, o, await slotRestart(client, o.slot));
    const tl = await one<{ timeline: number }>(client, 'SELECT timeline_id AS timeline FROM pg_control_checkpoint()');
    if (tl?.timeline !== o.timeline) throw new CustosError('usage', `the cluster is on timeline ${tl?.timeline}, its newest point on ${o.timeline} (it was promoted or recovered): the next express full starts again`);
    // The marker: a restore point names this point exactly; the commit makes every time up to it reachable by a time target.
    await client.query('BEGIN');
    const m = await one<{ lsn: string; xid: string; time: Date }>(client, 'SELECT pg_create_restore_point($1)::text AS lsn, pg_current_xact_id()::text AS xid, clock_timestamp() AS time', [o.markerName]);
    await client.query('COMMIT');
    marker = { name: o.markerName, lsn: m!.lsn, xid: m!.xid, time: m!.time.toISOString() };
    const after = await one<{ lsn: string }>(client, 'SELECT pg_current_wal_insert_lsn()::text AS lsn');
    through = parseLsn(after!.lsn)!;
  } finally {
    await client.end().catch(() => undefined);
  }
  const receiver = new WalReceiver({
    target: o.target, slot: o.slot, timeline: o.timeline, startLsn: resumeLsn(o.previousEnd, o.segmentBytes), segmentBytes: o.segmentBytes,
    spoolDir: o.spoolDir, flushed: () => 0n, log: o.log,
  });
  await receiver.start();
  let walEnd: bigint;
  try {
    await receiver.waitFor(through, o.timeoutMs ?? 60_000);
  } finally {
    await receiver.stop();
    walEnd = receiver.receivedLsn;
  }
  if (walEnd < through) throw new CustosError('io', `the WAL through the marker (${formatLsn(through)}) did not arrive (received up to ${formatLsn(walEnd)})`, { transient: true });
  const last = segmentOf(o.timeline, walEnd - 1n, o.segmentBytes).segno;
  const segments = readdirSync(o.spoolDir).filter((n) => {
    const s = parseSegmentFileName(n, o.segmentBytes);
    return s !== null && s.timeline === o.timeline && s.segno <= last;
  }).sort();
  o.log('info', `log received from ${formatLsn(resumeLsn(o.previousEnd, o.segmentBytes))} to ${formatLsn(walEnd)} (marker ${marker.name} at ${marker.lsn}, ${marker.time}): ${segments.length} segment file(s)`);
  return { marker, walEnd, segments };
}

/** Drops the data source's slot (it left protection); false when there is none. */
/** Bytes of WAL the slot holds back (from its restart point to the current position), or null when there is no such slot. */
export async function slotRetained(target: OwnerTarget, slot: string): Promise<number | null> {
  checkSlotName(slot);
  const client = await connectAsOwner(target);
  try {
    const r = await one<{ held: string | null }>(client, "SELECT (pg_current_wal_lsn() - restart_lsn)::bigint::text AS held FROM pg_replication_slots WHERE slot_name = $1 AND slot_type = 'physical'", [slot]);
    if (!r) return null;
    return r.held === null ? 0 : Math.max(0, Number(r.held));
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function dropSlot(target: OwnerTarget, slot: string): Promise<boolean> {
  checkSlotName(slot);
  const client = await connectAsOwner(target);
  try {
    if ((await slotRestart(client, slot)) === null) return false;
    await client.query('SELECT pg_drop_replication_slot($1)', [slot]);
    return true;
  } finally {
    await client.end().catch(() => undefined);
  }
}
