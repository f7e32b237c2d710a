/**
 * The scheduler's marks in the catalog (last_point_slot, last_check_slot) and
 * when a data source's schedule starts (the time it joined its group): the
 * job engine's tick reads them, and the group update and the end of a job
 * that read the whole data source move them (servedMarks, src/jobs).
 */
import type { DataSourceRow } from '../catalog/index.js';
import { servedMarks, type ScheduleParts } from '../jobs/index.js';
import type { ProtectionPolicy } from '../protection/index.js';

/** When a data source joined its group: no slot before this is due. */
export function scheduleSince(s: Pick<DataSourceRow, 'added_to_group_at' | 'created_at'>): Date {
  return new Date(s.added_to_group_at ?? s.created_at);
}

/** servedMarks as a catalog patch of the data source (empty when no mark moves). */
export function servedMarksPatch(
  s: Pick<DataSourceRow, 'added_to_group_at' | 'created_at'>,
  policy: ProtectionPolicy,
  at: Date,
  parts: ScheduleParts,
): { last_point_slot?: string; last_check_slot?: string } {
  const m = servedMarks(policy, at, scheduleSince(s), parts);
  return {
    ...(m.lastPointSlot !== undefined ? { last_point_slot: m.lastPointSlot } : {}),
    ...(m.lastCheckSlot !== undefined ? { last_check_slot: m.lastCheckSlot } : {}),
  };
}
