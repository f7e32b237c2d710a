/**
 * /api/my…: My files, a console user's own files on the protected computer
 * its account is linked to (src/server/my-files.ts says who the user is
 * there; src/server/end-user.ts decides what that account may see, the
 * same rules as `custos my` on the computer). Every role may call these;
 * what a caller gets depends on the linked account only.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { api, isCanonicalAbsolutePath, type MyDownloadSummary } from '../../../protocol/index.js';
import type { ServerContext } from '../../context.js';
import { badRequest } from '../../http-errors.js';
import { serve } from '../serve.js';

const DEFAULT_LIMIT = 200;

function checkedPath(path: string): string {
  if (!isCanonicalAbsolutePath(path)) throw badRequest(`${JSON.stringify(path.slice(0, 200))} is not a path on the computer: give an absolute path without empty, . or .. components`);
  return path;
}

function pointChoice(q: { point?: string; at?: string }): { point?: string; at?: string } {
  if (q.point !== undefined && q.at !== undefined) throw badRequest('give at most one of point and at');
  // `latest` is what neither of them means.
  return { ...(q.point !== undefined && q.point !== 'latest' ? { point: q.point } : {}), ...(q.at !== undefined ? { at: q.at } : {}) };
}

export function registerMyFilesRoutes(app: FastifyInstance, ctx: ServerContext): void {
  serve(app, api.myFiles, async ({ principal }) => {
    const me = await ctx.myFiles.who(principal!);
    return { agent: me.agent, account: me.account, connected: me.connected, checkedAt: me.checkedAt, sources: await ctx.endUser.sourcesOf(me.agent) };
  });

  serve(app, api.myBrowse, async ({ principal, query }) => {
    const me = await ctx.myFiles.who(principal!);
    if (query.after !== undefined && (query.after === '.' || query.after === '..' || query.after.includes('/') || query.after.includes('\0'))) throw badRequest('after must be one name: the `next` of the previous page');
    return ctx.endUser.answer(me.agent, me.user, {
      op: 'browse', path: checkedPath(query.path), limit: query.limit ?? DEFAULT_LIMIT, ...pointChoice(query), ...(query.after !== undefined ? { after: query.after } : {}),
    });
  });

  serve(app, api.mySearch, async ({ principal, query }) => {
    const me = await ctx.myFiles.who(principal!);
    if (query.pattern.includes('\0')) throw badRequest('a pattern cannot hold a NUL character');
    return (await ctx.endUser.answer(me.agent, me.user, { op: 'search', path: checkedPath(query.path), pattern: query.pattern, limit: query.limit ?? DEFAULT_LIMIT }));
  });

  serve(app, api.myVersions, async ({ principal, query }) => {
    const me = await ctx.myFiles.who(principal!);
    return (await ctx.endUser.answer(me.agent, me.user, { op: 'versions', path: checkedPath(query.path) }));
  });

  serve(app, api.myDownload, async ({ principal, query, audit }) => {
    audit(null, { path: query.path.slice(0, 4096) });
    const me = await ctx.myFiles.who(principal!);
    const file = await ctx.endUser.openFile(me.agent, me.user, { path: checkedPath(query.path), ...pointChoice(query) });
    audit(file.source, { path: query.path, account: `${me.agent}:${me.account}`, point: file.answer.point.id, size: file.answer.size });
    const summary: MyDownloadSummary = { path: file.answer.path, point: file.answer.point, size: file.answer.size };
    return {
      contentType: 'application/octet-stream',
      fileName: query.path.split('/').at(-1) || 'file',
      body: Readable.from(file.content()),
      summary: () => summary,
    };
  });
}
