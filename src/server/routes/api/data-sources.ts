/**
 * /api/data-sources, their recovery points and on-demand jobs; /api/recoveries.
 * A recovery-operator sees and recovers only the data sources in its scope,
 * and recovers only to agents that own one of them.
 */
import type { FastifyInstance } from 'fastify';
import { CustosError, parseIsoTime } from '../../../base/index.js';
import type { DataSourceRow } from '../../../catalog/index.js';
import type { JobKind } from '../../../jobs/index.js';
import { isSystemTarget, pointAt } from '../../../protection/index.js';
import { api } from '../../../protocol/rest/index.js';
import { sourceInScope, type Principal } from '../../auth.js';
import type { ServerContext } from '../../context.js';
import { badRequest, notFound } from '../../http-errors.js';
import { parseTarget } from '../../source-id.js';
import { serverTargetPath } from '../../server-recovery.js';
import { checkServerTargetRequest, enqueueServerRecovery } from './server-targets.js';
import { jobView, pointView, sourceView } from '../../views.js';
import { serve } from '../serve.js';

export function registerDataSourceRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const c = ctx.catalog;

  /** The data source, if it exists and the caller may see it (else 404: a scoped caller learns nothing of others). */
  const sourceFor = async (p: Principal, id: string): Promise<DataSourceRow> => {
    const s = await c.source(id);
    if (!s || !sourceInScope(p, s)) throw notFound(`data source ${id}`);
    return s;
  };

  const view = async (s: DataSourceRow) => {
    const points = await c.listPoints(s.id);
    return sourceView(s, points.at(-1), points.filter((p) => p.recovery_point === 1).length);
  };

  serve(app, api.listSources, async ({ principal }) =>
    Promise.all((await c.listSources()).filter((s) => sourceInScope(principal!, s)).map(view)));

  serve(app, api.getSource, async ({ params, principal }) => view(await sourceFor(principal!, params.id)));

  serve(app, api.listPoints, async ({ params, principal }) => {
    const s = await sourceFor(principal!, params.id);
    return (await c.listPoints(s.id, true)).map(pointView);
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
    return jobView(await ctx.engine.enqueue({ kind, source: s.id, agent: s.agent, reason: `${label} requested by ${r.principal!.name}` }));
  };
  serve(app, api.syncNow, onDemand('sync', 'synchronization'));
  serve(app, api.createPoint, async (r) => {
    const { job, warnings } = await ctx.engine.requestRecoveryPoint(await onDemandSource(r), r.principal!.name);
    return { ...jobView(job), warnings };
  });
  serve(app, api.checkNow, onDemand('consistency-check', 'consistency check'));

  serve(app, api.recover, async ({ body: b, principal, audit }) => {
    const p = principal!;
    const detail = { ...(b.at !== undefined ? { at: b.at } : {}), point: b.point, to: b.to, items: b.items?.length ?? 0, conflict: b.conflict ?? 'keep-both', allowSystemTarget: b.allowSystemTarget ?? false };
    audit(b.source, detail);
    if ((b.point === undefined) === (b.at === undefined)) throw badRequest('give exactly one of point (a recovery point id) and at (an ISO time)');
    const serverTarget = serverTargetPath(b.to) === null ? null : checkServerTargetRequest(ctx, p, b.to);
    const at = b.at === undefined ? undefined : parseIsoTime(b.at)?.date;
    if (b.at !== undefined && at === undefined) throw badRequest(`at: ${b.at} is not a time (e.g. 2026-12-01T17:00:00Z)`);
    const s = await sourceFor(p, b.source);
    const point = at !== undefined ? pointAt(await c.listPoints(s.id, true), at, s.id) : await c.point(b.point!);
    if (!point || point.source_id !== s.id) throw notFound(`recovery point ${b.point} of ${s.id}`);
    audit(b.source, { ...detail, point: point.id }); // with at: the point the time named
    if (serverTarget !== null) return jobView(await enqueueServerRecovery(ctx, { source: s, point, target: serverTarget, request: b, principal: p }));
    const target = parseTarget(b.to);
    const agent = await c.agent(target.agent);
    if (!agent || agent.revoked_at) throw badRequest(`recovery target agent ${target.agent} is not attached`);
    if (b.allowSystemTarget && p.role !== 'admin') throw new CustosError('denied', 'only an admin may recover onto / or a system directory (allowSystemTarget)');
    if (!b.allowSystemTarget && isSystemTarget(target.path)) {
      throw new CustosError('denied', `recovering onto ${target.path} would replace system files: recover to another directory, or (admin only) add --allow-system-target`);
    }
    if (p.role === 'recovery-operator') {
      const ownsScopedSource = (await c.listSources({ agent: target.agent })).some((x) => sourceInScope(p, x));
      if (!ownsScopedSource) throw new CustosError('denied', `a recovery-operator recovers only to agents of data sources in its scope; ${target.agent} has none`);
    }
    for (const item of b.items ?? []) {
      if (item.split('/').some((part) => part === '..')) throw badRequest(`item ${item}: '..' is not allowed`);
    }
    const job = await ctx.engine.enqueue({
      kind: 'recovery',
      source: s.id,
      agent: target.agent,
      params: { point: point.id, target: target.path, items: b.items ?? [], conflict: b.conflict ?? 'keep-both', allowSystemTarget: b.allowSystemTarget ?? false, requestedBy: p.name },
      reason: `recovery of ${point.time} to ${b.to} requested by ${p.name}`,
    });
    return jobView(job);
  });
}
