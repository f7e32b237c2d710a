/**
 * The web console: `/` is its page, `/assets/NAME` its scripts and styles
 * (public: they hold no data; every call the page makes is authorised like
 * any other). The page uses hash routes (#/monitoring/jobs), so no other
 * path is needed. Security headers for every answer are set here too.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ConsoleAsset, ConsoleAssets } from '../console-assets.js';
import type { RouteConfig } from '../auth.js';

/** Scripts and styles only from this server, no frames, no plugins, calls only to this server. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers every answer of the server carries (API answers included). */
export function installSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onRequest', async (_req, reply) => {
    void reply.header('x-content-type-options', 'nosniff');
    void reply.header('x-frame-options', 'DENY');
    void reply.header('referrer-policy', 'no-referrer');
    void reply.header('cross-origin-opener-policy', 'same-origin');
    void reply.header('cross-origin-resource-policy', 'same-origin');
  });
}

export function registerConsoleRoutes(app: FastifyInstance, assets: ConsoleAssets | null): void {
  const config: RouteConfig = { access: 'public' };
  const send = (req: FastifyRequest, reply: FastifyReply, asset: ConsoleAsset | undefined) => {
    if (!asset) return reply.code(404).type('text/plain; charset=utf-8').send('not found\n');
    void reply.header('etag', asset.etag).header('vary', 'accept-encoding');
    void reply.header('cache-control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    if (asset.type.startsWith('text/html')) void reply.header('content-security-policy', CONSOLE_CSP);
    if (req.headers['if-none-match'] === asset.etag) return reply.code(304).send();
    const accepted = String(req.headers['accept-encoding'] ?? '');
    void reply.type(asset.type);
    if (/\bbr\b/.test(accepted)) return reply.header('content-encoding', 'br').send(asset.brotli);
    if (/\bgzip\b/.test(accepted)) return reply.header('content-encoding', 'gzip').send(asset.gzip);
    return reply.send(asset.body);
  };
  app.get('/', { config }, async (req, reply) => {
    if (!assets) {
      return reply.code(503).type('text/plain; charset=utf-8')
        .send('The console is not built in this installation: run `npm run build` where Custos is installed, then restart the server. The REST API works without it.\n');
    }
    return send(req, reply, assets.get('index.html'));
  });
  app.get('/assets/:file', { config }, async (req, reply) => send(req, reply, assets?.get(`assets/${(req.params as { file: string }).file}`)));
  app.get('/favicon.svg', { config }, async (req, reply) => send(req, reply, assets?.get('favicon.svg')));
}
