/** /api/pool: the storage pool's directories and usage. */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../../context.js';

export function registerPoolRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/api/pool', { schema: { summary: 'Storage pool directories and usage' } }, async () => ctx.maintenance.usage(await ctx.catalog.poolDirectories()));
}
