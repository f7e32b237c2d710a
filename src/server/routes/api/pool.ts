/** /api/pool: the storage pool's directories and usage. */
import { statfs } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../../context.js';

export function registerPoolRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/api/pool', { schema: { summary: 'Storage pool directories and usage' } }, async () => {
    let stored = 0;
    for (const loc of ctx.pool.index.values()) stored += loc.length;
    const dirs = [ctx.pool.dir, ...(await ctx.catalog.poolDirectories())];
    const directories = [];
    for (const path of dirs) {
      const s = await statfs(path);
      directories.push({ path, bytesFree: Number(s.bavail) * Number(s.bsize), bytesTotal: Number(s.blocks) * Number(s.bsize) });
    }
    return { directories, bytesStored: stored, chunks: ctx.pool.index.size };
  });
}
