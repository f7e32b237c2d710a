/**
 * The per-point file index (docs/design/file-index.md): what browse, search,
 * versions and end-user recovery read instead of decoding manifests.
 *
 * It indexes manifest *pages*, not points: a page is a chunk, and an
 * unchanged stretch of a tree gives the same page in the next point, so a
 * page's items are stored once however many points hold it. A point is its
 * list of pages. A new point therefore costs rows only for the pages that
 * changed since the points already indexed.
 *
 * It is derived data, kept in its own SQLite file beside the catalog: any
 * of it can be rebuilt from the pool, so it is never backed up, a damaged
 * file is replaced by an empty one, and `reconcile` brings it in line with
 * the catalog's recovery points (at start, after every commit and prune).
 */
import { createHash } from 'node:crypto';
import { existsSync, renameSync } from 'node:fs';
import Database from 'better-sqlite3';
import { CustosError, errorMessage } from '../../base/index.js';
import { decodePage, type EntryType, type ManifestEntry } from '../../format/manifest.js';
import type { RecoveryPointRecord } from '../../format/point.js';
import { compilePattern } from './glob.js';
import type { DirectoryPage, FileIndexReader, FileVersion, IndexedItem, PointRef, SearchHit, SearchResult } from './types.js';

/** Bumped when the tables change: an index of another version is rebuilt from the pool. */
const SCHEMA_VERSION = 1;
const ACL_ACCESS = 'system.posix_acl_access';
const TYPES: readonly EntryType[] = ['file', 'dir', 'symlink', 'hardlink', 'fifo', 'char', 'block', 'socket'];
const SLASH = Buffer.from('/');

/** Where the index reads points and pages from (the pool). */
export interface FileIndexSource {
  loadPoint(id: string): Promise<RecoveryPointRecord>;
  /** The data source a point belongs to (the catalog knows; absent: derived from the point object). */
  sourceOf?(pointId: string): Promise<string | undefined>;
  readPage(chunkId: string): Promise<Buffer>;
}

/** A recovery point the index should hold. */
export interface WantedPoint {
  readonly id: string;
  readonly source: string;
}

export interface FileIndexStats {
  readonly points: number;
  readonly pages: number;
  readonly items: number;
  /** Size of the index file(s) on disk. */
  readonly bytes: number;
}

interface ItemRow {
  page: number;
  ord: number;
  path: Buffer;
  type: number;
  size: number;
  mtime_s: number;
  mtime_ns: number;
  mode: number;
  uid: number;
  gid: number;
  user_name: string | null;
  group_name: string | null;
  target: Buffer | null;
  acl: Buffer | null;
  content: Buffer | null;
  error: string | null;
}

const ITEM_COLUMNS = `i.page, i.ord, i.path, i.type, i.size, i.mtime_s, i.mtime_ns, i.mode, i.uid, i.gid,
  (SELECT name FROM names WHERE id = i.user_id) AS user_name, (SELECT name FROM names WHERE id = i.group_id) AS group_name,
  i.target, i.acl, i.content, i.error`;

export class FileIndex implements FileIndexReader {
  /** Builds and sweeps run one at a time, in order; queries wait only for the point they need. */
  private work: Promise<unknown> = Promise.resolve();
  private readonly building = new Map<string, Promise<void>>();
  private readonly nameIds = new Map<string, number>();
  private closing = false;
  private readonly stmt: ReturnType<FileIndex['prepare']>;

  private constructor(
    private readonly db: Database.Database,
    private readonly file: string,
    private readonly from: FileIndexSource,
    private readonly log: (message: string) => void,
  ) {
    this.stmt = this.prepare();
    for (const r of db.prepare('SELECT id, name FROM names').all() as Array<{ id: number; name: string }>) this.nameIds.set(r.name, r.id);
  }

  /**
   * Opens the index at `file`, creating it when missing. A file that cannot
   * be opened, or of another schema version, is moved aside (`.damaged`)
   * and replaced by an empty index: nothing in it is lost that the pool
   * cannot give back.
   */
  static open(file: string, from: FileIndexSource, log: (message: string) => void = () => undefined): FileIndex {
    let db: Database.Database | null = null;
    try {
      db = openDatabase(file);
    } catch (err) {
      db?.close();
      if (existsSync(file)) {
        log(`file index ${file} cannot be used (${errorMessage(err)}): it is rebuilt from the pool`);
        for (const suffix of ['', '-wal', '-shm']) if (existsSync(file + suffix)) renameSync(file + suffix, `${file}${suffix}.damaged`);
      }
      db = openDatabase(file);
    }
    return new FileIndex(db, file, from, log);
  }

  /** Stops after the page being indexed (the point is left unindexed: the next start indexes it) and closes the file. */
  async close(): Promise<void> {
    this.closing = true;
    await this.work;
    this.db.close();
  }

  /** Whether the point is indexed (its answers are ready). */
  has(pointId: string): boolean {
    return this.stmt.pointExists.get(pointId) !== undefined;
  }

  /** Indexes the point unless it is already; resolves when it is. */
  ensure(pointId: string): Promise<void> {
    if (this.has(pointId)) return Promise.resolve();
    let pending = this.building.get(pointId);
    if (!pending) {
      pending = this.enqueue(() => this.build(pointId)).finally(() => this.building.delete(pointId));
      this.building.set(pointId, pending);
    }
    return pending;
  }

  /**
   * Brings the index in line with the points that should be in it: forgets
   * every indexed point not in `wanted` (of the given data sources, or of
   * any when `sources` is omitted), indexes the missing ones oldest first,
   * and drops pages no point holds any more. A point that cannot be read
   * from the pool is logged and left out; the next reconcile tries again.
   */
  async reconcile(wanted: readonly WantedPoint[], sources?: readonly string[]): Promise<{ added: number; removed: number }> {
    const want = new Set(wanted.map((p) => p.id));
    const scope = sources ? new Set(sources) : null;
    const indexed = this.db.prepare('SELECT id, source FROM points').all() as Array<{ id: string; source: string }>;
    const stale = indexed.filter((p) => !want.has(p.id) && (!scope || scope.has(p.source))).map((p) => p.id);
    if (stale.length > 0) await this.enqueue(async () => this.forgetNow(stale));
    let added = 0;
    for (const p of wanted) {
      if (this.has(p.id)) continue;
      try {
        await this.ensure(p.id);
        added++;
      } catch (err) {
        this.log(`file index: point ${p.id} of ${p.source} could not be indexed: ${errorMessage(err)}`);
      }
    }
    return { added, removed: stale.length };
  }

  stats(): FileIndexStats {
    const count = (table: string) => (this.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    const pageCount = this.db.pragma('page_count', { simple: true }) as number;
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    return { points: count('points'), pages: count('pages'), items: count('items'), bytes: pageCount * pageSize };
  }

  // --- answers -------------------------------------------------------------

  async item(pointId: string, path: Buffer): Promise<IndexedItem | undefined> {
    await this.ensure(pointId);
    const row = this.stmt.itemAt.get({ point: pointId, key: pathKey(path), path }) as ItemRow | undefined;
    return row ? toItem(row) : undefined;
  }

  async list(pointId: string, dir: Buffer, page: { readonly after?: Buffer; readonly limit: number }): Promise<DirectoryPage> {
    const d = await this.item(pointId, dir);
    if (!d) throw new CustosError('not-found', `${showPath(dir)} is not in recovery point ${pointId}`);
    if (d.type !== 'dir') throw new CustosError('usage', `${showPath(dir)} is a ${d.type} in recovery point ${pointId}, not a directory`);
    const prefix = dir.length === 0 ? Buffer.alloc(0) : Buffer.concat([dir, SLASH]);
    const after = page.after === undefined ? prefix : Buffer.concat([prefix, page.after]);
    const limit = Math.max(1, Math.min(page.limit, 10_000));
    const rows = this.stmt.children.all({ parent: pointKey(dir), point: pointId, after, prefixLength: prefix.length, prefix, limit: limit + 1 }) as ItemRow[];
    const items = await this.resolveLinks(pointId, rows.slice(0, limit).map(toItem));
    const last = items.at(-1);
    return { items, next: rows.length > limit && last ? last.path.subarray(prefix.length) : null };
  }

  async search(points: readonly PointRef[], pattern: string, limit: number): Promise<SearchResult> {
    const compiled = compilePattern(pattern);
    for (const p of points) await this.ensure(p.id);
    const { pagePoints, order } = this.pagesOf(points);
    const hits = new Map<string, { path: Buffer; type: EntryType; size: number; first: number; last: number; count: number }>();
    const rows = this.stmt.searchRows.iterate({ pages: JSON.stringify([...pagePoints.keys()]), literal: compiled.literal }) as Iterable<{ page: number; path: Buffer; type: number; size: number }>;
    for (const r of rows) {
      if (!compiled.matches(r.path)) continue;
      const key = r.path.toString('latin1');
      let h = hits.get(key);
      for (const at of pagePoints.get(r.page) ?? []) {
        if (!h) {
          h = { path: r.path, type: TYPES[r.type]!, size: r.size, first: at, last: at, count: 0 };
          hits.set(key, h);
        }
        h.count++;
        if (at < h.first) h.first = at;
        if (at >= h.last) Object.assign(h, { last: at, type: TYPES[r.type]!, size: r.size });
      }
    }
    const sorted = [...hits.values()].sort((a, b) => Buffer.compare(a.path, b.path));
    const out: SearchHit[] = sorted.slice(0, limit).map((h) => ({
      path: h.path, type: h.type, size: h.size, first: order[h.first]!, last: order[h.last]!, points: h.count,
    }));
    return { hits: out, truncated: sorted.length > limit };
  }

  async versions(points: readonly PointRef[], path: Buffer): Promise<readonly FileVersion[]> {
    for (const p of points) await this.ensure(p.id);
    const { pagePoints, order } = this.pagesOf(points);
    const rows = this.stmt.versionRows.all({ key: pathKey(path), path, pages: JSON.stringify([...pagePoints.keys()]) }) as ItemRow[];
    const byPoint: Array<{ at: number; item: IndexedItem }> = [];
    for (const r of rows) for (const at of pagePoints.get(r.page) ?? []) byPoint.push({ at, item: toItem(r) });
    byPoint.sort((a, b) => a.at - b.at);
    const versions = new Map<string, { content: string | null; size: number; mtimeNs: bigint; points: PointRef[] }>();
    for (const { at, item } of byPoint) {
      const resolved = item.type === 'hardlink' ? ((await this.resolveLinks(order[at]!.id, [item]))[0] ?? item) : item;
      const key = resolved.content ?? `${resolved.type}:${resolved.error ?? ''}`;
      let v = versions.get(key);
      if (!v) {
        v = { content: resolved.content, size: resolved.size, mtimeNs: resolved.mtimeNs, points: [] };
        versions.set(key, v);
      }
      v.points.push(order[at]!);
    }
    return [...versions.values()];
  }

  // --- building ------------------------------------------------------------

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.work.then(() => {
      if (this.closing) throw new CustosError('cancelled', 'the file index is closing');
      return task();
    });
    this.work = run.catch(() => undefined);
    return run;
  }

  /** Indexes one point: its new pages (decoded from the pool), then the point itself, which makes it visible. */
  private async build(pointId: string): Promise<void> {
    if (this.has(pointId)) return;
    const record = await this.from.loadPoint(pointId);
    const source = (await this.from.sourceOf?.(pointId)) ?? sourceIdOf(record);
    const pageIds: number[] = [];
    for (const ref of record.manifest) {
      const known = this.stmt.pageId.get(Buffer.from(ref.id, 'hex')) as { id: number } | undefined;
      if (known) {
        pageIds.push(known.id);
        continue;
      }
      if (this.closing) throw new CustosError('cancelled', 'the file index is closing');
      let entries: ManifestEntry[];
      try {
        entries = decodePage(await this.from.readPage(ref.id));
      } catch (err) {
        throw new CustosError('integrity', `manifest page ${ref.id} of point ${pointId} cannot be read: ${errorMessage(err)}`, { cause: err });
      }
      pageIds.push(this.insertPage(ref.id, entries));
    }
    this.db.transaction(() => {
      this.stmt.insertPoint.run(pointId, source, record.time);
      pageIds.forEach((page, seq) => this.stmt.insertPointPage.run(pointId, seq, page));
    })();
  }

  private insertPage(chunkId: string, entries: readonly ManifestEntry[]): number {
    return this.db.transaction(() => {
      const page = Number(this.stmt.insertPage.run(Buffer.from(chunkId, 'hex'), entries.length).lastInsertRowid);
      entries.forEach((e, ord) => {
        const slash = e.path.lastIndexOf(0x2f);
        const parent = e.path.length === 0 ? ROOT_PARENT : pointKey(slash < 0 ? Buffer.alloc(0) : e.path.subarray(0, slash));
        const mtime = e.mtimeNs;
        this.stmt.insertItem.run(
          page, ord, parent, pathKey(e.path), e.path, TYPES.indexOf(e.type), e.size,
          Number(mtime / 1_000_000_000n), Number(((mtime % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n),
          e.mode, e.uid, e.gid, this.nameId(e.user), this.nameId(e.group), e.target ?? null,
          e.xattrs?.find(([n]) => n === ACL_ACCESS)?.[1] ?? null, contentDigest(e), e.error ?? null,
        );
      });
      return page;
    })();
  }

  private nameId(name: string | undefined): number | null {
    if (name === undefined) return null;
    let id = this.nameIds.get(name);
    if (id === undefined) {
      id = Number(this.stmt.insertName.run(name).lastInsertRowid);
      this.nameIds.set(name, id);
    }
    return id;
  }

  /** Forgets points, then drops the pages (and their items) no point holds any more. */
  private forgetNow(ids: readonly string[]): void {
    this.db.transaction(() => {
      for (const id of ids) {
        this.stmt.deletePointPages.run(id);
        this.stmt.deletePoint.run(id);
      }
      this.db.exec(`DELETE FROM items WHERE page IN (SELECT id FROM pages p WHERE NOT EXISTS (SELECT 1 FROM point_pages pp WHERE pp.page = p.id));
        DELETE FROM pages WHERE NOT EXISTS (SELECT 1 FROM point_pages pp WHERE pp.page = pages.id);`);
    })();
  }

  // --- helpers of the answers ------------------------------------------------

  /** For each page of the given points, the points holding it (as indexes into `order`, oldest first). */
  private pagesOf(points: readonly PointRef[]): { pagePoints: Map<number, number[]>; order: PointRef[] } {
    const order = [...points].sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id));
    const at = new Map(order.map((p, i) => [p.id, i]));
    const pagePoints = new Map<number, number[]>();
    const rows = this.stmt.pointPages.all(JSON.stringify(order.map((p) => p.id))) as Array<{ point: string; page: number }>;
    for (const r of rows) {
      const list = pagePoints.get(r.page) ?? [];
      if (list.length === 0) pagePoints.set(r.page, list);
      list.push(at.get(r.point)!);
    }
    return { pagePoints, order };
  }

  /** A hard link shows the type, size and content of the item it links to in the same point. */
  private async resolveLinks(pointId: string, items: IndexedItem[]): Promise<IndexedItem[]> {
    return Promise.all(items.map(async (it) => {
      if (it.type !== 'hardlink' || !it.target) return it;
      const row = this.stmt.itemAt.get({ point: pointId, key: pathKey(it.target), path: it.target }) as ItemRow | undefined;
      if (!row) return it;
      const linked = toItem(row);
      return { ...it, size: linked.size, content: linked.content, error: linked.error };
    }));
  }

  private prepare() {
    const db = this.db;
    return {
      pointExists: db.prepare('SELECT 1 FROM points WHERE id = ?'),
      pageId: db.prepare('SELECT id FROM pages WHERE chunk = ?'),
      insertPage: db.prepare('INSERT INTO pages (chunk, entries) VALUES (?, ?)'),
      insertName: db.prepare('INSERT INTO names (name) VALUES (?)'),
      insertItem: db.prepare(`INSERT INTO items (page, ord, parent, key, path, type, size, mtime_s, mtime_ns, mode, uid, gid, user_id, group_id, target, acl, content, error)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      insertPoint: db.prepare('INSERT INTO points (id, source, time) VALUES (?, ?, ?)'),
      insertPointPage: db.prepare('INSERT INTO point_pages (point, seq, page) VALUES (?, ?, ?)'),
      deletePoint: db.prepare('DELETE FROM points WHERE id = ?'),
      deletePointPages: db.prepare('DELETE FROM point_pages WHERE point = ?'),
      itemAt: db.prepare(`SELECT ${ITEM_COLUMNS} FROM items i WHERE i.key = @key AND i.path = @path
        AND EXISTS (SELECT 1 FROM point_pages pp WHERE pp.page = i.page AND pp.point = @point)`),
      // One directory's children in name order: walk order within a point is (page position, place in page).
      children: db.prepare(`SELECT ${ITEM_COLUMNS} FROM point_pages pp JOIN items i ON i.parent = @parent AND i.page = pp.page
        WHERE pp.point = @point AND i.path > @after AND substr(i.path, 1, @prefixLength) = @prefix AND length(i.path) > @prefixLength
          AND instr(substr(i.path, @prefixLength + 1), x'2f') = 0
        ORDER BY pp.seq, i.ord LIMIT @limit`),
      pointPages: db.prepare('SELECT point, page FROM point_pages WHERE point IN (SELECT value FROM json_each(?))'),
      searchRows: db.prepare(`SELECT page, path, type, size FROM items
        WHERE page IN (SELECT value FROM json_each(@pages)) AND (@literal IS NULL OR instr(path, @literal) > 0)`),
      versionRows: db.prepare(`SELECT ${ITEM_COLUMNS} FROM items i WHERE i.key = @key AND i.path = @path AND i.page IN (SELECT value FROM json_each(@pages))`),
    };
  }

  /** The file the index lives in (for logs and the bench). */
  get path(): string {
    return this.file;
  }
}

function openDatabase(file: string): Database.Database {
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL'); // derived data: a lost last transaction is rebuilt by the next reconcile
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version !== 0 && version !== SCHEMA_VERSION) throw new Error(`schema version ${version}, this server uses ${SCHEMA_VERSION}`);
    if (version === 0) createSchema(db);
    const check = db.pragma('quick_check', { simple: true }) as string;
    if (check !== 'ok') throw new Error(`quick_check: ${check}`);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function createSchema(db: Database.Database): void {
  db.exec(`
    CREATE TABLE pages (id INTEGER PRIMARY KEY, chunk BLOB NOT NULL UNIQUE, entries INTEGER NOT NULL);
    CREATE TABLE names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
    CREATE TABLE items (
      page INTEGER NOT NULL, ord INTEGER NOT NULL, parent INTEGER NOT NULL, key INTEGER NOT NULL, path BLOB NOT NULL,
      type INTEGER NOT NULL, size INTEGER NOT NULL, mtime_s INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
      mode INTEGER NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, user_id INTEGER, group_id INTEGER,
      target BLOB, acl BLOB, content BLOB, error TEXT,
      PRIMARY KEY (page, ord)) WITHOUT ROWID;
    CREATE INDEX items_by_parent ON items (parent);
    CREATE INDEX items_by_key ON items (key);
    CREATE TABLE points (id TEXT PRIMARY KEY, source TEXT NOT NULL, time TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE point_pages (point TEXT NOT NULL, seq INTEGER NOT NULL, page INTEGER NOT NULL, PRIMARY KEY (point, seq)) WITHOUT ROWID;
    CREATE INDEX point_pages_by_page ON point_pages (page, point);
    PRAGMA user_version = ${SCHEMA_VERSION};
  `);
}

/** The parent key of the root entry: no path hashes to it in practice, and the root is nobody's child. */
const ROOT_PARENT = -1;

/**
 * A 53-bit hash of a path (two 32-bit multiplicative hashes mixed): the key
 * of the parent and path indexes. Collisions only cost a comparison: every
 * query also compares the path bytes.
 */
export function pathKey(path: Uint8Array): number {
  let h1 = 0x811c9dc5 ^ path.length;
  let h2 = 0x9e3779b9;
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 0x85ebca6b) ^ Math.imul(h2 ^ (h2 >>> 13), 0xc2b2ae35);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 0x85ebca6b) ^ Math.imul(h1 ^ (h1 >>> 13), 0xc2b2ae35);
  return (h2 & 0x1fffff) * 0x100000000 + (h1 >>> 0);
}

/** The key a directory's children carry as their parent: the directory's own path key. */
const pointKey = pathKey;

/**
 * What makes two versions of an item the same: for a file the list of its
 * chunk ids (content-addressed, so equal lists ⇔ equal bytes), for a
 * symlink its target. 16 bytes of SHA-256.
 */
function contentDigest(e: ManifestEntry): Buffer | null {
  if (e.type === 'file') {
    if (e.error !== undefined && !e.chunks) return null;
    const h = createHash('sha256').update('file\0');
    for (const c of e.chunks ?? []) h.update(c.id);
    return h.digest().subarray(0, 16);
  }
  if (e.type === 'symlink' && e.target) return createHash('sha256').update('symlink\0').update(e.target).digest().subarray(0, 16);
  return null;
}

function toItem(r: ItemRow): IndexedItem {
  return {
    path: r.path,
    type: TYPES[r.type] ?? 'file',
    size: r.size,
    mtimeNs: BigInt(r.mtime_s) * 1_000_000_000n + BigInt(r.mtime_ns),
    mode: r.mode,
    uid: r.uid,
    gid: r.gid,
    user: r.user_name,
    group: r.group_name,
    target: r.target,
    acl: r.acl,
    content: r.content ? r.content.toString('hex') : null,
    error: r.error,
  };
}

function sourceIdOf(record: RecoveryPointRecord): string {
  return `${record.source.host}:fs:${record.source.path}`;
}

function showPath(p: Buffer): string {
  return p.length === 0 ? 'the protected directory' : JSON.stringify(p.toString('utf8'));
}
