/**
 * Which points of one data source pruning drops. Pure: the caller lists the
 * points, deletes what this returns, and garbage-collects chunks. The rule
 * depends only on the points, the retention range and the time, so it gives
 * the same answer whenever pruning runs (nightly, after a job of the data
 * source, after a retention change).
 */
import { MAX_FILE_RECOVERY_POINTS, type ProtectionPolicy } from './policy.js';

export interface PointInfo {
  readonly id: string;
  readonly time: Date;
  /** false = a replica-only point left by a synchronization, not a scheduled or on-demand recovery point. */
  readonly recoveryPoint: boolean;
}

export interface PruneOptions {
  /** Recovery points kept at most; MAX_FILE_RECOVERY_POINTS (64) unless given (MAX_APP_RECOVERY_POINTS for applications). */
  readonly maxRecoveryPoints?: number;
}

/**
 * Why a point is dropped: `expired` — a recovery point older than the
 * retention range; `over-limit` — a recovery point beyond the newest
 * `maxRecoveryPoints`; `superseded` — a replica-only point with a newer point.
 */
export type PruneReason = 'expired' | 'over-limit' | 'superseded';

export interface PruneDecision {
  readonly id: string;
  readonly reason: PruneReason;
}

const DAY_MS = 86_400_000;

/**
 * The points to delete, oldest first, each with its reason. Rules, in order:
 *
 * 1. The newest point of any kind is never pruned: it is the replica. The
 *    newest recovery point is never pruned either, however old: a
 *    replica-only point left by a synchronization is often the newest, and
 *    the data source must keep a recovery point.
 * 2. A recovery point is kept while it is at most `retentionDays` × 24 h
 *    old, and dropped once it is older (DPM: a point goes only when it is
 *    older than the retention range). So every recovery point is kept at
 *    least retentionDays × 24 h, whatever the time of day or the weekday
 *    pruning runs.
 * 3. Only the newest `maxRecoveryPoints` recovery points (default 64, DPM's
 *    limit for files) are kept, even when the schedule would keep more.
 * 4. A replica-only point is dropped as soon as any point is newer.
 *
 * Points with equal times are ordered by id, so the result is deterministic.
 */
export function pruneDecisions(
  points: readonly PointInfo[],
  policy: Pick<ProtectionPolicy, 'retentionDays'>,
  now: Date,
  options: PruneOptions = {},
): PruneDecision[] {
  if (points.length === 0) return [];
  const max = Math.max(1, options.maxRecoveryPoints ?? MAX_FILE_RECOVERY_POINTS);
  const sorted = [...points].sort((a, b) => a.time.getTime() - b.time.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const newest = sorted[sorted.length - 1];
  const newestRecoveryPoint = sorted.findLast((p) => p.recoveryPoint);
  const oldestKept = now.getTime() - policy.retentionDays * DAY_MS;

  const drop = new Map<PointInfo, PruneReason>();
  let recoveryPointsKept = 0;
  for (let i = sorted.length - 1; i >= 0; i--) {
    const p = sorted[i];
    if (p === newest || p === newestRecoveryPoint) {
      if (p.recoveryPoint) recoveryPointsKept++;
    } else if (!p.recoveryPoint) {
      drop.set(p, 'superseded');
    } else if (p.time.getTime() < oldestKept) {
      drop.set(p, 'expired');
    } else if (recoveryPointsKept >= max) {
      drop.set(p, 'over-limit');
    } else {
      recoveryPointsKept++;
    }
  }
  return sorted.flatMap((p) => {
    const reason = drop.get(p);
    return reason === undefined ? [] : [{ id: p.id, reason }];
  });
}

/** Ids of the points pruneDecisions drops, oldest first. */
export function pointsToPrune(
  points: readonly PointInfo[],
  policy: Pick<ProtectionPolicy, 'retentionDays'>,
  now: Date,
  options: PruneOptions = {},
): string[] {
  return pruneDecisions(points, policy, now, options).map((d) => d.id);
}

/**
 * What to tell someone who asks for one more recovery point of a data source
 * holding recovery points made at `held`: null while one more fits under
 * `max`; otherwise that the oldest are pruned when it is made (pruning keeps
 * the newest `max`). DPM does not refuse such a point either: VSS drops the
 * oldest shadow copy.
 */
export function onDemandPointWarning(sourceId: string, held: readonly Date[], max: number = MAX_FILE_RECOVERY_POINTS): string | null {
  if (held.length === 0 || held.length < max) return null;
  const oldest = held.reduce((a, b) => (b.getTime() < a.getTime() ? b : a));
  const goes = held.length - max + 1;
  return (
    `${sourceId} already has ${held.length} recovery points, the most kept for a file data source (${max}, DPM's limit): ` +
    (goes === 1
      ? `when this one is made, the oldest (${oldest.toISOString()}) is pruned`
      : `when this one is made, the oldest ${goes} (from ${oldest.toISOString()} on) are pruned`)
  );
}
