/** /api/data-sources, their recovery points and on-demand jobs; /api/recoveries. */
import type { FastifyInstance } from 'fastify';
import { CustosError } from '../../../base/index.js';
import type { JobKind } from '../../../jobs/index.js';
import type { ServerContext } from '../../context.js';
import { badRequest, notFound } from '../../http-errors.js';
import { parseTarget } from '../../source-id.js';
import { jobView, pointView, sourceView } from '../../views.js';

const ID_PARAMS = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } as const;

export function registerDataSourceRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const c = ctx.catalog;

  const sourceOr404 = async (id: string) => {
    const s = await c.source(id);
    if (!s) throw notFound(`data source ${id}`);
    return s;
  };

  const view = async (id: string) => {
    const s = await sourceOr404(id);
    const points = await c.listPoints(id);
    return sourceView(s, points.at(-1), points.filter((p) => p.recovery_point === 1).length);
  };

  app.get('/api/data-sources', { schema: { summary: 'Data sources with their group, replica state and newest point' } }, async () =>
    Promise.all((await c.listSources()).map((s) => view(s.id))));

  app.get('/api/data-sources/:id', { schema: { summary: 'One data source', params: ID_PARAMS } }, async (req) => view((req.params as { id: string }).id));

  app.get('/api/data-sources/:id/recovery-points', { schema: { summary: 'Recovery points, oldest first', params: ID_PARAMS } }, async (req) => {
    const { id } = req.params as { id: string };
    await sourceOr404(id);
    return (await c.listPoints(id, true)).map(pointView);
  });

  const onDemand = (kind: JobKind, label: string) => async (req: { params: unknown }, reply: { code(n: number): unknown }) => {
    const { id } = req.params as { id: string };
    const s = await sourceOr404(id);
    if (!s.group_name) throw new CustosError('exists', `data source ${id} is not in a protection group: add it to one first`);
    const agent = await c.agent(s.agent);
    if (!agent || agent.revoked_at) throw new CustosError('exists', `the agent of ${id} has been removed`);
    const job = await ctx.engine.enqueue({ kind, source: s.id, agent: s.agent, reason: `${label} requested` });
    reply.code(202);
    return jobView(job);
  };

  app.post('/api/data-sources/:id/sync', { schema: { summary: 'Synchronize now', params: ID_PARAMS } }, onDemand('sync', 'synchronization'));
  app.post('/api/data-sources/:id/recovery-points', { schema: { summary: 'Create a recovery point now (synchronizes first)', params: ID_PARAMS } }, onDemand('recovery-point', 'recovery point'));
  app.post('/api/data-sources/:id/consistency-check', { schema: { summary: 'Run a consistency check', params: ID_PARAMS } }, onDemand('consistency-check', 'consistency check'));

  app.post('/api/recoveries', {
    schema: {
      summary: 'Recover a recovery point (or items of it) to a path on an agent',
      body: {
        type: 'object',
        required: ['source', 'point', 'to'],
        additionalProperties: false,
        properties: {
          source: { type: 'string' },
          point: { type: 'string' },
          to: { type: 'string' },
          items: { type: 'array', items: { type: 'string', maxLength: 4096 }, maxItems: 10_000 },
          conflict: { type: 'string', enum: ['overwrite', 'skip', 'keep-both'] },
        },
      },
    },
  }, async (req, reply) => {
    const b = req.body as { source: string; point: string; to: string; items?: string[]; conflict?: string };
    const s = await sourceOr404(b.source);
    const point = await c.point(b.point);
    if (!point || point.source_id !== s.id) throw notFound(`recovery point ${b.point} of ${s.id}`);
    const target = parseTarget(b.to);
    const agent = await c.agent(target.agent);
    if (!agent || agent.revoked_at) throw badRequest(`recovery target agent ${target.agent} is not attached`);
    for (const item of b.items ?? []) {
      if (item.split('/').some((part) => part === '..')) throw badRequest(`item ${item}: '..' is not allowed`);
    }
    const job = await ctx.engine.enqueue({
      kind: 'recovery',
      source: s.id,
      agent: target.agent,
      params: { point: point.id, target: target.path, items: b.items ?? [], conflict: b.conflict ?? 'keep-both' },
      reason: `recovery of ${point.time} to ${b.to}`,
    });
    reply.code(202);
    return jobView(job);
  });
}
