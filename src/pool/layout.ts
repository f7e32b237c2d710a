/** Where things live inside a pool (pool-format.md, "Layout"). */
import type { PackId } from '../base/index.js';

export function packName(id: PackId): string {
  return `packs/${id.slice(0, 2)}/${id}`;
}
