/** /api/alerts: list and resolve. */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../../context.js';
import { notFound } from '../../http-errors.js';
import { alertView } from '../../views.js';

export function registerAlertRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/api/alerts', {
    schema: { summary: 'Alerts (active by default)', querystring: { type: 'object', additionalProperties: false, properties: { state: { type: 'string', enum: ['active', 'resolved', 'all'] } } } },
  }, async (req) => {
    const { state } = req.query as { state?: 'active' | 'resolved' | 'all' };
    return (await ctx.catalog.listAlerts(state ?? 'active')).map(alertView);
  });

  app.post('/api/alerts/:id/resolve', {
    schema: { summary: 'Resolve an alert', params: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9]{1,15}$' } }, required: ['id'] } },
  }, async (req) => {
    const id = Number((req.params as { id: string }).id);
    const a = await ctx.catalog.resolveAlert(id, ctx.clock.now().toISOString());
    if (!a) throw notFound(`alert ${id}`);
    return alertView(a);
  });
}
