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

/** The protected directory as bytes to compare with: no trailing '/', empty for '/' itself. */
function rootOf(sourceRoot: string): Buffer {
  return Buffer.from(sourceRoot.replace(/\/+$/, ''), 'utf8');
}

const MAX_ITEM_BYTES = 4096;

/**
 * A path inside a data source in manifest form (relative to the protected
 * directory, components joined by one '/', no '.' or '..'; empty: the
 * protected directory itself), from what a person or a caller gave: a path
 * relative to the protected directory (a leading './' allowed), or an
 * absolute one under it. Raw bytes, so names that are not UTF-8 work. The
 * one rule for --item (standalone and server), browse, versions and
 * end-user requests; usage errors begin with `what` (e.g. "--item x").
 */
export function itemBytes(bytes: Buffer, sourceRoot: string, what: string): Buffer {
  if (bytes.includes(0)) throw new UserError('usage', `${what} contains a NUL byte`);
  let rel = bytes;
  if (bytes[0] === 0x2f) {
    const root = rootOf(sourceRoot);
    const trimmed = trimSlashes(bytes);
    const under = root.length === 0 || trimmed.equals(root) || (trimmed.length > root.length && trimmed.subarray(0, root.length).equals(root) && trimmed[root.length] === 0x2f);
    if (!under) throw new UserError('usage', `${what} is not under the protected directory ${sourceRoot.replace(/\/+$/, '') || '/'}: give a path inside it, absolute or relative to it`);
    rel = trimmed.subarray(root.length);
  }
  const parts = splitComponents(rel);
  while (parts.length > 0 && parts[0]!.length === 1 && parts[0]![0] === 0x2e) parts.shift(); // leading './'
  for (const p of parts) {
    if ((p.length === 1 && p[0] === 0x2e) || (p.length === 2 && p[0] === 0x2e && p[1] === 0x2e)) {
      throw new UserError('usage', `${what} is not a path inside the recovery point ('.' and '..' are not allowed)`);
    }
  }
  const out = Buffer.concat(parts.flatMap((p, i) => (i === 0 ? [p] : [SLASH, p])));
  if (out.length > MAX_ITEM_BYTES) throw new UserError('usage', `${what} is longer than ${MAX_ITEM_BYTES} bytes`);
  checkRelativePath(out);
  return out;
}

const SLASH = Buffer.from('/');

/** Without the slashes it ends with (the whole path when it is all slashes but one). */
function trimSlashes(b: Buffer): Buffer {
  let end = b.length;
  while (end > 1 && b[end - 1] === 0x2f) end--;
  return b.subarray(0, end);
}

/** The non-empty components of a path. */
function splitComponents(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= b.length; i++) {
    if (i === b.length || b[i] === 0x2f) {
      if (i > start) out.push(b.subarray(start, i));
      start = i + 1;
    }
  }
  return out;
}

/**
 * An --item argument in manifest form: itemBytes, and the whole point is
 * not an item (leave --item out instead).
 */
export function resolveItem(item: string, sourceRoot: string): Buffer {
  const path = itemBytes(Buffer.from(item, 'utf8'), sourceRoot, `--item ${item}`);
  if (path.length === 0) throw new UserError('usage', `--item ${item} names the whole recovery point; leave --item out instead`);
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

