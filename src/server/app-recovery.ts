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

/** The newest time a point recovers to by itself: its marker's, or its base backup's end; null for a tail point (its time is not known: it serves latest only). */
export function pointReach(app: AppPointMeta): number | null {
  if (app.point === 'full') return Date.parse(app.stopTime);
  return app.marker ? Date.parse(app.marker.time) : null;
}

export function planAppRecovery(all: readonly AppPointRow[], at: Date, sourceId: string): AppRecoveryPlan {
  const t = at.getTime();
  // Tail points serve latest only.
  const points = all.filter((p) => pointReach(p.app) !== null);
  const reach = (p: AppPointRow): number => pointReach(p.app)!;
  // The log point that reaches TIME soonest after it, on a base that ended before it: replay to TIME exactly.
  let best: AppPointRow | null = null;
  for (const p of points) {
    if (p.app.point !== 'log' || Date.parse(p.app.stopTime) > t || reach(p) < t) continue;
    if (!best || reach(p) < reach(best)) best = p;
  }
  if (best) return { point: best.id, time: at.toISOString() };
  // Else the newest point that reaches no later than TIME, recovered to itself.
  let before: AppPointRow | null = null;
  for (const p of points) if (reach(p) <= t && (!before || reach(p) > reach(before))) before = p;
  if (before) return { point: before.id, time: null };
  const oldest = points.map(reach).sort((a, b) => a - b)[0];
  throw new CustosError('not-found', oldest === undefined
    ? `${sourceId} has no recovery points`
    : `${sourceId} has nothing to recover at ${at.toISOString()}: its oldest point reaches ${new Date(oldest).toISOString()}`);
}
