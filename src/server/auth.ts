/**
 * API authentication and authorization: a bearer token, looked up by its
 * SHA-256 (tokens are never stored or logged), and a role that allows the
 * call. `admin` may do everything, `viewer` every GET.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Catalog } from '../catalog/index.js';
import { hashToken } from './data-dir.js';

/** Calls that need no token. */
const PUBLIC = new Set(['GET /api/health', 'GET /api/agent/ca', 'POST /api/agent/enroll', 'GET /api/agent/connect']);

export const ROLES = ['admin', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export function allowed(role: string, method: string): boolean {
  if (role === 'admin') return true;
  return role === 'viewer' && (method === 'GET' || method === 'HEAD');
}

export function makeAuthHook(catalog: Catalog) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const path = req.url.split('?')[0]!;
    if (PUBLIC.has(`${req.method} ${path}`)) return;
    if (!path.startsWith('/api/') && path !== '/metrics') return;
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) {
      await reply.code(401).header('www-authenticate', 'Bearer').send({ error: { code: 'denied', message: 'authentication required: send Authorization: Bearer <token>' } });
      return reply;
    }
    const hash = hashToken(m[1]!);
    const row = await catalog.apiTokenByHash(hash);
    if (!row) {
      await reply.code(401).send({ error: { code: 'denied', message: 'unknown or revoked token' } });
      return reply;
    }
    if (!allowed(row.role, req.method)) {
      await reply.code(403).send({ error: { code: 'denied', message: `role ${row.role} may not ${req.method} ${path}` } });
      return reply;
    }
    (req as FastifyRequest & { role?: string }).role = row.role;
  };
}
