/**
 * A FileIndexReader that answers from the manifests themselves: each point's
 * manifest is decoded whole (and the last few kept in memory). It stands in
 * until the per-point file index is built (docs/design/file-index.md), so
 * that end-user recovery and its tests run; it is correct but not fast, as
 * every first question about a point decodes that point's whole manifest.
 */
import { createHash } from 'node:crypto';
import picomatch from 'picomatch';
import type { RecoveryPointId } from '../../base/index.js';
import type { ChunkRef, ManifestEntry } from '../../format/index.js';
import type { Pool } from '../../pool/index.js';
import type { DirectoryPage, FileIndexReader, FileVersion, IndexedItem, PointRef, SearchHit } from './types.js';

const ACL_XATTR = 'system.posix_acl_access';
/** Decoded manifests kept in memory. */
const POINTS_KEPT = 4;

interface DecodedPoint {
  readonly entries: readonly ManifestEntry[];
  readonly byPath: ReadonlyMap<string, ManifestEntry>;
}

const key = (path: Buffer) => path.toString('latin1');

function parentOf(path: Buffer): Buffer | null {
  if (path.length === 0) return null;
  const slash = path.lastIndexOf(0x2f);
  return slash < 0 ? Buffer.alloc(0) : path.subarray(0, slash);
}

/** Identifies a file's content: the digest of its chunk ids in order. */
function contentDigest(chunks: readonly ChunkRef[] | undefined): string {
  const h = createHash('sha256');
  for (const c of chunks ?? []) h.update(c.id);
  return h.digest('hex');
}

export function indexedItem(e: ManifestEntry): IndexedItem {
  return {
    path: e.path,
    type: e.type,
    size: e.type === 'file' ? e.size : 0,
    mtimeNs: e.mtimeNs,
    mode: e.mode & 0o7777,
    uid: e.uid,
    gid: e.gid,
    user: e.user ?? null,
    group: e.group ?? null,
    target: e.target ?? null,
    acl: e.xattrs?.find(([name]) => name === ACL_XATTR)?.[1] ?? null,
    content: e.type === 'file' && e.error === undefined ? contentDigest(e.chunks) : null,
    error: e.error ?? null,
  };
}

export class ManifestFileIndexReader implements FileIndexReader {
  private readonly cache = new Map<string, Promise<DecodedPoint>>();

  constructor(private readonly pool: Pool) {}

  private point(pointId: string): Promise<DecodedPoint> {
    let p = this.cache.get(pointId);
    if (p) {
      this.cache.delete(pointId);
      this.cache.set(pointId, p);
      return p;
    }
    p = (async () => {
      const record = await this.pool.loadPoint(pointId as RecoveryPointId);
      const entries: ManifestEntry[] = [];
      for await (const e of this.pool.manifest(record)) entries.push(e);
      return { entries, byPath: new Map(entries.map((e) => [key(e.path), e])) };
    })();
    p.catch(() => this.cache.delete(pointId));
    this.cache.set(pointId, p);
    while (this.cache.size > POINTS_KEPT) this.cache.delete(this.cache.keys().next().value!);
    return p;
  }

  /** The manifest entry itself (with its chunks), for recovering its content. */
  async entry(pointId: string, path: Buffer): Promise<ManifestEntry | undefined> {
    return (await this.point(pointId)).byPath.get(key(path));
  }

  async fileChunks(pointId: string, path: Buffer): Promise<readonly ChunkRef[] | undefined> {
    const e = await this.entry(pointId, path);
    return e?.type === 'file' ? (e.chunks ?? []) : undefined;
  }

  async item(pointId: string, path: Buffer): Promise<IndexedItem | undefined> {
    const e = await this.entry(pointId, path);
    return e ? indexedItem(e) : undefined;
  }

  async list(pointId: string, dir: Buffer, page: { readonly after?: Buffer; readonly limit: number }): Promise<DirectoryPage> {
    const { entries } = await this.point(pointId);
    const children = entries
      .filter((e) => { const p = parentOf(e.path); return p !== null && p.equals(dir); })
      .filter((e) => page.after === undefined || Buffer.compare(e.path, page.after) > 0)
      .sort((a, b) => Buffer.compare(a.path, b.path));
    const items = children.slice(0, page.limit).map(indexedItem);
    return { items, next: children.length > page.limit ? items.at(-1)!.path : null };
  }

  async search(points: readonly PointRef[], pattern: string, limit: number): Promise<readonly SearchHit[]> {
    const match = picomatch(pattern.replace(/^\/+/, ''), { dot: true, basename: !pattern.includes('/') });
    const hits = new Map<string, { path: Buffer; type: IndexedItem['type']; size: number; first: PointRef; last: PointRef; points: number }>();
    const ordered = [...points].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
    for (const ref of ordered) {
      for (const e of (await this.point(ref.id)).entries) {
        if (e.path.length === 0 || !match(e.path.toString('utf8'))) continue;
        const k = key(e.path);
        const h = hits.get(k);
        if (h) {
          h.last = ref;
          h.size = e.size;
          h.points++;
        } else {
          if (hits.size >= limit) continue;
          hits.set(k, { path: e.path, type: e.type, size: e.size, first: ref, last: ref, points: 1 });
        }
      }
    }
    return [...hits.values()];
  }

  async versions(points: readonly PointRef[], path: Buffer): Promise<readonly FileVersion[]> {
    const ordered = [...points].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
    const out: Array<{ content: string | null; size: number; mtimeNs: bigint; points: PointRef[] }> = [];
    for (const ref of ordered) {
      let e = await this.entry(ref.id, path);
      if (e?.type === 'hardlink' && e.target) e = await this.entry(ref.id, e.target);
      if (!e || e.type !== 'file') continue;
      const content = e.error === undefined ? contentDigest(e.chunks) : null;
      const last = out.at(-1);
      if (last && last.content !== null && last.content === content) last.points.push(ref);
      else out.push({ content, size: e.size, mtimeNs: e.mtimeNs, points: [ref] });
    }
    return out;
  }
}
