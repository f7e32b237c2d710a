/** /api/tokens: more API tokens (e.g. a viewer token for dashboards). */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../../context.js';
import { hashToken, newApiToken } from '../../data-dir.js';
import { ROLES } from '../../auth.js';

export function registerTokenRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/api/tokens', {
    schema: {
      summary: 'Create an API token',
      body: { type: 'object', required: ['role'], additionalProperties: false, properties: { role: { type: 'string', enum: [...ROLES] }, name: { type: 'string', maxLength: 100 } } },
    },
  }, async (req, reply) => {
    const b = req.body as { role: string; name?: string };
    const token = newApiToken();
    const name = b.name ?? `${b.role} token`;
    await ctx.catalog.addApiToken({ name, role: b.role, tokenHash: hashToken(token), now: ctx.clock.now().toISOString() });
    void reply.code(201);
    return { token, role: b.role, name };
  });
}
