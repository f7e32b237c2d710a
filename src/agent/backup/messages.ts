/** Messages between the backup pipeline and its file-reading worker threads. */
import type { PoolKeys, ChunkerParams } from '../../format/index.js';

export interface BackupWorkerData {
  readonly keys: PoolKeys | null;
  readonly compressionLevel: number;
  readonly chunker: ChunkerParams;
  /** KnownIds table: chunks the pool already has are not encoded again. */
  readonly known: SharedArrayBuffer;
  /** Int32Array[1]: encoded bytes posted and not yet taken by the main thread (backpressure). */
  readonly inflight: SharedArrayBuffer;
  readonly maxInflightBytes: number;
}

export interface FileTask {
  readonly t: number;
  /** Absolute path, raw bytes. */
  readonly path: Uint8Array;
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

export type WorkerMessage =
  | {
      readonly t: number;
      readonly kind: 'chunks';
      /** n × 32 bytes of ids. */
      readonly ids: Uint8Array;
      readonly lengths: readonly number[];
      /** Encoded chunk, or null when the pool already holds it. */
      readonly blobs: ReadonlyArray<Uint8Array | null>;
      readonly bytes: number;
    }
  | { readonly t: number; readonly kind: 'restart' }
  | {
      readonly t: number;
      readonly kind: 'done';
      readonly stat: FileStat;
      readonly xattrs: ReadonlyArray<readonly [string, Uint8Array]>;
      readonly changedDuringRead: boolean;
      readonly bytesRead: number;
    }
  | { readonly t: number; readonly kind: 'error'; readonly message: string };
