/**
 * Test helper: hand-crafts a recovery point and stores it in a real pool,
 * bypassing the backup pipeline and ManifestPageBuilder (which refuses
 * out-of-order entries), so tests can feed restore any manifest at all,
 * including malicious ones.
 */
import { randomBytes } from 'node:crypto';
import type { RecoveryPointId } from '../../src/base/index.js';
import {
  POINT_VERSION,
  comparePaths,
  encodePage,
  type AppPointMeta,
  type ChunkRef,
  type EntryType,
  type ManifestEntry,
  type ManifestPageRef,
  type RecoveryPointRecord,
} from '../../src/format/index.js';
import type { Pool } from '../../src/pool/pool.js';

/** A manifest entry in a convenient form; anything left out gets a plausible default. */
export interface CraftEntry {
  /** Raw path bytes (a string is encoded as UTF-8). '' is the root. */
  readonly path: string | Buffer;
  /** Default 'file'. */
  readonly type?: EntryType;
  /** File content; stored in the pool as chunks. Default empty. */
  readonly content?: string | Buffer;
  /** Symlink target, or the hard link's first path. */
  readonly target?: string | Buffer;
  readonly mode?: number;
  /** Anything else to set or override on the encoded entry (e.g. a wrong `size`). */
  readonly extra?: Partial<ManifestEntry>;
}

export interface CraftOptions {
  /** Sizes of the manifest pages, in entries (the rest goes into a last page). Default: one page. */
  readonly pageSizes?: readonly number[];
  /** Cut file content into chunks of at most this many bytes. Default 64 KiB. */
  readonly chunkSize?: number;
  /**
   * Throw unless the paths strictly increase in walk order. Default true, so a
   * test meant to exercise another check is not silently refused by the order check.
   */
  readonly requireOrder?: boolean;
  readonly sourcePath?: string;
  /** The point's application metadata (a postgres point). */
  readonly app?: AppPointMeta;
}

const MTIME_NS = 1_700_000_000n * 1_000_000_000n;

function toBuffer(v: string | Buffer): Buffer {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}

/** Builds the ManifestEntry for `e`, adding its content chunks to the pool through `add`. */
function buildEntry(e: CraftEntry, ino: number, chunkSize: number, add: (data: Buffer) => ChunkRef): ManifestEntry {
  const type = e.type ?? 'file';
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const defaultMode = type === 'dir' ? 0o755 : type === 'symlink' ? 0o777 : 0o644;
  let chunks: ChunkRef[] | undefined;
  let size = 0;
  if (type === 'file') {
    const content = toBuffer(e.content ?? '');
    chunks = [];
    size = content.length;
    for (let off = 0; off < content.length; off += chunkSize) {
      chunks.push(add(content.subarray(off, Math.min(content.length, off + chunkSize))));
    }
  }
  return {
    path: toBuffer(e.path),
    type,
    mode: e.mode ?? defaultMode,
    uid,
    gid,
    mtimeNs: MTIME_NS,
    ctimeNs: MTIME_NS,
    ino: BigInt(ino),
    size,
    ...(e.target !== undefined ? { target: toBuffer(e.target) } : {}),
    ...(chunks !== undefined ? { chunks } : {}),
    ...e.extra,
  };
}

/** Throws when `paths` do not strictly increase in walk order. */
export function assertWalkOrder(paths: readonly Buffer[]): void {
  for (let i = 1; i < paths.length; i++) {
    if (comparePaths(paths[i - 1]!, paths[i]!) >= 0) {
      throw new Error(
        `craftPoint: entries out of walk order at ${JSON.stringify(paths[i]!.toString('utf8'))} ` +
          '(pass requireOrder: false if that is the point of the test)',
      );
    }
  }
}

/**
 * Stores `entries` (content chunks and manifest pages) in `pool` and saves a
 * recovery point naming them, exactly in the given order. Returns the point.
 */
export async function craftPoint(pool: Pool, entries: readonly CraftEntry[], options: CraftOptions = {}): Promise<RecoveryPointRecord> {
  await pool.loadIndex();
  const writer = pool.chunkWriter();
  const addChunk = (data: Buffer): ChunkRef => {
    const id = pool.codec.chunkIdBytes(data);
    writer.add(id, pool.codec.encodeChunk(id, data), data.length);
    return { id, length: data.length };
  };
  const chunkSize = options.chunkSize ?? 64 * 1024;
  if (!(chunkSize > 0)) throw new RangeError('craftPoint: chunkSize must be positive');
  const built = entries.map((e, i) => buildEntry(e, 1000 + i, chunkSize, addChunk));
  if (options.requireOrder ?? true) assertWalkOrder(built.map((e) => e.path));

  // Cut into pages as asked.
  const pages: ManifestEntry[][] = [];
  let at = 0;
  for (const n of options.pageSizes ?? []) {
    pages.push(built.slice(at, at + n));
    at += n;
  }
  if (at < built.length || pages.length === 0) pages.push(built.slice(at));

  const manifest: ManifestPageRef[] = [];
  for (const page of pages) {
    const bytes = encodePage(page);
    const id = addChunk(bytes).id;
    manifest.push({ id: id.toString('hex') as ManifestPageRef['id'], length: bytes.length, entries: page.length });
  }
  await writer.flush();
  writer.close();

  const files = built.filter((e) => e.type === 'file');
  const point: RecoveryPointRecord = {
    version: POINT_VERSION,
    id: randomBytes(16).toString('hex') as RecoveryPointId,
    time: new Date().toISOString(),
    source: { host: 'crafted', path: options.sourcePath ?? '/crafted/source' },
    parent: null,
    manifest,
    summary: {
      filesNew: files.length,
      filesChanged: 0,
      filesUnchanged: 0,
      dirs: built.filter((e) => e.type === 'dir').length,
      others: built.length - files.length - built.filter((e) => e.type === 'dir').length,
      errors: 0,
      changedDuringRead: 0,
      bytesRead: 0,
      bytesAdded: writer.bytesAdded,
      logicalBytes: files.reduce((s, e) => s + e.size, 0),
      durationMs: 0,
    },
    partial: false,
    excludes: [],
    ...(options.app ? { app: options.app } : {}),
  };
  await pool.savePoint(point);
  return point;
}
