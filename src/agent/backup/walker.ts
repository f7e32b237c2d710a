/**
 * Walks a tree depth-first with each directory's names sorted bytewise — the
 * manifest's walk order — using raw byte paths so no name is ever mangled.
 *
 * Two walks live here. `walk` looks at every item (lstat each, list each
 * directory). `walkChanges` is told which paths may have changed since the
 * previous recovery point (a change journal's ChangeSet) and merges the file
 * system with that point's manifest: a directory with nothing changed below
 * it is neither listed nor stat'ed, its entries are replayed from the
 * manifest as they are. Whenever the change set cannot say for sure, it looks
 * at the file system (conservative = correct).
 */
import { lstatSync, readdirSync, type BigIntStats } from 'node:fs';
import { isErrno } from '../../base/index.js';
import { comparePaths, type ManifestEntry } from '../../format/index.js';

export interface WalkItem {
  /** Path relative to the root ('' for the root itself). */
  readonly rel: Buffer;
  readonly abs: Buffer;
  readonly st: BigIntStats;
  /** Set when a directory could not be listed. */
  readonly error?: string;
}

/** What a walk cost; a walk guided by changes should touch little of an unchanged tree. */
export interface WalkStats {
  /** lstat calls. */
  itemsStatted: number;
  /** Directories listed (readdir calls). */
  dirsListed: number;
  /** Entries taken from the previous recovery point's manifest without looking at the file system. */
  itemsReused: number;
}

export function newWalkStats(): WalkStats {
  return { itemsStatted: 0, dirsListed: 0, itemsReused: 0 };
}

/**
 * Paths that may have changed since the previous recovery point was taken,
 * relative to the source root and '/'-separated: raw bytes as Buffers (like
 * WalkItem.rel), or strings taken as UTF-8. '' is the root.
 */
export interface ChangeSet {
  /**
   * Items created, modified, deleted, renamed or whose metadata changed. Each
   * is stat'ed again; a directory among them is listed again. Their parents
   * need not be included: every ancestor of a changed path is listed.
   */
  readonly paths: Iterable<Buffer | string>;
  /**
   * Directories whose whole subtree may have changed without an event per
   * item: every item below is stat'ed as in a walk without changes. Every
   * directory created, moved in or replaced since the previous point must be
   * here: the walk cannot tell reliably (a replacement often gets the same
   * inode number), and would copy stale entries from the previous point.
   */
  readonly subtrees?: Iterable<Buffer | string>;
  /**
   * Every item of the tree with more than one link is among `paths` (the
   * change journal vouches for it: it looks at each on every
   * synchronization). The walk then looks at every name of a hard-link group
   * and builds the group as a full walk would; without it, a changed file
   * with other links makes the whole tree walked.
   */
  readonly linksIncluded?: boolean;
}

const SLASH = Buffer.from('/');
export const EMPTY_PATH = Buffer.alloc(0);

function join(a: Buffer, b: Buffer): Buffer {
  return a.length === 0 ? b : Buffer.concat([a, SLASH, b]);
}

function listSorted(abs: Buffer, stats: WalkStats | undefined): Buffer[] {
  if (stats) stats.dirsListed++;
  const names = readdirSync(abs, { encoding: 'buffer' });
  return names.sort(Buffer.compare);
}

function lstatCounted(abs: Buffer, stats: WalkStats | undefined): BigIntStats {
  if (stats) stats.itemsStatted++;
  return lstatSync(abs, { bigint: true });
}

interface Frame {
  readonly abs: Buffer;
  readonly rel: Buffer;
  readonly names: Buffer[];
  i: number;
}

/** `exclude` is asked before an item is yielded; an excluded directory is not descended. */
export function* walk(root: Buffer, exclude: (rel: Buffer, isDir: boolean) => boolean, stats?: WalkStats): Generator<WalkItem> {
  const rootSt = lstatCounted(root, stats);
  const stack: Frame[] = [];
  const enter = (abs: Buffer, rel: Buffer, st: BigIntStats): WalkItem => {
    try {
      stack.push({ abs, rel, names: listSorted(abs, stats), i: 0 });
      return { rel, abs, st };
    } catch (err) {
      return { rel, abs, st, error: `cannot list directory: ${(err as Error).message}` };
    }
  };
  yield rootSt.isDirectory() ? enter(root, EMPTY_PATH, rootSt) : { rel: EMPTY_PATH, abs: root, st: rootSt };
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.i >= top.names.length) {
      stack.pop();
      continue;
    }
    const name = top.names[top.i++]!;
    const abs = Buffer.concat([top.abs, SLASH, name]);
    const rel = join(top.rel, name);
    let st: BigIntStats;
    try {
      st = lstatCounted(abs, stats);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) continue; // removed since the directory was listed
      throw err;
    }
    const isDir = st.isDirectory();
    if (exclude(rel, isDir)) continue;
    yield isDir ? enter(abs, rel, st) : { rel, abs, st };
  }
}

/**
 * The items of `items` under the directory `prefix` (one name, no '/'): the
 * root item becomes `prefix` itself. Walks of several trees put side by side
 * under one virtual root, in the manifest's order when the prefixes are
 * given in byte order (an application's tree: data/, label/, wal/).
 */
export function* underPrefix(prefix: string, items: Iterable<WalkItem>): Generator<WalkItem> {
  const p = Buffer.from(prefix);
  if (p.length === 0 || p.includes(0x2f) || p.includes(0)) throw new Error(`${JSON.stringify(prefix)} is not one name`);
  for (const item of items) yield { ...item, rel: item.rel.length === 0 ? p : Buffer.concat([p, SLASH, item.rel]) };
}

// ---------------------------------------------------------------------------
// The previous recovery point's manifest

/** True when `path` lies strictly below the directory `dir` ('' is the root). */
export function isUnder(path: Buffer, dir: Buffer): boolean {
  if (dir.length === 0) return path.length > 0;
  return path.length > dir.length && path[dir.length] === 0x2f && path.compare(dir, 0, dir.length, 0, dir.length) === 0;
}

/** A cursor over the previous manifest; lookups must come in walk order. */
export class PreviousCursor {
  private current: ManifestEntry | null = null;
  /** The caller has been given `current` (passing over it later is not a drop). */
  private seen = false;
  private done = false;
  private readonly it: AsyncIterator<ManifestEntry> | null;
  /** Called for each entry passed over without having been given to the caller: an item that is gone. */
  onDrop: ((e: ManifestEntry) => void) | null = null;

  constructor(source: AsyncIterable<ManifestEntry> | null | undefined) {
    this.it = source ? source[Symbol.asyncIterator]() : null;
    if (!this.it) this.done = true;
  }

  /** The next entry, without consuming it. */
  async peek(): Promise<ManifestEntry | null> {
    if (this.current === null && !this.done) {
      const n = await this.it!.next();
      if (n.done) this.done = true;
      else {
        this.current = n.value;
        this.seen = false;
      }
    }
    return this.current;
  }

  /** Consumes the entry peek() returned, as used. */
  take(): void {
    this.current = null;
  }

  private pass(): void {
    if (!this.seen && this.onDrop) this.onDrop(this.current!);
    this.current = null;
  }

  /** The entry for `path`, or null; entries before it are passed over. */
  async find(path: Buffer): Promise<ManifestEntry | null> {
    for (;;) {
      const cur = await this.peek();
      if (cur === null) return null;
      const c = comparePaths(cur.path, path);
      if (c === 0) {
        this.seen = true;
        return cur;
      }
      if (c > 0) return null;
      this.pass();
    }
  }

  /** Passes over every entry below `dir` (and `dir`'s own entry if it is next). */
  async skipUnder(dir: Buffer): Promise<void> {
    for (;;) {
      const cur = await this.peek();
      if (cur === null) return;
      if (!isUnder(cur.path, dir) && !cur.path.equals(dir)) return;
      this.pass();
    }
  }
}

// ---------------------------------------------------------------------------
// The walk guided by a change set

/** A ChangeSet checked and indexed for the walk; keys are paths as latin1 strings (reversible for any bytes). */
export class ChangeIndex {
  /** Changed items (subtree roots included). */
  readonly changed = new Set<string>();
  /** Proper ancestors of changed items: listed, and stat'ed themselves. */
  readonly onPath = new Set<string>();
  readonly subtrees = new Set<string>();
  /** The changed paths and subtree roots as given (normalized), for the hard-link check. */
  readonly paths: Buffer[] = [];
  readonly subtreePaths: Buffer[] = [];

  /** Adds a path; returns a reason when it cannot be understood. */
  add(raw: Buffer | string, subtree: boolean): string | null {
    const bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
    const parts: Buffer[] = [];
    let start = 0;
    for (let i = 0; i <= bytes.length; i++) {
      if (i < bytes.length && bytes[i] !== 0x2f) continue;
      const part = bytes.subarray(start, i);
      start = i + 1;
      if (part.length === 0 || (part.length === 1 && part[0] === 0x2e)) continue;
      if (part.length === 2 && part[0] === 0x2e && part[1] === 0x2e) return `a changed path contains '..': ${bytes.toString('utf8')}`;
      if (part.includes(0)) return 'a changed path contains a NUL byte';
      parts.push(part);
    }
    const path = parts.length === 0 ? EMPTY_PATH : Buffer.concat(parts.flatMap((p, i) => (i === 0 ? [p] : [SLASH, p])));
    const key = path.toString('latin1');
    if (subtree) {
      if (!this.subtrees.has(key)) this.subtreePaths.push(path);
      this.subtrees.add(key);
    }
    if (!this.changed.has(key)) this.paths.push(path);
    this.changed.add(key);
    for (let i = path.length - 1; i >= 0; i--) if (path[i] === 0x2f) this.onPath.add(path.subarray(0, i).toString('latin1'));
    if (path.length > 0) this.onPath.add('');
    return null;
  }
}

export type ChangePlan = { readonly index: ChangeIndex } | { readonly fallback: string };

/**
 * Checks a change set before the walk. A hard link is the one thing the
 * guided walk cannot handle from the change set alone: writing to a file
 * through one name changes every other name of it, and those names get no
 * event. The manifest keeps the content under the group's first name in walk
 * order, which may already be behind the walk when the changed name comes
 * up. So when a changed path, or any file in a changed subtree, is a regular
 * file with more than one link, the whole tree is walked instead — unless
 * the change set says every multi-link item is among its paths
 * (`linksIncluded`), so every name of each group is looked at.
 */
export function planChangeWalk(root: Buffer, changes: ChangeSet, stats: WalkStats): ChangePlan {
  const index = new ChangeIndex();
  for (const p of changes.paths) {
    const bad = index.add(p, false);
    if (bad) return { fallback: bad };
  }
  for (const p of changes.subtrees ?? []) {
    const bad = index.add(p, true);
    if (bad) return { fallback: bad };
  }
  const abs = (rel: Buffer): Buffer => (rel.length === 0 ? root : Buffer.concat([root, SLASH, rel]));
  const stat = (path: Buffer): BigIntStats | null => {
    try {
      return lstatCounted(path, stats);
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return null;
      throw err;
    }
  };
  const linked = (rel: Buffer): string => `a changed file has other hard links (${rel.toString('utf8')}): every item was looked at`;
  if (changes.linksIncluded) return { index };
  for (const rel of index.paths) {
    if (index.subtrees.has(rel.toString('latin1'))) continue;
    const st = stat(abs(rel));
    if (st && st.isFile() && st.nlink > 1n) return { fallback: linked(rel) };
  }
  const insideAnother = (rel: Buffer): boolean => {
    for (let i = rel.length - 1; i >= 0; i--) if (rel[i] === 0x2f && index.subtrees.has(rel.subarray(0, i).toString('latin1'))) return true;
    return rel.length > 0 && index.subtrees.has('');
  };
  for (const top of index.subtreePaths) {
    if (insideAnother(top)) continue;
    const pending = [top];
    while (pending.length > 0) {
      const rel = pending.pop()!;
      const st = stat(abs(rel));
      if (!st) continue;
      if (st.isFile() && st.nlink > 1n) return { fallback: linked(rel) };
      if (!st.isDirectory()) continue;
      let names: Buffer[];
      try {
        names = listSorted(abs(rel), stats);
      } catch {
        continue; // the walk reports it
      }
      for (const n of names) pending.push(join(rel, n));
    }
  }
  return { index };
}

export type ChangeWalkItem =
  /** Looked at on the file system; `prev` is the previous manifest's entry for the same path. */
  | { readonly kind: 'stat'; readonly item: WalkItem; readonly prev: ManifestEntry | null }
  /** Taken from the previous manifest as it is. */
  | { readonly kind: 'reuse'; readonly entry: ManifestEntry };

export interface ChangeWalkOptions {
  readonly root: Buffer;
  readonly exclude: (rel: Buffer, isDir: boolean) => boolean;
  readonly index: ChangeIndex;
  readonly previous: PreviousCursor;
  /** Whether an entry may be copied as it is (no error, its chunks still in the pool...). */
  readonly canReuse: (e: ManifestEntry) => boolean;
  readonly stats: WalkStats;
}

/** Above this many files not taken over, every hard link entry is looked at (bounded memory). */
const MAX_NOT_REUSED = 100_000;

interface ListFrame {
  readonly kind: 'list';
  readonly abs: Buffer;
  readonly rel: Buffer;
  readonly names: Buffer[];
  /** Everything below is looked at: the directory is new, replaced or in a changed subtree. */
  readonly deep: boolean;
  i: number;
}

interface ReplayFrame {
  readonly kind: 'replay';
  readonly rel: Buffer;
}

/**
 * The walk guided by changes: same items, same order as `walk` followed by a
 * lookup of each in the previous manifest, but only changed paths, their
 * ancestors and new or replaced directories are looked at on the file system.
 * The previous cursor must be at its start and is driven by this walk.
 */
export async function* walkChanges(options: ChangeWalkOptions): AsyncGenerator<ChangeWalkItem> {
  const { root, exclude, index, previous, canReuse, stats } = options;
  // Files of the previous point not taken over as they are. A hard link entry
  // names its group's first file; when that file is gone or looked at again,
  // the link is looked at too so the group is rebuilt as a full walk would.
  const notReused = new Set<string>();
  let notReusedOverflow = false;
  const notReusedAdd = (e: ManifestEntry): void => {
    if (e.type !== 'file' || notReusedOverflow) return;
    if (notReused.size >= MAX_NOT_REUSED) {
      notReusedOverflow = true;
      notReused.clear();
    } else notReused.add(e.path.toString('latin1'));
  };
  previous.onDrop = notReusedAdd;
  const linkBroken = (e: ManifestEntry): boolean =>
    e.type === 'hardlink' && (notReusedOverflow || e.target === undefined || notReused.has(e.target.toString('latin1')));
  const reusable = (e: ManifestEntry): boolean => canReuse(e) && !linkBroken(e);

  const stack: Array<ListFrame | ReplayFrame> = [];
  const absOf = (rel: Buffer): Buffer => (rel.length === 0 ? root : Buffer.concat([root, SLASH, rel]));
  const statOrNull = (abs: Buffer): BigIntStats | null => {
    try {
      return lstatCounted(abs, stats);
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return null; // gone
      throw err;
    }
  };
  /** A directory looked at: yields it and lists it. */
  const enter = (abs: Buffer, rel: Buffer, st: BigIntStats, prev: ManifestEntry | null, deep: boolean): ChangeWalkItem => {
    const replaced = prev === null || prev.type !== 'dir' || prev.ino !== st.ino || prev.error !== undefined;
    try {
      const names = listSorted(abs, stats);
      stack.push({ kind: 'list', abs, rel, names, i: 0, deep: deep || replaced || index.subtrees.has(rel.toString('latin1')) });
      return { kind: 'stat', item: { rel, abs, st }, prev };
    } catch (err) {
      return { kind: 'stat', item: { rel, abs, st, error: `cannot list directory: ${(err as Error).message}` }, prev };
    }
  };
  const reuse = (e: ManifestEntry): ChangeWalkItem => {
    stats.itemsReused++;
    return { kind: 'reuse', entry: e };
  };

  // The root.
  const rootPrev = await previous.find(EMPTY_PATH);
  if (rootPrev !== null && rootPrev.type === 'dir' && !index.changed.has('') && !index.onPath.has('') && reusable(rootPrev)) {
    previous.take();
    yield reuse(rootPrev);
    stack.push({ kind: 'replay', rel: EMPTY_PATH });
  } else {
    const st = lstatCounted(root, stats);
    if (st.isDirectory()) yield enter(root, EMPTY_PATH, st, rootPrev, false);
    else yield { kind: 'stat', item: { rel: EMPTY_PATH, abs: root, st }, prev: rootPrev };
  }

  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.kind === 'replay') {
      const e = await previous.peek();
      if (e === null || !isUnder(e.path, top.rel)) {
        stack.pop();
        continue;
      }
      previous.take();
      const wasDir = e.type === 'dir';
      if (reusable(e)) {
        if (exclude(e.path, wasDir)) {
          notReusedAdd(e);
          if (wasDir) await previous.skipUnder(e.path);
          continue;
        }
        yield reuse(e);
        if (wasDir) stack.push({ kind: 'replay', rel: e.path });
        continue;
      }
      // The previous entry cannot be copied (an error, chunks gone, a broken hard link group): look.
      notReusedAdd(e);
      const abs = absOf(e.path);
      const st = statOrNull(abs);
      const isDir = st?.isDirectory() ?? false;
      if (st === null || exclude(e.path, isDir) || !isDir) {
        if (wasDir) await previous.skipUnder(e.path);
        if (st !== null && !exclude(e.path, isDir)) yield { kind: 'stat', item: { rel: e.path, abs, st }, prev: e };
        continue;
      }
      const entered = enter(abs, e.path, st, e, false);
      yield entered;
      // Not listed: what the previous point had below it is not there to be replayed.
      if (entered.kind === 'stat' && entered.item.error !== undefined) await previous.skipUnder(e.path);
      continue;
    }

    if (top.i >= top.names.length) {
      stack.pop();
      // Previous entries below it that were not found are gone.
      await previous.skipUnder(top.rel);
      continue;
    }
    const name = top.names[top.i++]!;
    const rel = join(top.rel, name);
    const key = rel.toString('latin1');
    const prev = await previous.find(rel);
    const look = top.deep || prev === null || index.changed.has(key) || index.onPath.has(key) || !reusable(prev);
    if (!look) {
      const isDir = prev.type === 'dir';
      if (exclude(rel, isDir)) {
        notReusedAdd(prev);
        if (isDir) await previous.skipUnder(rel);
        continue;
      }
      yield reuse(prev);
      if (isDir) {
        previous.take();
        stack.push({ kind: 'replay', rel });
      }
      continue;
    }
    if (prev !== null) notReusedAdd(prev);
    const abs = Buffer.concat([top.abs, SLASH, name]);
    const st = statOrNull(abs);
    if (st === null) continue;
    const isDir = st.isDirectory();
    if (exclude(rel, isDir)) continue;
    yield isDir ? enter(abs, rel, st, prev, top.deep) : { kind: 'stat', item: { rel, abs, st }, prev };
  }
}
