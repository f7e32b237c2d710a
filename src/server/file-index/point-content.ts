/**
 * Where a file's content is in a recovery point: its chunk list, read from
 * the point's manifest (the file index keeps no chunk lists). The manifest
 * is in walk order: the page holding the file is found by a binary search
 * over the pages' first paths, so a few pages are read; a hard link
 * is answered by the caller with the path of the file it links to.
 */
import type { RecoveryPointId } from '../../base/index.js';
import { decodePage, pageHolding, type ChunkRef, type ManifestEntry } from '../../format/index.js';
import type { Pool } from '../../pool/index.js';
import type { PointContent } from '../end-user.js';

export class ManifestPointContent implements PointContent {
  constructor(private readonly pool: Pool) {}

  async fileChunks(pointId: string, path: Buffer): Promise<readonly ChunkRef[] | undefined> {
    const record = await this.pool.loadPoint(pointId as RecoveryPointId);
    const decoded = new Map<number, ManifestEntry[]>();
    const page = async (i: number): Promise<ManifestEntry[]> => {
      let entries = decoded.get(i);
      if (!entries) {
        entries = decodePage(await this.pool.readChunk(record.manifest[i]!.id));
        decoded.set(i, entries);
      }
      return entries;
    };
    if (record.manifest.length === 0) return undefined;
    // The page that holds the file, by binary search over the pages' first paths: a few pages read, not the manifest.
    const at = await pageHolding(record.manifest.length, path, async (i) => (await page(i))[0]?.path ?? Buffer.alloc(0));
    const e = (await page(at)).find((x) => x.path.equals(path));
    return e?.type === 'file' ? (e.chunks ?? []) : undefined;
  }
}
