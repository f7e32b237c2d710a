/** /api/pool: the storage pool's directories and usage. */
import { statfs } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { api } from '../../../protocol/rest/index.js';
import type { ServerContext } from '../../context.js';
import { serve } from '../serve.js';

export function registerPoolRoutes(app: FastifyInstance, ctx: ServerContext): void {
  serve(app, api.getPool, async () => {
    let stored = 0;
    for (const loc of ctx.pool.index.values()) stored += loc.length;
    const s = await statfs(ctx.pool.dir);
    const directory = { path: ctx.pool.dir, bytesUsed: stored, bytesFree: Number(s.bavail) * Number(s.bsize), bytesTotal: Number(s.blocks) * Number(s.bsize) };
    return { directories: [directory], bytesStored: stored, chunks: ctx.pool.index.size };
  });
}
