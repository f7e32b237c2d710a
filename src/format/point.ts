/**
 * The recovery point object: a small JSON document, stored encoded like every
 * pool object, that names the manifest pages of one point in time of a data
 * source. Writing it is what makes a recovery point exist.
 */
import { CustosError, IntegrityError, isChunkId, isHex32, type ChunkId, type RecoveryPointId } from '../base/index.js';
import type { BlobCodec } from './codec.js';
import { parsePointMeta, type AppPointMeta } from './postgres/point-meta.js';

export const POINT_VERSION = 1;

export interface ManifestPageRef {
  readonly id: ChunkId;
  readonly length: number;
  readonly entries: number;
}

export interface PointSummary {
  readonly filesNew: number;
  readonly filesChanged: number;
  readonly filesUnchanged: number;
  readonly dirs: number;
  readonly others: number;
  /** Items that could not be read (the point is partial). */
  readonly errors: number;
  /** Files that kept changing while being read. */
  readonly changedDuringRead: number;
  readonly bytesRead: number;
  /** Encoded bytes this backup added to the pool. */
  readonly bytesAdded: number;
  /** Sum of file sizes in the point. */
  readonly logicalBytes: number;
  readonly durationMs: number;
}

export interface RecoveryPointRecord {
  readonly version: number;
  readonly id: RecoveryPointId;
  /** ISO 8601, UTC. */
  readonly time: string;
  readonly source: { readonly host: string; readonly path: string };
  readonly parent: RecoveryPointId | null;
  readonly manifest: readonly ManifestPageRef[];
  readonly summary: PointSummary;
  readonly partial: boolean;
  readonly excludes: readonly string[];
  /** An application point (a PostgreSQL express full): what the tree is (postgres/point-meta.ts). Absent: files. */
  readonly app?: AppPointMeta;
}

export function encodePoint(codec: BlobCodec, point: RecoveryPointRecord): Buffer {
  return codec.encodeObject('point', Buffer.from(JSON.stringify(point)));
}

export function decodePoint(codec: BlobCodec, blob: Buffer, what: string): RecoveryPointRecord {
  const text = codec.decodeObject('point', blob, what).toString('utf8');
  let p: RecoveryPointRecord;
  try {
    p = JSON.parse(text) as RecoveryPointRecord;
  } catch (err) {
    throw new IntegrityError(`${what}: not valid JSON`, { cause: err });
  }
  if (typeof p !== 'object' || p === null || typeof p.version !== 'number') throw new IntegrityError(`${what}: malformed`);
  if (p.version !== POINT_VERSION) throw new CustosError('format', `${what}: point version ${p.version} is not supported`);
  if (!isHex32(p.id) || typeof p.time !== 'string' || !Array.isArray(p.manifest) || typeof p.source?.path !== 'string') {
    throw new IntegrityError(`${what}: malformed`);
  }
  for (const page of p.manifest) {
    if (!isChunkId(page.id) || !Number.isSafeInteger(page.length) || !Number.isSafeInteger(page.entries)) {
      throw new IntegrityError(`${what}: malformed manifest reference`);
    }
  }
  if (p.app !== undefined) {
    try {
      parsePointMeta(p.app, `${what}: app`);
    } catch (err) {
      throw new IntegrityError(err instanceof Error ? err.message : String(err));
    }
  }
  return p;
}
