/** Messages between the backup pipeline and its file-reading worker threads. */
import type { ChunkKeys, ChunkerParams } from '../../format/index.js';

export interface BackupWorkerData {
  readonly keys: ChunkKeys | null;
  readonly compressionLevel: number;
  readonly chunker: ChunkerParams;
  /** KnownIds table: chunks the pool already has are not encoded again. */
  readonly known: SharedArrayBuffer;
  /** Int32Array[1]: encoded bytes posted and not yet taken by the main thread (backpressure). */
  readonly inflight: SharedArrayBuffer;
  readonly maxInflightBytes: number;
}

/**
 * Files larger than this are read as segments of this size by several workers
 * at once, each chunked on its own: a chunk never spans a segment boundary.
 * A format constant (pool-format.md, "Chunking"): it decides chunk boundaries.
 */
export const SEGMENT_BYTES = 64 * 1024 * 1024;

export interface FileTask {
  readonly t: number;
  /** Absolute path, raw bytes. */
  readonly path: Uint8Array;
  /** For a segment of a large file: where it starts. */
  readonly offset?: number;
  /** For a segment that is not the last: its length (the last one reads to the end). */
  readonly length?: number | undefined;
  /** Cut into blocks of this many bytes at offsets that are its multiples (relation files of a database); absent: content-defined cuts. */
  readonly block?: number;
}

/** Fixed blocks a file may be cut into: powers of two from 4 KiB to 1 MiB (they divide SEGMENT_BYTES). */
export function isFixedBlockSize(n: number): boolean {
  return Number.isInteger(n) && n >= 4096 && n <= 1024 * 1024 && (n & (n - 1)) === 0;
}

export interface FileStat {
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly ino: bigint;
  readonly size: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly blocks: number;
}

/**
 * A batch of a file's chunks, in order. Everything lives in one transferred
 * ArrayBuffer per batch (no per-chunk objects or copies cross the thread
 * boundary): ids at [0, 32n), then the encoded chunks back to back.
 */
export interface ChunkBatch {
  readonly data: ArrayBuffer;
  readonly count: number;
  /** Plaintext length of each chunk. */
  readonly lengths: Uint32Array;
  /** Encoded length of each chunk in `data` after the ids; 0 when the pool already holds it. */
  readonly encoded: Uint32Array;
  /** Sum of `encoded` (for backpressure accounting). */
  readonly bytes: number;
}

export type WorkerMessage =
  | { readonly t: number; readonly kind: 'chunks'; readonly batch: ChunkBatch }
  | { readonly t: number; readonly kind: 'restart' }
  | {
      readonly t: number;
      readonly kind: 'done';
      /** The file's last chunks (or none). */
      readonly batch: ChunkBatch | null;
      readonly stat: FileStat;
      readonly xattrs: ReadonlyArray<readonly [string, Uint8Array]>;
      readonly changedDuringRead: boolean;
      readonly bytesRead: number;
    }
  | { readonly t: number; readonly kind: 'error'; readonly message: string };
