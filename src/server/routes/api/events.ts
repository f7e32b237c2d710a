/** /api/events: which lists changed, as server-sent events (src/server/live-events.ts). */
import type { FastifyInstance } from 'fastify';
import { CustosError } from '../../../base/index.js';
import { api } from '../../../protocol/rest/index.js';
import type { ServerContext } from '../../context.js';
import { serve } from '../serve.js';

export function registerEventRoutes(app: FastifyInstance, ctx: ServerContext): void {
  serve(app, api.events, async () => {
    if (ctx.events.full) throw new CustosError('io', `too many event streams open (${ctx.events.followers}): close a console tab or try again later`, { transient: true });
    return ctx.events.feed();
  });
}
