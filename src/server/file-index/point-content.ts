/**
 * Where a file's content is in a recovery point: its chunk list, read from
 * the point's manifest (the file index keeps no chunk lists). The manifest
 * is in walk order, so the pages after the file are not read; a hard link
 * is answered by the caller with the path of the file it links to.
 */
import type { RecoveryPointId } from '../../base/index.js';
import type { ChunkRef } from '../../format/index.js';
import type { Pool } from '../../pool/index.js';
import type { PointContent } from '../end-user.js';

export class ManifestPointContent implements PointContent {
  constructor(private readonly pool: Pool) {}

  async fileChunks(pointId: string, path: Buffer): Promise<readonly ChunkRef[] | undefined> {
    const record = await this.pool.loadPoint(pointId as RecoveryPointId);
    for await (const e of this.pool.manifest(record)) {
      if (e.path.equals(path)) return e.type === 'file' ? (e.chunks ?? []) : undefined;
    }
    return undefined;
  }
}
