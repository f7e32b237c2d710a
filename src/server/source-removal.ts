/**
 * Taking data sources out of the catalog's care: their points deleted
 * (recovery points and the replica-only points synchronizations left,
 * counted apart; the pool's space comes back at the next garbage
 * collection), and data sources no agent has any more removed for good.
 */
import { CustosError } from '../base/index.js';
import type { DataSourceRow } from '../catalog/index.js';
import type { RecoveryPointId } from '../base/index.js';
import type { ServerContext } from './context.js';

export interface PointsDeleted {
  recoveryPoints: number;
  replicaOnly: number;
}

/** Deletes every point of `source` from the catalog and the pool and resets its replica. */
export async function deleteSourcePoints(ctx: ServerContext, source: string): Promise<PointsDeleted> {
  const c = ctx.catalog;
  const out: PointsDeleted = { recoveryPoints: 0, replicaOnly: 0 };
  for (const p of await c.listPoints(source)) {
    await c.deletePoints([p.id]);
    await ctx.pool.deletePoint(p.id as RecoveryPointId);
    if (p.recovery_point === 1) out.recoveryPoints++;
    else out.replicaOnly++;
  }
  await c.updateSource(source, { replica_state: 'none', used_bytes: 0, last_point_slot: null, last_check_slot: null, last_sync_started_at: null });
  ctx.fileIndex.sourceChanged(source);
  return out;
}

/** Refuses while jobs of these data sources run; cancels the queued ones. */
export async function stopSourceJobs(ctx: ServerContext, sources: readonly DataSourceRow[], what: string): Promise<void> {
  const ids = new Set(sources.map((s) => s.id));
  const busy = (await ctx.catalog.listJobs({ states: ['running'], limit: 10_000 })).filter((j) => j.source_id !== null && ids.has(j.source_id));
  if (busy.length > 0) throw new CustosError('exists', `jobs are running for ${what} (${busy.map((j) => j.id).join(', ')}); cancel them or wait`);
  for (const q of await ctx.catalog.listJobs({ states: ['queued'], limit: 10_000 })) {
    if (q.source_id !== null && ids.has(q.source_id)) await ctx.engine.cancel(q.id);
  }
}

/**
 * Removes a data source that is in no protection group: with
 * `deletePoints`, its points first; without, only when it has none left.
 */
export async function removeSource(ctx: ServerContext, s: DataSourceRow, deletePoints: boolean): Promise<PointsDeleted> {
  if (s.group_name !== null) {
    throw new CustosError('exists', `${s.id} is protected by group ${s.group_name}: take it out first (custos group update ${s.group_name} --remove-source '${s.id}')`);
  }
  await stopSourceJobs(ctx, [s], s.id);
  const kept = (await ctx.catalog.listPoints(s.id, true)).length;
  if (kept > 0 && !deletePoints) {
    throw new CustosError('exists', `${s.id} still has ${kept} recovery point${kept === 1 ? '' : 's'}: add --delete-points to delete them with it (they cannot be recovered afterwards)`);
  }
  const deleted = await deleteSourcePoints(ctx, s.id);
  await ctx.catalog.deleteSource(s.id);
  await ctx.alerts.sourceRemoved(s.id, ctx.clock.now());
  return deleted;
}
