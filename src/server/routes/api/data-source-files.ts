/**
 * /api/data-sources/:id/files, /search and /versions: what a recovery point
 * holds, where a file is across points, and its versions — answered from the
 * file index (docs/design/file-index.md), never by decoding manifests per
 * request. They need the `recover` access: file names are data, and a
 * recovery-operator sees only the data sources in its scope.
 */
import type { FastifyInstance } from 'fastify';
import { CustosError, parseIsoTime, pointByRef } from '../../../base/index.js';
import type { DataSourceRow, PointRow } from '../../../catalog/index.js';
import { pointAt } from '../../../protection/index.js';
import { api, type FileItem } from '../../../protocol/rest/index.js';
import { strictBase64 } from '../../../format/index.js';
import type { Principal } from '../../auth.js';
import type { ServerContext } from '../../context.js';
import { badRequest } from '../../http-errors.js';
import { itemPath, pathText } from '../../file-index/item-path.js';
import type { IndexedItem } from '../../file-index/types.js';
import { serve } from '../serve.js';
import { visibleFilesSource } from './visible-source.js';

export function registerDataSourceFileRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const c = ctx.catalog;
  const index = ctx.fileIndex.index;

  const sourceFor = (p: Principal, id: string): Promise<DataSourceRow> => visibleFilesSource(c, p, id);

  serve(app, api.browse, async ({ params, query, principal }) => {
    const s = await sourceFor(principal!, params.id);
    const point = choosePoint(s.id, await c.listPoints(s.id, true), query);
    const dir = itemPath(s.path, query.path ?? '');
    const after = query.after === undefined ? undefined : cursorName(query.after);
    const page = await index.list({ id: point.id, time: point.time, source: s.id }, dir, { limit: query.limit ?? 1000, ...(after ? { after } : {}) });
    return {
      source: s.id,
      point: { id: point.id, time: point.time },
      path: pathText(dir).text,
      items: page.items.map(fileItem),
      next: page.next ? page.next.toString('base64') : null,
    };
  });

  serve(app, api.search, async ({ params, query, principal }) => {
    const s = await sourceFor(principal!, params.id);
    const points = await ctx.fileIndex.points(s.id);
    const r = await index.search(points, query.pattern, query.limit ?? 1000);
    return {
      source: s.id,
      pattern: query.pattern,
      pointsSearched: points.length,
      hits: r.hits.map((h) => {
        const t = pathText(h.path);
        return { path: t.text, ...(t.base64 ? { pathBase64: t.base64 } : {}), type: h.type, size: h.size, first: h.first, last: h.last, points: h.points };
      }),
      truncated: r.truncated,
    };
  });

  serve(app, api.versions, async ({ params, query, principal }) => {
    const s = await sourceFor(principal!, params.id);
    const path = itemPath(s.path, query.path);
    if (path.length === 0) throw badRequest('name a file inside the data source: the protected directory itself has no versions');
    const versions = await index.versions(await ctx.fileIndex.points(s.id), path);
    return {
      source: s.id,
      path: pathText(path).text,
      versions: versions.map((v) => ({ size: v.size, mtime: isoOfNs(v.mtimeNs), content: v.content, points: [...v.points] })),
    };
  });
}

/**
 * The point a browse names: an id or a prefix of one (at least 4 hex
 * digits; ambiguous is an error), latest, a time (the newest point at or
 * before it), or nothing (the newest). Replica-only points are never chosen.
 */
export function choosePoint(sourceId: string, points: readonly PointRow[], q: { point?: string; at?: string }): PointRow {
  if (q.point !== undefined && q.at !== undefined) throw badRequest('give at most one of point and at');
  if (q.at !== undefined) {
    const at = parseIsoTime(q.at)?.date;
    if (!at) throw badRequest(`at: ${q.at} is not a time (e.g. 2026-12-01T17:00:00Z)`);
    return pointAt(points, at, sourceId);
  }
  if (q.point === undefined || q.point === 'latest') {
    const newest = points.at(-1);
    if (!newest) throw new CustosError('not-found', `${sourceId} has no recovery points yet`);
    return newest;
  }
  return pointByRef(points, q.point, sourceId);
}

function cursorName(after: string): Buffer {
  const name = strictBase64(after);
  if (name === null) throw badRequest('after: give the `next` of the previous page (base64)');
  if (name.length === 0 || name.includes(0x2f) || name.includes(0)) throw badRequest('after: not a name of the directory');
  return name;
}

function fileItem(it: IndexedItem): FileItem {
  const slash = it.path.lastIndexOf(0x2f);
  const name = pathText(slash < 0 ? it.path : it.path.subarray(slash + 1));
  return {
    name: name.text,
    ...(name.base64 ? { nameBase64: name.base64 } : {}),
    type: it.type,
    size: it.size,
    mtime: isoOfNs(it.mtimeNs),
    mode: it.mode,
    uid: it.uid,
    gid: it.gid,
    user: it.user,
    group: it.group,
    ...(it.target ? { target: pathText(it.target).text } : {}),
    ...(it.error ? { error: it.error } : {}),
  };
}

function isoOfNs(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? new Date(0).toISOString() : d.toISOString();
}
