/**
 * /api/data-sources, their recovery points and on-demand jobs; /api/recoveries.
 * A recovery-operator sees and recovers only the data sources in its scope,
 * and recovers only to agents that own one of them.
 */
import type { FastifyInstance } from 'fastify';
import { CustosError, parseIsoTime, pointByRef } from '../../../base/index.js';
import { checkItemsExist, missingItemsError, resolveItems, type RequestedItem } from '../../../agent/restore/items.js';
import type { DataSourceRow, PointRow, SourceSummaryRow } from '../../../catalog/index.js';
import type { JobKind } from '../../../jobs/index.js';
import { grownByHand, isSystemTarget, parseThrottle, pointAt } from '../../../protection/index.js';
import { formatBytes } from '../../../protocol/rest/present.js';
import { DEFAULT_CONFLICT } from '../../../protocol/index.js';
import { api, ORIGINAL_TARGET, type RecoveryRequest } from '../../../protocol/rest/index.js';
import { sourceInScope, type Principal } from '../../auth.js';
import { hasTargetScopes, targetScopeRefusal, type RecoveryWhere } from '../../principal.js';
import type { ServerContext } from '../../context.js';
import { badRequest } from '../../http-errors.js';
import { appJobRefusal, appOf, parseInstanceTarget, parseTarget } from '../../source-id.js';
import { serverTargetPath } from '../../server-recovery.js';
import { planAppRecovery } from '../../app-recovery.js';
import { checkServerTargetRequest, enqueueServerRecovery } from './server-targets.js';
import { jobView, pointView, sourceView } from '../../views.js';
import { serve } from '../serve.js';
import { visibleSource } from './visible-source.js';
import { removeSource } from '../../source-removal.js';

export function registerDataSourceRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const c = ctx.catalog;

  const sourceFor = (p: Principal, id: string): Promise<DataSourceRow> => visibleSource(c, p, id);

  /** Newest point and count: recovery points only (a synchronization's replica-only point shows as lastSynchronized). */
  const view = (s: SourceSummaryRow) => sourceView(s, s.newest_time, Number(s.point_count));

  serve(app, api.listSources, async ({ query, principal }) => {
    const filter = { group: query.group, agent: query.agent, state: query.state, search: query.search };
    const rows = await pageInScope((after, limit) => c.listSourceSummaries({ ...filter, after, limit }), (s) => sourceInScope(principal!, s), query.after, query.limit);
    return rows.map(view);
  });

  serve(app, api.removeSource, async ({ params, query, principal, audit }) => {
    audit(params.id, { points: query.points ?? 'keep' });
    const s = await sourceFor(principal!, params.id);
    const d = await removeSource(ctx, s, query.points === 'delete');
    return { removed: s.id, recoveryPointsDeleted: d.recoveryPoints, replicaOnlyPointsDeleted: d.replicaOnly };
  });

  serve(app, api.getSource, async ({ params, principal }) => {
    const s = await sourceFor(principal!, params.id);
    const [row] = await c.listSourceSummaries({ ids: [s.id] });
    return view(row!);
  });

  serve(app, api.setAllocation, async ({ params, body, principal, audit }) => {
    audit(params.id, { ...body });
    const s = await sourceFor(principal!, params.id);
    const used = Number(s.used_bytes);
    const allocated = body.grow ? grownByHand(used, Number(s.allocation_bytes)) : body.bytes!;
    if (allocated < used) throw badRequest(`${formatBytes(allocated)} is less than the ${formatBytes(used)} ${s.id} uses: give at least that, or --grow`);
    audit(params.id, { ...body, from: Number(s.allocation_bytes), to: allocated });
    await c.updateSource(s.id, { allocation_bytes: allocated });
    await ctx.alerts.judgeAllocation(s.id, used, allocated, ctx.clock.now());
    const [row] = await c.listSourceSummaries({ ids: [s.id] });
    return view(row!);
  });

  serve(app, api.listPoints, async ({ params, query, principal }) => {
    const s = await sourceFor(principal!, params.id);
    return (await c.listPoints(s.id, query.all !== true)).map(pointView);
  });

  type OnDemandRequest = { params: { id: string }; principal: Principal | null; audit: (t: string | null) => void };

  /** The data source an on-demand job is asked for: visible to the caller, in a group, its agent attached. */
  const onDemandSource = async ({ params, principal, audit }: OnDemandRequest): Promise<DataSourceRow> => {
    audit(params.id);
    const s = await sourceFor(principal!, params.id);
    if (!s.group_name) throw new CustosError('exists', `data source ${s.id} is not in a protection group: add it to one first`);
    const agent = await c.agent(s.agent);
    if (!agent || agent.revoked_at) throw new CustosError('exists', `the agent of ${s.id} has been removed`);
    return s;
  };
  const onDemand = (kind: JobKind, label: string) => async (r: OnDemandRequest) => {
    const s = await onDemandSource(r);
    const refusal = s.kind === 'fs' ? null : appJobRefusal(kind, s.id, appOf(await c.newestPoint(s.id)));
    if (refusal !== null) throw new CustosError('usage', refusal);
    return jobView(await ctx.engine.enqueue({ kind, source: s.id, agent: s.agent, reason: `${label} requested by ${r.principal!.name}` }));
  };
  serve(app, api.syncNow, onDemand('sync', 'synchronization'));
  serve(app, api.createPoint, async (r) => {
    const { job, warnings } = await ctx.engine.requestRecoveryPoint(await onDemandSource(r), r.principal!.name);
    return { ...jobView(job), warnings };
  });
  serve(app, api.checkNow, onDemand('consistency-check', 'consistency check'));

  /**
   * The point a recovery names: the newest recovery point at or before `at`,
   * or the one point of the source whose id begins with `point`. For an
   * application, `at` names the point whose log replays to that time, and
   * the time itself (app-recovery.ts); `time` is null otherwise.
   */
  const recoveryPoint = async (s: DataSourceRow, b: RecoveryRequest): Promise<{ point: PointRow; time: string | null }> => {
    if ((b.point === undefined) === (b.at === undefined)) throw badRequest('give exactly one of point (a recovery point id, or its first 4+ hex digits) and at (an ISO time)');
    if (b.at !== undefined) {
      const at = parseIsoTime(b.at)?.date;
      if (at === undefined) throw badRequest(`at: ${b.at} is not a time (e.g. 2026-12-01T17:00:00Z)`);
      const rows = await c.listPoints(s.id, true);
      if (s.kind === 'fs') return { point: pointAt(rows, at, s.id), time: null };
      const plan = planAppRecovery(rows.flatMap((r) => {
        const app = appOf(r);
        return app ? [{ id: r.id, app }] : [];
      }), at, s.id);
      return { point: rows.find((r) => r.id === plan.point)!, time: plan.time };
    }
    if (b.point === 'latest') {
      const newest = (await c.listPoints(s.id, true)).at(-1);
      if (!newest) throw new CustosError('not-found', `${s.id} has no recovery points`);
      return { point: newest, time: null };
    }
    return { point: pointByRef(await c.listPoints(s.id), b.point!, s.id), time: null };
  };

  /**
   * Where a recovery-operator may recover to: within its target scopes when
   * it has any; else, as before them, onto agents of data sources in its
   * scope, and an application's points only into folders there.
   */
  const checkOperatorTarget = async (p: Principal, s: DataSourceRow, where: RecoveryWhere): Promise<void> => {
    if (hasTargetScopes(p)) {
      const why = targetScopeRefusal(p, where);
      if (why !== null) throw new CustosError('denied', why);
      return;
    }
    if (where.kind !== 'folder') throw new CustosError('denied', `a recovery-operator without target scopes recovers ${s.id} only into a folder (a target scope target:AGENT:postgres:PORT allows new instances)`);
    const ownsScopedSource = (await c.listSources({ agent: where.agent })).some((x) => sourceInScope(p, x));
    if (!ownsScopedSource) throw new CustosError('denied', `a recovery-operator recovers only to agents of data sources in its scope; ${where.agent} has none`);
  };

  /** Where a recovery writes: AGENT:/path, 'original' (the data source's own agent and path), or a new instance's folder; the agent must be attached. */
  const recoveryTarget = async (s: DataSourceRow, b: RecoveryRequest): Promise<{ agent: string; path: string }> => {
    const to = b.to;
    const original = to === ORIGINAL_TARGET;
    const instance = parseInstanceTarget(to);
    const target = original ? { agent: s.agent, path: s.path } : instance ? parseTarget(`${instance.agent}:${b.dataDir!}`) : parseTarget(to);
    const agent = await c.agent(target.agent);
    if (!agent || agent.revoked_at) {
      throw badRequest(original
        ? `the agent of ${s.id} (${s.agent}) is no longer attached, so there is no original location to recover to: recover to another agent (AGENT:/path)`
        : `recovery target agent ${target.agent} is not attached`);
    }
    return target;
  };

  /**
   * The items asked for, each in the point, checked before the job is
   * queued (the agent checks again): a recovery point's items are looked up
   * in the file index; a replica-only point, which the index leaves out,
   * has its manifest read (pinned meanwhile, as a recovery pins it).
   */
  const checkItems = async (s: DataSourceRow, point: PointRow, items: readonly string[]): Promise<void> => {
    const requested = resolveItems(items, s.path);
    if (requested.length === 0) return;
    if (point.recovery_point === 1) {
      const missing: RequestedItem[] = [];
      const ref = { id: point.id, time: point.time, source: s.id };
      for (const i of requested) if ((await ctx.fileIndex.index.item(ref, i.path)) === undefined) missing.push(i);
      if (missing.length > 0) throw missingItemsError(missing, point, s.path);
      return;
    }
    const record = await ctx.pool.findPoint(point.id);
    const unpin = ctx.pool.activity.pin(record);
    try {
      await checkItemsExist(ctx.pool.manifest(record), requested, point, s.path);
    } finally {
      unpin();
    }
  };

  serve(app, api.recover, async ({ body: b, principal, audit }) => {
    const p = principal!;
    const detail = { ...(b.at !== undefined ? { at: b.at } : {}), point: b.point, to: b.to, items: b.items?.length ?? 0, conflict: b.conflict ?? DEFAULT_CONFLICT, security: b.security ?? 'point', throttle: b.throttle ?? [], allowSystemTarget: b.allowSystemTarget ?? false, ...(b.notify ? { notify: b.notify } : {}) };
    audit(b.source, detail);
    // Malformed rates and windows are refused (400) before anything is queued; the agent gets them parsed.
    const settings = { conflict: detail.conflict, security: detail.security, throttle: parseThrottle(detail.throttle) };
    const serverTarget = serverTargetPath(b.to) === null ? null : checkServerTargetRequest(ctx, p, b.to);
    const s = await sourceFor(p, b.source);
    if (s.kind !== 'fs') checkAppRecovery(s, b, serverTarget !== null);
    else if (b.paused !== undefined || b.dataDir !== undefined || parseInstanceTarget(b.to)) throw badRequest(`paused, dataDir and a new instance (AGENT:postgres:PORT) apply to PostgreSQL points; ${s.id} is a tree of files`);
    const { point, time: appTime } = await recoveryPoint(s, b);
    // An application's latest: the WAL not yet synchronized is read first (the job's tail synchronization), then recovered to its end.
    const latest = s.kind !== 'fs' && b.point === 'latest';
    if (serverTarget !== null) {
      audit(b.source, { ...detail, point: point.id });
      await checkItems(s, point, b.items ?? []);
      return jobView(await enqueueServerRecovery(ctx, { source: s, point, target: serverTarget, request: b, settings, principal: p }));
    }
    const target = await recoveryTarget(s, b);
    const instance = parseInstanceTarget(b.to);
    // An application over itself: the agent finds the cluster on its port (its data directory is not a path of the data source's id).
    const appOriginal = s.kind !== 'fs' && b.to === ORIGINAL_TARGET;
    audit(b.source, { ...detail, point: point.id, to: appOriginal ? `${s.id} (original)` : `${target.agent}:${target.path}` }); // the point a time or prefix named, the target 'original' named
    if (b.allowSystemTarget && p.role !== 'admin') throw new CustosError('denied', 'only an admin may recover onto / or a system directory (allowSystemTarget)');
    if (!appOriginal && !b.allowSystemTarget && isSystemTarget(target.path)) {
      throw new CustosError('denied', `recovering onto ${target.path} would replace system files: recover to another directory, or (admin only) add --allow-system-target`);
    }
    if (p.role === 'recovery-operator') await checkOperatorTarget(p, s, appOriginal ? { kind: 'original', source: s.id } : instance ? { kind: 'instance', agent: target.agent, port: instance.port, path: target.path } : { kind: 'folder', ...target });
    await checkItems(s, point, b.items ?? []);
    const job = await ctx.engine.enqueue({
      kind: 'recovery',
      source: s.id,
      agent: target.agent,
      params: { point: point.id, target: target.path, items: b.items ?? [], ...settings, allowSystemTarget: b.allowSystemTarget ?? false, requestedBy: p.name, ...(b.notify ? { notify: b.notify } : {}), ...(b.paused ? { paused: true } : {}), ...(appTime ? { appTime } : {}), ...(latest ? { latest: true } : {}), ...(instance ? { instancePort: instance.port } : {}), ...(appOriginal ? { original: true } : {}) },
      reason: `recovery of ${latest ? 'the latest (the log not yet synchronized read first)' : point.time}${appTime ? ` replayed to ${appTime}` : ''} to ${appOriginal ? `${s.id} itself (its cluster stopped, its data directory kept aside)` : `${instance ? `a new instance on ${instance.agent} port ${instance.port} in ` : ''}${target.agent}:${target.path}`} requested by ${p.name}`,
    });
    return jobView(job);
  });
}

/**
 * What a recovery of an application data source may ask for so far: the
 * whole point, into a folder on an agent (a data directory ready to start).
 */
function checkAppRecovery(s: DataSourceRow, b: RecoveryRequest, toServer: boolean): void {
  const folder = `recover it to a folder on an agent (--to AGENT:/path), which gives a data directory ready to start`;
  if (toServer) throw badRequest(`a ${s.kind} point is not recovered to the server's folders: ${folder}`);
  if (b.items && b.items.length > 0) throw badRequest(`a ${s.kind} point is recovered whole (a cluster), not by items: leave out items`);
  const instance = parseInstanceTarget(b.to);
  const port = /^[^:/]+:postgres:(.*)$/.exec(b.to);
  if (port && !instance) throw badRequest(`${JSON.stringify(port[1]!.slice(0, 20))} is not a port (1 to 65535) for a new instance (to AGENT:postgres:PORT)`);
  if (instance && b.dataDir === undefined) throw badRequest(`a new instance (${b.to}) needs the folder to recover it into: dataDir (--data-dir DIR)`);
  if (!instance && b.dataDir !== undefined) throw badRequest(`dataDir goes with a new instance (to AGENT:postgres:PORT); for a folder, give it in to (AGENT:/path)`);
  // The defaults are taken (the console sends them); anything else cannot apply.
  if ((b.conflict ?? 'overwrite') !== 'overwrite' || (b.security ?? 'point') !== 'point') throw badRequest(`conflict and security do not apply to a ${s.kind} point: its folder must be new or empty, and its files keep their owner`);
}

/**
 * A page of `limit` rows (all when no limit) the caller may see, read in
 * batches after `after` until the page is full or the rows run out: a scoped
 * caller's page is as long as anyone's.
 */
export async function pageInScope<T extends { readonly id: string }>(
  read: (after: string | undefined, limit: number) => Promise<T[]>,
  visible: (row: T) => boolean,
  after: string | undefined,
  limit: number | undefined,
): Promise<T[]> {
  const want = limit ?? Number.POSITIVE_INFINITY;
  const batch = Math.min(Number.isFinite(want) ? want : 1000, 1000);
  const out: T[] = [];
  let cursor = after;
  while (out.length < want) {
    const rows = await read(cursor, batch);
    for (const r of rows) if (visible(r) && out.length < want) out.push(r);
    if (rows.length < batch) break;
    cursor = rows.at(-1)!.id;
  }
  return out;
}
