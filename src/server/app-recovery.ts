/**
 * Which point of an application data source serves a recovery to a time
 * (docs/design/postgresql.md §7.1), pure. A log point holds its base's data
 * and the WAL through its marker, so it can replay to any time from its
 * base's end (the base backup's stop: PostgreSQL refuses a time target
 * before a backup's consistency point) to its marker's time.
 */
import { CustosError } from '../base/index.js';
import type { AppPointMeta } from '../format/index.js';

export interface AppPointRow {
  readonly id: string;
  readonly app: AppPointMeta;
}

export interface AppRecoveryPlan {
  readonly point: string;
  /** Replay to this time (recovery_target_time); null: to the point itself (the end of its base, or its marker). */
  readonly time: string | null;
}

/** The newest time a point recovers to by itself: its marker's, or its base backup's end. */
export function pointReach(app: AppPointMeta): number {
  return Date.parse(app.point === 'log' ? app.marker!.time : app.stopTime);
}

export function planAppRecovery(points: readonly AppPointRow[], at: Date, sourceId: string): AppRecoveryPlan {
  const t = at.getTime();
  // The log point that reaches TIME soonest after it, on a base that ended before it: replay to TIME exactly.
  let best: AppPointRow | null = null;
  for (const p of points) {
    if (p.app.point !== 'log' || Date.parse(p.app.stopTime) > t || pointReach(p.app) < t) continue;
    if (!best || pointReach(p.app) < pointReach(best.app)) best = p;
  }
  if (best) return { point: best.id, time: at.toISOString() };
  // Else the newest point that reaches no later than TIME, recovered to itself.
  let before: AppPointRow | null = null;
  for (const p of points) if (pointReach(p.app) <= t && (!before || pointReach(p.app) > pointReach(before.app))) before = p;
  if (before) return { point: before.id, time: null };
  const oldest = points.map((p) => pointReach(p.app)).sort((a, b) => a - b)[0];
  throw new CustosError('not-found', oldest === undefined
    ? `${sourceId} has no recovery points`
    : `${sourceId} has nothing to recover at ${at.toISOString()}: its oldest point reaches ${new Date(oldest).toISOString()}`);
}
