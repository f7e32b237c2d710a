/** The one lookup every data-source call makes before anything else. */
import type { Catalog, DataSourceRow } from '../../../catalog/index.js';
import { sourceInScope, type Principal } from '../../auth.js';
import { notFound } from '../../http-errors.js';

/** The data source, if it exists and the caller may see it (else 404: a scoped caller learns nothing of others). */
export async function visibleSource(catalog: Catalog, p: Principal, id: string): Promise<DataSourceRow> {
  const s = await catalog.source(id);
  if (!s || !sourceInScope(p, s)) throw notFound(`data source ${id}`);
  return s;
}
