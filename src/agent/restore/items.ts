/**
 * The items a recovery asks for (`--item`), one set of rules for standalone
 * restore, for the server (which checks them against the point before it
 * queues a recovery) and for the agent (which checks again before it writes
 * anything): an absolute item must lie under the protected directory and is
 * made relative to it; any other item is relative to it already. An item
 * the point does not hold is an error (not-found) before anything is
 * written, never a recovery that "succeeds" with nothing in it.
 */
import { CustosError, UserError } from '../../base/index.js';
import { checkRelativePath, comparePaths, type ManifestEntry } from '../../format/index.js';

/** One requested item: as the user gave it, and as the manifest spells it. */
export interface RequestedItem {
  readonly given: string;
  readonly path: Buffer;
}

/** The protected directory as a prefix to compare with: no trailing '/', except '/' itself. */
function rootOf(sourceRoot: string): string {
  const r = sourceRoot.replace(/\/+$/, '');
  return r === '' ? '/' : r;
}

/**
 * An --item argument in manifest form (relative to the protected directory,
 * no leading './', no trailing '/'). Usage errors: an absolute path outside
 * the protected directory, the whole point, '.' or '..' components.
 */
export function resolveItem(item: string, sourceRoot: string): Buffer {
  let s = item.replace(/\/{2,}/g, '/');
  if (s.startsWith('/')) {
    const root = rootOf(sourceRoot);
    if (root !== '/' && s.replace(/\/$/, '') !== root && !s.startsWith(`${root}/`)) {
      throw new UserError('usage', `--item ${item} is not under the protected directory ${root}: give a path inside it, absolute or relative to it`);
    }
    s = root === '/' ? s : s.slice(root.length);
  }
  s = s.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '');
  if (s === '' || s === '.') throw new UserError('usage', `--item ${item} names the whole recovery point; leave --item out instead`);
  const path = Buffer.from(s);
  try {
    checkRelativePath(path);
  } catch {
    throw new UserError('usage', `--item ${item} is not a path inside the recovery point ('.' and '..' are not allowed)`);
  }
  return path;
}

/** Every item of `items` resolved against the protected directory (the first bad one throws). */
export function resolveItems(items: readonly string[], sourceRoot: string): RequestedItem[] {
  return items.map((given) => ({ given, path: resolveItem(given, sourceRoot) }));
}

/**
 * The requested items the manifest does not hold, in the order given. The
 * manifest is in path order (comparePaths), so the walk stops at the first
 * entry past the last item asked for, or when every item has been seen.
 */
export async function findMissingItems(
  manifest: AsyncIterable<ManifestEntry> | Iterable<ManifestEntry>,
  items: readonly RequestedItem[],
): Promise<RequestedItem[]> {
  if (items.length === 0) return [];
  const wanted = new Map<string, number>();
  let last = items[0]!.path;
  for (const i of items) {
    wanted.set(i.path.toString('hex'), 0);
    if (comparePaths(i.path, last) > 0) last = i.path;
  }
  let left = wanted.size;
  for await (const e of manifest) {
    if (comparePaths(e.path, last) > 0) break;
    const key = Buffer.from(e.path).toString('hex');
    if (wanted.get(key) === 0) {
      wanted.set(key, 1);
      if (--left === 0) break;
    }
  }
  return items.filter((i) => wanted.get(i.path.toString('hex')) === 0);
}

/** The error for items a point does not hold: names them, the point, and how items are written. */
export function missingItemsError(missing: readonly RequestedItem[], point: { readonly id: string; readonly time?: string }, sourceRoot: string): CustosError {
  const names = missing.map((m) => m.given).join(', ');
  const when = point.time ? ` (${point.time})` : '';
  return new CustosError(
    'not-found',
    `not in recovery point ${point.id}${when}: ${names}; nothing was recovered (an item is a path inside ${rootOf(sourceRoot)}, absolute or relative to it)`,
  );
}

/** Throws missingItemsError when the manifest lacks any of `items`; writes nothing. */
export async function checkItemsExist(
  manifest: AsyncIterable<ManifestEntry> | Iterable<ManifestEntry>,
  items: readonly RequestedItem[],
  point: { readonly id: string; readonly time?: string },
  sourceRoot: string,
): Promise<void> {
  const missing = await findMissingItems(manifest, items);
  if (missing.length > 0) throw missingItemsError(missing, point, sourceRoot);
}
