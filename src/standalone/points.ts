import type { RecoveryPointId } from '../base/index.js';
import { openPool } from './with-pool.js';

export interface PointListing {
  readonly id: RecoveryPointId;
  readonly time: string;
  readonly host: string;
  readonly source: string;
  readonly parent: RecoveryPointId | null;
  readonly partial: boolean;
  readonly files: number;
  readonly logicalBytes: number;
  readonly bytesAdded: number;
}

export async function listPoints(options: { pool: string; keyFile?: string | undefined }): Promise<PointListing[]> {
  const pool = await openPool(options);
  return (await pool.listPoints()).map((p) => ({
    id: p.id,
    time: p.time,
    host: p.source.host,
    source: p.source.path,
    parent: p.parent,
    partial: p.partial,
    files: p.summary.filesNew + p.summary.filesChanged + p.summary.filesUnchanged,
    logicalBytes: p.summary.logicalBytes,
    bytesAdded: p.summary.bytesAdded,
  }));
}
