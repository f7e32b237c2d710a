/** /api/pool: the storage pool's usage; gc and verify jobs on demand. */
import type { FastifyInstance } from 'fastify';
import { api } from '../../../protocol/rest/index.js';
import type { ServerContext } from '../../context.js';
import { jobView } from '../../views.js';
import { serve } from '../serve.js';

export function registerPoolRoutes(app: FastifyInstance, ctx: ServerContext): void {
  serve(app, api.getPool, async () => ctx.maintenance.usage([]));

  serve(app, api.poolGc, async ({ principal }) => jobView(await ctx.engine.requestPoolJob('gc', {}, `garbage collection requested by ${principal!.name}`)));

  serve(app, api.poolVerify, async ({ principal }) =>
    jobView(await ctx.engine.requestPoolJob('verify', { full: true }, `verification of the whole pool requested by ${principal!.name}`)));
}
