/** Messages between the restore pipeline and its file-writing worker threads. */
import type { ChunkKeys } from '../../format/index.js';

export type ConflictMode = 'overwrite' | 'skip' | 'keep-both';

/** point: the point's owners, modes, ACLs and security labels; target: what the target gives new items, existing items left alone. */
export type SecurityMode = 'point' | 'target';

export interface RestoreWorkerData {
  readonly keys: ChunkKeys | null;
  readonly compressionLevel: number;
  readonly restoreOwnership: boolean;
  readonly security: SecurityMode;
}

/** Where a worker finds one encoded chunk: a byte range of a local file, or the bytes themselves. */
export interface ChunkRead {
  readonly id: Uint8Array;
  readonly rawLength: number;
  readonly file?: string;
  readonly offset?: number;
  readonly length?: number;
  readonly blob?: Uint8Array;
}

export interface RestoreFileTask {
  readonly t: number;
  /** Absolute destination path (raw bytes); its parent directory exists and was checked. */
  readonly path: Uint8Array;
  readonly size: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtimeNs: bigint;
  readonly sparse: boolean;
  readonly xattrs: ReadonlyArray<readonly [string, Uint8Array]>;
  readonly chunks: readonly ChunkRead[];
  readonly conflict: ConflictMode;
  /**
   * Its directory was made by this restore, so nothing was at `path` to
   * protect: the file is written under its real name, without a temporary
   * name and a rename (a killed restore leaves a partial file there, which
   * the next run finds different and replaces).
   */
  readonly fresh?: boolean;
  /** Security target, replacing an existing file: its mode and owner, which the new one keeps. */
  readonly keep?: { readonly mode: number; readonly uid: number; readonly gid: number };
  /**
   * Set for one part of a large file written by several workers at once: the
   * file exists already (created and checked by the pipeline); write these
   * chunks from `offset` and nothing else — the pipeline sets size and
   * metadata when every part is done.
   */
  readonly part?: { readonly offset: number };
}

export type RestoreWorkerReply =
  | { readonly t: number; readonly kind: 'done'; readonly bytes: number; readonly skipped: boolean; readonly copy: boolean; readonly warnings: readonly string[] }
  | { readonly t: number; readonly kind: 'error'; readonly message: string; readonly integrity: boolean };
