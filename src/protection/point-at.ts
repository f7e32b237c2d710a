/**
 * Which recovery point a time names: the newest at or before it (DPM's
 * "recover to a point in time"). Points made after the time are never
 * chosen, so the recovered data never holds a change made after it.
 */
import { CustosError } from '../base/index.js';

/** The newest point whose time is at or before `at`; a clear not-found error (naming the oldest point's time) when none is. */
export function pointAt<P extends { readonly time: string }>(points: readonly P[], at: Date, source: string): P {
  let chosen: P | undefined;
  let oldest: P | undefined;
  for (const p of points) {
    const t = Date.parse(p.time);
    if (oldest === undefined || t < Date.parse(oldest.time)) oldest = p;
    if (t <= at.getTime() && (chosen === undefined || t >= Date.parse(chosen.time))) chosen = p;
  }
  if (chosen) return chosen;
  if (!oldest) throw new CustosError('not-found', `${source} has no recovery points`);
  throw new CustosError('not-found', `${source} has no recovery point at or before ${at.toISOString()}: the oldest is at ${oldest.time}`);
}
