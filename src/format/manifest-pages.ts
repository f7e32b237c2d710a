/**
 * Reading only the pages of a manifest that matter: pages are in walk order
 * and each holds a contiguous run of paths, so the page holding a path, or
 * the pages a directory's subtree spans, are found by binary search over
 * the pages' first paths, reading a handful of pages instead of all.
 */
import { comparePaths } from './manifest.js';

/**
 * Which pages of a manifest a recovery of `items` needs, without reading
 * the others: for each item, the pages from the one holding it to the last
 * one its subtree reaches, and the page holding each of its ancestors
 * (their metadata is restored too), found by binary search over the pages'
 * first entries (pages are in walk order). `firstPath(i)` reads page i's
 * first path (the caller caches what it decodes). Sorted page numbers; all
 * pages when no item is asked for.
 */
export async function pagesForItems(pageCount: number, items: readonly Buffer[], firstPath: (page: number) => Promise<Buffer>): Promise<number[]> {
  if (items.length === 0 || pageCount === 0) return Array.from({ length: pageCount }, (_, i) => i);
  const lastWhere = (pred: (first: Buffer) => boolean) => lastPageWhere(pageCount, pred, firstPath);
  const pages = new Set<number>();
  for (const item of items) {
    const start = await pageHolding(pageCount, item, firstPath);
    const end = await lastWhere((f) => comparePaths(f, item) <= 0 || isBelow(f, item));
    for (let p = start; p <= end; p++) pages.add(p);
    for (let cut = item.lastIndexOf(0x2f); ; cut = item.lastIndexOf(0x2f, cut - 1)) {
      const ancestor = cut < 0 ? Buffer.alloc(0) : item.subarray(0, cut);
      pages.add(await pageHolding(pageCount, ancestor, firstPath));
      if (cut <= 0) break;
    }
  }
  return [...pages].sort((a, b) => a - b);
}

/** The one page that holds `path` if the manifest has it (the last page whose first path is not after it). */
export function pageHolding(pageCount: number, path: Buffer, firstPath: (page: number) => Promise<Buffer>): Promise<number> {
  return lastPageWhere(pageCount, (f) => comparePaths(f, path) <= 0, firstPath);
}

/** The last page whose first path satisfies `pred`, which holds for a prefix of the pages (page 0 always counts): a binary search. */
async function lastPageWhere(pageCount: number, pred: (first: Buffer) => boolean, firstPath: (page: number) => Promise<Buffer>): Promise<number> {
  let lo = 0;
  let hi = pageCount - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (pred(await firstPath(mid))) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Whether `path` lies below the directory `dir` (not `dir` itself). */
function isBelow(path: Buffer, dir: Buffer): boolean {
  if (dir.length === 0) return path.length > 0;
  return path.length > dir.length && path[dir.length] === 0x2f && path.subarray(0, dir.length).equals(dir);
}
