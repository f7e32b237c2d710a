/**
 * /api/catalog/backups: take a catalog backup on demand (a `catalog-backup`
 * job; a request while one is queued gets that one). Listing and restoring
 * backups are done with the server stopped (`custos server catalog
 * list|restore --data DIR`), as the pool lock requires.
 */
import type { FastifyInstance } from 'fastify';
import { api } from '../../../protocol/rest/index.js';
import type { ServerContext } from '../../context.js';
import { serve } from '../serve.js';
import { jobView } from '../../views.js';

export function registerCatalogRoutes(app: FastifyInstance, ctx: ServerContext): void {
  serve(app, api.catalogBackup, async ({ audit }) => {
    audit(null);
    return jobView(await ctx.engine.requestCatalogBackup());
  });
}
