/**
 * Which points of one data source the nightly prune drops. Pure: the caller
 * lists the points, deletes what this returns, and garbage-collects chunks.
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
 * Ids of the points to delete, oldest first. Rules, in order:
 *
 * 1. The newest point of any kind is never pruned: it is the replica.
 * 2. Whole days: a recovery point is kept while its local calendar date is
 *    within the last `retentionDays` dates, today included. Retention 5d on
 *    Nov 22 keeps points dated Nov 18..22 and drops Nov 17 and earlier,
 *    whatever their time of day (DPM keeps the replica plus N-1 days).
 * 3. Only the newest `maxRecoveryPoints` recovery points (default 64, DPM's
 *    limit for files) are kept, even when the schedule would keep more.
 * 4. A replica-only point is dropped as soon as any point is newer.
 *
 * Points with equal times are ordered by id, so the result is deterministic.
 */
export function pointsToPrune(
  points: readonly PointInfo[],
  policy: Pick<ProtectionPolicy, 'retentionDays'>,
  now: Date,
  options: PruneOptions = {},
): string[] {
  if (points.length === 0) return [];
  const max = options.maxRecoveryPoints ?? MAX_FILE_RECOVERY_POINTS;
  const sorted = [...points].sort((a, b) => a.time.getTime() - b.time.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const newest = sorted[sorted.length - 1];
  const oldestKeptDay = new Date(now.getFullYear(), now.getMonth(), now.getDate() - policy.retentionDays + 1).getTime();

  const drop = new Set<PointInfo>();
  let recoveryPointsKept = 0;
  for (let i = sorted.length - 1; i >= 0; i--) {
    const p = sorted[i];
    if (p === newest) {
      if (p.recoveryPoint) recoveryPointsKept++;
      continue;
    }
    if (!p.recoveryPoint || p.time.getTime() < oldestKeptDay || recoveryPointsKept >= max) {
      drop.add(p);
    } else {
      recoveryPointsKept++;
    }
  }
  return sorted.filter((p) => drop.has(p)).map((p) => p.id);
}
