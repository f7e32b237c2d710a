/** The one lookup every data-source call makes before anything else. */
import type { Catalog, DataSourceRow } from '../../../catalog/index.js';
import { sourceInScope, type Principal } from '../../auth.js';
import { badRequest, notFound } from '../../http-errors.js';

/** The data source, if it exists and the caller may see it (else 404: a scoped caller learns nothing of others). */
export async function visibleSource(catalog: Catalog, p: Principal, id: string): Promise<DataSourceRow> {
  const s = await catalog.source(id);
  if (!s || !sourceInScope(p, s)) throw notFound(`data source ${id}`);
  return s;
}

/**
 * A data source whose points are trees of files to browse, search or
 * download; a postgres one's point is a cluster, recovered whole (400).
 */
export async function visibleFilesSource(catalog: Catalog, p: Principal, id: string): Promise<DataSourceRow> {
  const s = await visibleSource(catalog, p, id);
  if (s.kind !== 'fs') throw badRequest(`${s.id} is a ${s.kind} data source: its points are clusters, recovered whole (custos recover ${s.id} --point ID --to AGENT:/path), not browsed, searched or downloaded by file`);
  return s;
}
