/**
 * The per-point file index (docs/design/file-index.md): what browse, search,
 * versions and end-user recovery read instead of decoding manifests.
 *
 * Each distinct version of an item is stored once, with the range of the
 * data source's points that hold it: the points of a source are numbered
 * (`seq`) in time order, and a row holds from point `first` to point `last`
 * (null: still in the newest indexed point, the source's head). A new point
 * costs rows only for the items that changed: its manifest is compared with
 * the head's page by page (a page is a chunk, so unchanged stretches of the
 * tree are the same pages), and for the head's pages the index keeps which
 * rows they hold, so a page that went away needs no reading.
 *
 * It is derived data, kept in its own SQLite file beside the catalog: any of
 * it can be rebuilt from the pool, so it is never backed up, a damaged file
 * is replaced by an empty one, and `syncSource` brings a data source in
 * line with the catalog's recovery points (at start, after every commit and
 * prune).
 */
import { createHash } from 'node:crypto';
import { existsSync, renameSync } from 'node:fs';
import Database from 'better-sqlite3';
import { CustosError, errorMessage } from '../../base/index.js';
import { ByteWriter } from '../../format/binary.js';
import { decodePage, type EntryType, type ManifestEntry } from '../../format/manifest.js';
import type { RecoveryPointRecord } from '../../format/point.js';
import { compilePattern } from './glob.js';
import type { DirectoryPage, FileIndexReader, FileVersion, IndexedItem, PointRef, SearchHit, SearchResult } from './types.js';

/** Bumped when the tables change: an index of another version is rebuilt from the pool. */
const SCHEMA_VERSION = 2;
const ACL_ACCESS = 'system.posix_acl_access';
const TYPES: readonly EntryType[] = ['file', 'dir', 'symlink', 'hardlink', 'fifo', 'char', 'block', 'socket'];
const DIR = TYPES.indexOf('dir');
/** The parent key of the root entry: no path hashes to it in practice, and the root is nobody's child. */
const ROOT_PARENT = -1;

/** Where the index reads points and pages from (the pool), and which points it should hold (the catalog). */
export interface FileIndexSource {
  loadPoint(id: string): Promise<RecoveryPointRecord>;
  readPage(chunkId: string): Promise<Buffer>;
  /** The recovery points of a data source that should be indexed (any order). */
  pointsOf(source: string): Promise<ReadonlyArray<{ readonly id: string; readonly time: string }>>;
}

export interface FileIndexStats {
  readonly sources: number;
  readonly points: number;
  readonly items: number;
  /** Size of the index file on disk (pages in use). */
  readonly bytes: number;
}

interface ItemRow {
  id: number;
  parent: number;
  name: Buffer;
  first: number;
  last: number | null;
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

interface SourceRow {
  id: number;
  name: string;
  head_seq: number | null;
  head_time: string | null;
  head_point: string | null;
  next_seq: number;
}

const ITEM_COLUMNS = `i.id, i.parent, i.name, i.first, i.last, i.type, i.size, i.mtime_s, i.mtime_ns, i.mode, i.uid, i.gid,
  (SELECT name FROM names WHERE id = i.user_id) AS user_name, (SELECT name FROM names WHERE id = i.group_id) AS group_name,
  i.target, i.acl, i.content, i.error`;
/** Rows present in the point with sequence number @seq. */
const AT_SEQ = 'i.first <= @seq AND (i.last IS NULL OR i.last >= @seq)';

export class FileIndex implements FileIndexReader {
  /** Builds and forgets run one at a time, in order; queries wait only when their point is not indexed yet. */
  private work: Promise<unknown> = Promise.resolve();
  private readonly nameIds = new Map<string, number>();
  private closing = false;
  private readonly stmt: ReturnType<FileIndex['prepare']>;

  private constructor(
    private readonly db: Database.Database,
    private readonly from: FileIndexSource,
    private readonly log: (message: string) => void,
  ) {
    this.stmt = this.prepare();
    for (const r of db.prepare('SELECT id, name FROM names').all() as Array<{ id: number; name: string }>) this.nameIds.set(r.name, r.id);
  }

  /**
   * Opens the index at `file`, creating it when missing. A file that cannot
   * be opened, fails its quick check, or is of another schema version is
   * moved aside (`.damaged`) and replaced by an empty index: nothing in it
   * is lost that the pool cannot give back.
   */
  static open(file: string, from: FileIndexSource, log: (message: string) => void = () => undefined): FileIndex {
    let db: Database.Database;
    try {
      db = openDatabase(file);
    } catch (err) {
      if (existsSync(file)) {
        log(`file index ${file} cannot be used (${errorMessage(err)}): it is rebuilt from the pool`);
        for (const suffix of ['', '-wal', '-shm']) if (existsSync(file + suffix)) renameSync(file + suffix, `${file}${suffix}.damaged`);
      }
      db = openDatabase(file);
    }
    return new FileIndex(db, from, log);
  }

  /** Stops after the page being indexed (that point stays unindexed: the next sync indexes it) and closes the file. */
  async close(): Promise<void> {
    this.closing = true;
    await this.work.catch(() => undefined);
    this.db.close();
  }

  /** Whether the point is indexed (its answers are ready). */
  has(pointId: string): boolean {
    return this.stmt.pointSeq.get(pointId) !== undefined;
  }

  /**
   * Brings one data source in line with the points it should hold
   * (`pointsOf`): forgets the others, indexes the missing ones oldest first.
   * When the head went away, or a missing point is older than the head, the
   * source is indexed again from its oldest point. A point whose pages
   * cannot be read stops the sync there (logged); the next one tries again.
   */
  syncSource(source: string): Promise<{ added: number; removed: number }> {
    return this.enqueue(() => this.syncNow(source));
  }

  /** Forgets every data source not in `keep` (removed from the catalog). */
  forgetSourcesExcept(keep: readonly string[]): Promise<number> {
    return this.enqueue(async () => {
      const gone = (this.db.prepare('SELECT name FROM sources').all() as Array<{ name: string }>).map((r) => r.name).filter((n) => !keep.includes(n));
      for (const name of gone) this.wipe(name);
      return gone.length;
    });
  }

  stats(): FileIndexStats {
    const count = (table: string) => (this.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    const pageCount = this.db.pragma('page_count', { simple: true }) as number;
    const freePages = this.db.pragma('freelist_count', { simple: true }) as number;
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    return { sources: count('sources'), points: count('points'), items: count('items'), bytes: (pageCount - freePages) * pageSize };
  }

  // --- answers -------------------------------------------------------------

  async item(point: PointRef, path: Buffer): Promise<IndexedItem | undefined> {
    const at = await this.ready(point);
    const row = this.itemRow(at, path);
    return row ? this.resolveLinks(at, [toItem(path, row)]).then((r) => r[0]) : undefined;
  }

  async list(point: PointRef, dir: Buffer, page: { readonly after?: Buffer; readonly limit: number }): Promise<DirectoryPage> {
    const at = await this.ready(point);
    const d = this.itemRow(at, dir);
    if (!d) throw new CustosError('not-found', `${showPath(dir)} is not in recovery point ${point.id}`);
    if (d.type !== DIR) throw new CustosError('usage', `${showPath(dir)} is a ${TYPES[d.type]} in recovery point ${point.id}, not a directory`);
    const limit = Math.max(1, Math.min(page.limit, 10_000));
    const rows = this.stmt.children.all({ src: at.src, parent: pathKey(dir), after: page.after ?? Buffer.alloc(0), seq: at.seq, limit: limit + 1 }) as ItemRow[];
    const prefix = dir.length === 0 ? '' : `${dir.toString('latin1')}/`;
    const items = await this.resolveLinks(at, rows.slice(0, limit).map((r) => toItem(Buffer.from(prefix + r.name.toString('latin1'), 'latin1'), r)));
    const last = rows.length > limit ? rows[limit - 1] : undefined;
    return { items, next: last ? last.name : null };
  }

  async search(points: readonly PointRef[], pattern: string, limit: number): Promise<SearchResult> {
    const compiled = compilePattern(pattern);
    const { src, seqs, order } = await this.pointsOfOneSource(points);
    if (order.length === 0) return { hits: [], truncated: false };
    const dirs = this.directoryPaths(src);
    const hits = new Map<string, { path: Buffer; type: EntryType; size: number; first: number; last: number; count: number }>();
    const nameOnly = compiled.namesOnly;
    const rows = this.stmt.searchRows.iterate({ src, literal: nameOnly ? compiled.literal : null }) as Iterable<Pick<ItemRow, 'parent' | 'name' | 'first' | 'last' | 'type' | 'size'>>;
    for (const r of rows) {
      const dirPath = dirs.get(r.parent);
      if (dirPath === undefined) continue; // the root itself, or a row whose directory is in no indexed point
      const name = r.name.toString('latin1');
      if (nameOnly && !compiled.matchesText(name)) continue;
      const key = dirPath === '' ? name : `${dirPath}/${name}`;
      if (!nameOnly && !compiled.matchesText(key)) continue;
      for (const i of pointsInRange(seqs, r.first, r.last)) {
        let h = hits.get(key);
        if (!h) {
          h = { path: Buffer.from(key, 'latin1'), type: TYPES[r.type]!, size: r.size, first: i, last: i, count: 0 };
          hits.set(key, h);
        }
        h.count++;
        if (i < h.first) h.first = i;
        if (i >= h.last) Object.assign(h, { last: i, type: TYPES[r.type]!, size: r.size });
      }
    }
    const sorted = [...hits.values()].sort((a, b) => Buffer.compare(a.path, b.path));
    const out: SearchHit[] = sorted.slice(0, limit).map((h) => ({ path: h.path, type: h.type, size: h.size, first: order[h.first]!, last: order[h.last]!, points: h.count }));
    return { hits: out, truncated: sorted.length > limit };
  }

  async versions(points: readonly PointRef[], path: Buffer): Promise<readonly FileVersion[]> {
    const { src, seqs, order } = await this.pointsOfOneSource(points);
    if (order.length === 0) return [];
    const { parent, name } = splitPath(path);
    const rows = this.stmt.itemVersions.all({ src, parent, name }) as ItemRow[];
    const byPoint: Array<{ at: number; item: IndexedItem }> = [];
    for (const r of rows) for (const i of pointsInRange(seqs, r.first, r.last)) byPoint.push({ at: i, item: toItem(path, r) });
    byPoint.sort((a, b) => a.at - b.at);
    const versions = new Map<string, { content: string | null; size: number; mtimeNs: bigint; points: PointRef[] }>();
    for (const { at, item } of byPoint) {
      const [resolved] = item.type === 'hardlink' ? await this.resolveLinks({ src, seq: seqs[at]! }, [item]) : [item];
      const key = resolved!.content ?? `${resolved!.type}:${resolved!.error ?? ''}`;
      let v = versions.get(key);
      if (!v) {
        v = { content: resolved!.content, size: resolved!.size, mtimeNs: resolved!.mtimeNs, points: [] };
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

  private async syncNow(source: string): Promise<{ added: number; removed: number }> {
    const wanted = [...(await this.from.pointsOf(source))].sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id));
    const want = new Set(wanted.map((p) => p.id));
    let state = this.stmt.sourceByName.get(source) as SourceRow | undefined;
    const indexed = state ? (this.stmt.pointsOfSource.all(state.id) as Array<{ id: string; seq: number; time: string }>) : [];
    const stale = indexed.filter((p) => !want.has(p.id));
    const have = new Set(indexed.map((p) => p.id));
    const missing = wanted.filter((p) => !have.has(p.id));
    const headGone = state?.head_point != null && !want.has(state.head_point);
    const beforeHead = state?.head_time != null && missing.some((p) => p.time < state!.head_time! || (p.time === state!.head_time && p.id < state!.head_point!));
    let removed = stale.length;
    if (state && (headGone || beforeHead)) {
      removed = indexed.length;
      this.wipe(source);
      state = undefined;
    } else if (state && stale.length > 0) {
      this.forgetPoints(state, stale.map((p) => p.id));
    }
    const todo = state ? missing : wanted;
    let added = 0;
    for (const p of todo) {
      try {
        await this.indexNext(source, p.id);
        added++;
      } catch (err) {
        if (err instanceof CustosError && err.code === 'cancelled') throw err;
        this.log(`file index: recovery point ${p.id} of ${source} could not be indexed: ${errorMessage(err)}`);
        break; // the next points need this one as their base
      }
    }
    return { added, removed };
  }

  /**
   * Indexes a point as the new head of its source: rows of pages the head
   * did not have are inserted (or, when an identical item left with a page
   * that went away, kept open), rows that left with those pages are closed.
   */
  private async indexNext(source: string, pointId: string): Promise<void> {
    const record = await this.from.loadPoint(pointId);
    const state = this.sourceState(source);
    const seq = state.next_seq;
    const headPages = new Map((this.stmt.headPages.all(state.id) as Array<{ chunk: Buffer; ids: Buffer }>).map((r) => [r.chunk.toString('hex'), r.ids]));
    const newPages = new Set(record.manifest.map((p) => p.id as string));
    // Rows of the pages that went away, by what they are: kept when the same item comes back in a new page.
    const leaving = new Map<string, number>();
    for (const [chunk, ids] of headPages) {
      if (newPages.has(chunk)) continue;
      for (const r of this.stmt.digestsOf.all(JSON.stringify(unpackIds(ids))) as Array<{ id: number; digest: Buffer }>) leaving.set(r.digest.toString('latin1'), r.id);
    }
    this.stmt.deleteUnfinished.run(state.id, seq); // rows of a build that was interrupted
    // New pages a page at a time (bounded memory); their rows are invisible to every indexed point (first = seq) until the head moves.
    const pagesIn: Array<{ chunk: Buffer; ids: Buffer }> = [];
    for (const ref of record.manifest) {
      if (headPages.has(ref.id)) continue;
      if (this.closing) throw new CustosError('cancelled', 'the file index is closing');
      let entries: ManifestEntry[];
      try {
        entries = decodePage(await this.from.readPage(ref.id));
      } catch (err) {
        throw new CustosError('integrity', `manifest page ${ref.id} of point ${pointId} cannot be read: ${errorMessage(err)}`, { cause: err });
      }
      const ids = this.db.transaction(() => entries.map((e) => {
        const d = itemDigest(e);
        const key = d.toString('latin1');
        const kept = leaving.get(key);
        if (kept !== undefined) {
          leaving.delete(key);
          return kept;
        }
        return this.insertItem(state.id, seq, e, d);
      }))();
      pagesIn.push({ chunk: Buffer.from(ref.id, 'hex'), ids: packIds(ids) });
    }
    // The head moves: pages and rows that left are closed, the point becomes visible.
    this.db.transaction(() => {
      for (const page of pagesIn) this.stmt.insertHeadPage.run(state.id, page.chunk, page.ids);
      for (const id of leaving.values()) this.stmt.closeItem.run(state.head_seq, id);
      for (const chunk of headPages.keys()) if (!newPages.has(chunk)) this.stmt.deleteHeadPage.run(state.id, Buffer.from(chunk, 'hex'));
      this.stmt.insertPoint.run(pointId, state.id, seq, record.time);
      this.stmt.moveHead.run({ id: state.id, seq, time: record.time, point: pointId });
    })();
  }

  private sourceState(source: string): SourceRow {
    let s = this.stmt.sourceByName.get(source) as SourceRow | undefined;
    if (!s) {
      this.stmt.insertSource.run(source);
      s = this.stmt.sourceByName.get(source) as SourceRow;
    }
    return s;
  }

  private insertItem(src: number, seq: number, e: ManifestEntry, digest: Buffer): number {
    const { parent, name } = e.path.length === 0 ? { parent: ROOT_PARENT, name: Buffer.alloc(0) } : splitPath(e.path);
    const mtime = e.mtimeNs;
    const r = this.stmt.insertItem.run(
      src, parent, name, seq, TYPES.indexOf(e.type), e.size,
      Number(mtime / 1_000_000_000n), Number(((mtime % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n),
      e.mode, e.uid, e.gid, this.nameId(e.user), this.nameId(e.group), e.target ?? null,
      e.xattrs?.find(([n]) => n === ACL_ACCESS)?.[1] ?? null, contentDigest(e), e.error ?? null, digest,
    );
    return Number(r.lastInsertRowid);
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

  /** Forgets points other than the head, then the rows no remaining point holds. */
  private forgetPoints(state: SourceRow, ids: readonly string[]): void {
    this.db.transaction(() => {
      for (const id of ids) this.stmt.deletePoint.run(id);
      this.stmt.deleteUnheld.run({ src: state.id, head: state.head_seq });
    })();
  }

  /** Everything the index holds of one source. */
  private wipe(source: string): void {
    const s = this.stmt.sourceByName.get(source) as SourceRow | undefined;
    if (!s) return;
    this.db.transaction(() => {
      for (const table of ['items', 'head_pages', 'points']) this.db.prepare(`DELETE FROM ${table} WHERE src = ?`).run(s.id);
      this.db.prepare('DELETE FROM sources WHERE id = ?').run(s.id);
    })();
  }

  // --- helpers of the answers ----------------------------------------------

  /** The source and sequence number of an indexed point; a point not indexed yet is indexed first. */
  private async ready(point: PointRef): Promise<{ src: number; seq: number }> {
    let at = this.stmt.pointSeq.get(point.id) as { src: number; seq: number } | undefined;
    if (!at) {
      await this.syncSource(point.source);
      at = this.stmt.pointSeq.get(point.id) as { src: number; seq: number } | undefined;
    }
    if (!at) throw new CustosError('not-found', `recovery point ${point.id} of ${point.source} is not in the file index (see the server log)`);
    return at;
  }

  /** The points (all of one source), oldest first, with their sequence numbers. */
  private async pointsOfOneSource(points: readonly PointRef[]): Promise<{ src: number; seqs: number[]; order: PointRef[] }> {
    const sources = new Set(points.map((p) => p.source));
    if (sources.size > 1) throw new CustosError('usage', 'the points asked about belong to more than one data source');
    const located: Array<{ p: PointRef; src: number; seq: number }> = [];
    for (const p of points) located.push({ p, ...(await this.ready(p)) });
    located.sort((a, b) => a.seq - b.seq);
    return { src: located[0]?.src ?? -1, seqs: located.map((l) => l.seq), order: located.map((l) => l.p) };
  }

  private itemRow(at: { src: number; seq: number }, path: Buffer): ItemRow | undefined {
    const { parent, name } = path.length === 0 ? { parent: ROOT_PARENT, name: Buffer.alloc(0) } : splitPath(path);
    return this.stmt.itemAt.get({ src: at.src, parent, name, seq: at.seq }) as ItemRow | undefined;
  }

  /** The path of every directory of the source, by its key (what rows name as their parent). */
  private directoryPaths(src: number): Map<number, string> {
    const rows = this.stmt.directories.all(src) as Array<{ parent: number; name: Buffer }>;
    const paths = new Map<number, string>([[pathKey(Buffer.alloc(0)), '']]);
    let pending = rows.filter((r) => r.parent !== ROOT_PARENT);
    // Parents before children: each pass places the directories whose parent is known (as many passes as the tree is deep).
    while (pending.length > 0) {
      const next: typeof pending = [];
      for (const r of pending) {
        const parentPath = paths.get(r.parent);
        if (parentPath === undefined) {
          next.push(r);
          continue;
        }
        const path = parentPath === '' ? r.name.toString('latin1') : `${parentPath}/${r.name.toString('latin1')}`;
        paths.set(pathKey(Buffer.from(path, 'latin1')), path);
      }
      if (next.length === pending.length) break; // orphans: their directory is in no point
      pending = next;
    }
    return paths;
  }

  /** A hard link shows the size and content of the item it links to in the same point. */
  private async resolveLinks(at: { src: number; seq: number }, items: IndexedItem[]): Promise<IndexedItem[]> {
    return items.map((it) => {
      if (it.type !== 'hardlink' || !it.target) return it;
      const row = this.itemRow(at, it.target);
      return row ? { ...it, size: row.size, content: row.content ? row.content.toString('hex') : null, error: row.error } : it;
    });
  }

  private prepare() {
    const db = this.db;
    return {
      sourceByName: db.prepare('SELECT * FROM sources WHERE name = ?'),
      insertSource: db.prepare('INSERT INTO sources (name, next_seq) VALUES (?, 1)'),
      moveHead: db.prepare('UPDATE sources SET head_seq = @seq, head_time = @time, head_point = @point, next_seq = @seq + 1 WHERE id = @id'),
      pointSeq: db.prepare('SELECT src, seq FROM points WHERE id = ?'),
      pointsOfSource: db.prepare('SELECT id, seq, time FROM points WHERE src = ? ORDER BY seq'),
      insertPoint: db.prepare('INSERT INTO points (id, src, seq, time) VALUES (?, ?, ?, ?)'),
      deletePoint: db.prepare('DELETE FROM points WHERE id = ?'),
      headPages: db.prepare('SELECT chunk, ids FROM head_pages WHERE src = ?'),
      insertHeadPage: db.prepare('INSERT OR REPLACE INTO head_pages (src, chunk, ids) VALUES (?, ?, ?)'),
      deleteHeadPage: db.prepare('DELETE FROM head_pages WHERE src = ? AND chunk = ?'),
      digestsOf: db.prepare('SELECT id, digest FROM items WHERE id IN (SELECT value FROM json_each(?))'),
      insertName: db.prepare('INSERT INTO names (name) VALUES (?)'),
      insertItem: db.prepare(`INSERT INTO items (src, parent, name, first, last, type, size, mtime_s, mtime_ns, mode, uid, gid, user_id, group_id, target, acl, content, error, digest)
        VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      closeItem: db.prepare('UPDATE items SET last = ? WHERE id = ?'),
      deleteUnfinished: db.prepare('DELETE FROM items WHERE src = ? AND first >= ?'),
      // Rows whose range holds no remaining point (the head counts for open rows).
      deleteUnheld: db.prepare(`DELETE FROM items WHERE src = @src AND NOT EXISTS (
        SELECT 1 FROM points p WHERE p.src = @src AND p.seq BETWEEN items.first AND coalesce(items.last, @head))`),
      itemAt: db.prepare(`SELECT ${ITEM_COLUMNS} FROM items i WHERE i.src = @src AND i.parent = @parent AND i.name = @name AND ${AT_SEQ}`),
      itemVersions: db.prepare(`SELECT ${ITEM_COLUMNS} FROM items i WHERE i.src = @src AND i.parent = @parent AND i.name = @name ORDER BY i.first`),
      // One directory's children in name order (siblings' bytewise order is walk order).
      children: db.prepare(`SELECT ${ITEM_COLUMNS} FROM items i WHERE i.src = @src AND i.parent = @parent AND i.name > @after AND ${AT_SEQ}
        ORDER BY i.name LIMIT @limit`),
      directories: db.prepare(`SELECT DISTINCT parent, name FROM items WHERE src = ? AND type = ${DIR}`),
      searchRows: db.prepare(`SELECT parent, name, first, last, type, size FROM items WHERE src = @src AND (@literal IS NULL OR instr(name, @literal) > 0)`),
    };
  }
}

function openDatabase(file: string): Database.Database {
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL'); // derived data: a lost last transaction is redone by the next sync
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
    CREATE TABLE sources (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, head_seq INTEGER, head_time TEXT, head_point TEXT, next_seq INTEGER NOT NULL);
    CREATE TABLE points (id TEXT PRIMARY KEY, src INTEGER NOT NULL, seq INTEGER NOT NULL, time TEXT NOT NULL, UNIQUE (src, seq)) WITHOUT ROWID;
    CREATE TABLE names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
    CREATE TABLE items (
      id INTEGER PRIMARY KEY, src INTEGER NOT NULL, parent INTEGER NOT NULL, name BLOB NOT NULL, first INTEGER NOT NULL, last INTEGER,
      type INTEGER NOT NULL, size INTEGER NOT NULL, mtime_s INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
      mode INTEGER NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, user_id INTEGER, group_id INTEGER,
      target BLOB, acl BLOB, content BLOB, error TEXT, digest BLOB NOT NULL);
    CREATE INDEX items_by_parent ON items (src, parent, name);
    CREATE TABLE head_pages (src INTEGER NOT NULL, chunk BLOB NOT NULL, ids BLOB NOT NULL, PRIMARY KEY (src, chunk)) WITHOUT ROWID;
    PRAGMA user_version = ${SCHEMA_VERSION};
  `);
}

/** The points (indexes into `seqs`, which is sorted) whose sequence number lies in [first, last]; last null: to the end. */
function* pointsInRange(seqs: readonly number[], first: number, last: number | null): Generator<number> {
  let lo = 0;
  let hi = seqs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (seqs[mid]! < first) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < seqs.length && (last === null || seqs[i]! <= last); i++) yield i;
}

function splitPath(path: Buffer): { parent: number; name: Buffer } {
  const slash = path.lastIndexOf(0x2f);
  return slash < 0 ? { parent: pathKey(Buffer.alloc(0)), name: path } : { parent: pathKey(path.subarray(0, slash)), name: path.subarray(slash + 1) };
}

/**
 * A 53-bit hash of a path (two 32-bit multiplicative hashes mixed): a row's
 * `parent` is the key of its directory's path. Two directories with the same
 * key would mix their children; at 53 bits that takes millions of
 * directories in one data source to become likely at all.
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

/**
 * What makes two versions of an item the same content: for a file its chunk
 * ids in order (content-addressed, so equal lists ⇔ equal bytes), for a
 * symlink its target. 8 bytes of SHA-256: a collision between two versions
 * of one file is a 2^-64 event.
 */
function contentDigest(e: ManifestEntry): Buffer | null {
  if (e.type === 'file') {
    if (e.error !== undefined && !e.chunks) return null;
    const h = createHash('sha256').update('file\0');
    for (const c of e.chunks ?? []) h.update(c.id);
    return h.digest().subarray(0, 8);
  }
  if (e.type === 'symlink' && e.target) return createHash('sha256').update('symlink\0').update(e.target).digest().subarray(0, 8);
  return null;
}

/** Everything the index keeps of an item, hashed: an item whose digest did not change is the same row. */
function itemDigest(e: ManifestEntry): Buffer {
  const w = digestWriter;
  w.reset();
  w.u8(TYPES.indexOf(e.type)).bytes(e.path).varint(e.mode).varint(e.uid).varint(e.gid).i64(e.mtimeNs).varint(e.size);
  w.str(e.user ?? '\0').str(e.group ?? '\0').bytes(e.target ?? EMPTY).str(e.error ?? '\0');
  w.bytes(e.xattrs?.find(([n]) => n === ACL_ACCESS)?.[1] ?? EMPTY);
  for (const c of e.chunks ?? []) w.raw(c.id);
  return createHash('sha256').update(w.view()).digest().subarray(0, 8);
}
const digestWriter = new ByteWriter(4096);
const EMPTY = Buffer.alloc(0);

function packIds(ids: readonly number[]): Buffer {
  const b = Buffer.alloc(ids.length * 6);
  ids.forEach((id, i) => b.writeUIntLE(id, i * 6, 6));
  return b;
}

function unpackIds(b: Buffer): number[] {
  const out: number[] = new Array(b.length / 6);
  for (let i = 0; i < out.length; i++) out[i] = b.readUIntLE(i * 6, 6);
  return out;
}

function toItem(path: Buffer, r: ItemRow): IndexedItem {
  return {
    path,
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

function showPath(p: Buffer): string {
  return p.length === 0 ? 'the protected directory' : JSON.stringify(p.toString('utf8'));
}
