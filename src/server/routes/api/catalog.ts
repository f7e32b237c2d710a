/**
 * /api/catalog/backups: take a catalog backup on demand (a `catalog-backup`
 * job; an on-demand request while one is queued gets that one). Listing and
 * restoring backups are done with the server stopped
 * (`custos server catalog list|restore --data DIR`).
 */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../../context.js';
import { jobView } from '../../views.js';

export function registerCatalogRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/api/catalog/backups', {
    schema: { summary: 'Take a catalog backup now (answers with the catalog-backup job)', body: { type: 'object', additionalProperties: false, properties: {} } },
  }, async () => jobView(await ctx.engine.requestCatalogBackup()));
}
