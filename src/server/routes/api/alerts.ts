/** /api/alerts: list and resolve. */
import type { FastifyInstance } from 'fastify';
import { api } from '../../../protocol/rest/index.js';
import type { ServerContext } from '../../context.js';
import { notFound } from '../../http-errors.js';
import { alertView } from '../../views.js';
import { serve } from '../serve.js';

export function registerAlertRoutes(app: FastifyInstance, ctx: ServerContext): void {
  serve(app, api.listAlerts, async ({ query }) => (await ctx.catalog.listAlerts(query.state ?? 'active')).map(alertView));

  serve(app, api.resolveAlert, async ({ params, audit }) => {
    const id = Number(params.id);
    audit(String(id));
    const r = await ctx.catalog.resolveAlert(id, ctx.clock.now().toISOString());
    if (!r) throw notFound(`alert ${id}`);
    if (r.changed) ctx.notifications.resolved(r.alert); // who asked for resolved mails hears of it, once
    return alertView(r.alert);
  });
}
