/**
 * What the per-point file index answers (issue 11): one item of a point, one
 * directory of a point, a search over every point of a data source, the
 * versions of one file. The index is derived data built from the manifests
 * in the pool (docs/design/file-index.md); these types are what its callers
 * (REST routes, end-user recovery) see, never its tables.
 */
import type { EntryType } from '../../format/manifest.js';

/** One item of a recovery point, as the index keeps it. */
export interface IndexedItem {
  /** Relative to the protected directory, raw bytes joined by '/'; the root is the empty path. */
  readonly path: Buffer;
  readonly type: EntryType;
  /** Files: logical size; 0 otherwise. */
  readonly size: number;
  readonly mtimeNs: bigint;
  /** mode & 0o7777 */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly user: string | null;
  readonly group: string | null;
  /** Symlink target, or for a hard link the path of the item it links to. */
  readonly target: Buffer | null;
  /** The value of system.posix_acl_access as the backup captured it, when the item had one. */
  readonly acl: Buffer | null;
  /** Identifies a file's content (hex): equal content ⇔ equal digest. Null for other types. */
  readonly content: string | null;
  /** Why the item's content could not be read at backup time. */
  readonly error: string | null;
}

/** A page of one directory's items, in name order. */
export interface DirectoryPage {
  readonly items: readonly IndexedItem[];
  /** Pass as `after` for the next page; null when this was the last. */
  readonly next: Buffer | null;
}

/** A recovery point as the index's callers name it: its id, time and data source (from the catalog). */
export interface PointRef {
  readonly id: string;
  readonly time: string;
  readonly source: string;
}

/** One path that matched a search, with where it exists. */
export interface SearchHit {
  readonly path: Buffer;
  readonly type: EntryType;
  /** Size in the newest point that holds it. */
  readonly size: number;
  readonly first: PointRef;
  readonly last: PointRef;
  /** How many of the searched points hold it. */
  readonly points: number;
}

/** The hits of a search, in path order, at most the limit asked for. */
export interface SearchResult {
  readonly hits: readonly SearchHit[];
  /** More paths matched than the limit. */
  readonly truncated: boolean;
}

/** One distinct content of a file, and the points that hold it (oldest first). */
export interface FileVersion {
  readonly content: string | null;
  readonly size: number;
  readonly mtimeNs: bigint;
  readonly points: readonly PointRef[];
}

/** The questions the index answers. Every call names points of one data source the caller may see. */
export interface FileIndexReader {
  item(point: PointRef, path: Buffer): Promise<IndexedItem | undefined>;
  list(point: PointRef, dir: Buffer, page: { readonly after?: Buffer; readonly limit: number }): Promise<DirectoryPage>;
  search(points: readonly PointRef[], pattern: string, limit: number): Promise<SearchResult>;
  versions(points: readonly PointRef[], path: Buffer): Promise<readonly FileVersion[]>;
}
