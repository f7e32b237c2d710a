/**
 * POST /api/data-sources/:id/downloads: a recovery point, or items of it,
 * streamed to the caller as an archive (src/server/downloads.ts). Authorised
 * as a recovery (`recover`; a recovery-operator only for the data sources of
 * its scope) and audited as one (`recovery.download`, naming the point and
 * the format). Everything that can be refused is refused before the first
 * byte: the data source, the point, the items.
 */
import type { FastifyInstance } from 'fastify';
import { CustosError } from '../../../base/index.js';
import type { DataSourceRow, PointRow } from '../../../catalog/index.js';
import { resolveItem } from '../../../agent/restore/items.js';
import { api } from '../../../protocol/rest/index.js';
import type { ServerContext } from '../../context.js';
import { ARCHIVE_MEDIA_TYPES, missingItems, startDownload } from '../../downloads.js';
import { badRequest } from '../../http-errors.js';
import { serve } from '../serve.js';
import { visibleFilesSource } from './visible-source.js';
import { choosePoint } from './data-source-files.js';
import type { RecoveryPointId } from '../../../base/index.js';

export function registerDownloadRoutes(app: FastifyInstance, ctx: ServerContext): void {
  serve(app, api.download, async ({ params, body: b, principal, audit }) => {
    const detail = { format: b.format, items: b.items?.length ?? 0, ...(b.at !== undefined ? { at: b.at } : {}), point: b.point };
    audit(params.id, detail);
    const source = await visibleFilesSource(ctx.catalog, principal!, params.id);
    const point = await requestedPoint(ctx, source, b);
    audit(params.id, { ...detail, point: point.id });
    const items = (b.items ?? []).map((i) => resolveItem(i, source.path));
    const record = await ctx.pool.findPoint(point.id as RecoveryPointId);
    const missing = await missingItems(ctx.pool, record, items);
    if (missing.length > 0) throw new CustosError('not-found', `not in recovery point ${point.id}: ${missing.map((m) => m.toString('utf8')).join(', ')}`);
    const download = startDownload({ pool: ctx.pool, point: record, items, format: b.format, log: ctx.log });
    return {
      contentType: ARCHIVE_MEDIA_TYPES[b.format],
      fileName: `${source.path.split('/').filter(Boolean).at(-1) ?? 'root'}-${point.time.slice(0, 16).replace(/[-:]/g, '').replace('T', '-')}.${b.format}`,
      body: download.body,
      summary: download.summary,
    };
  });
}

/** The recovery point a request names: exactly one of an id (or a unique prefix of 4+ hex digits) and a time (choosePoint's rules). */
async function requestedPoint(ctx: ServerContext, s: DataSourceRow, r: { point?: string; at?: string }): Promise<PointRow> {
  if ((r.point === undefined) === (r.at === undefined)) throw badRequest('give exactly one of point (a recovery point id) and at (an ISO time)');
  return choosePoint(s.id, await ctx.catalog.listPoints(s.id, true), r);
}
