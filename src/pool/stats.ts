/** Pool statistics: how much is protected, how much is stored, and why the difference. */
import type { Pool } from './pool.js';

export interface PoolStats {
  readonly points: number;
  readonly packs: number;
  readonly chunks: number;
  /** Sum over all recovery points of the size of their files. */
  readonly logicalBytes: number;
  /** Plaintext size of the unique chunks. */
  readonly uniqueBytes: number;
  /** Size of the pack files on disk. */
  readonly storedBytes: number;
  /** logical / unique. */
  readonly dedupRatio: number;
  /** unique / stored. */
  readonly compressionRatio: number;
  readonly encrypted: boolean;
}

export async function poolStats(pool: Pool): Promise<PoolStats> {
  await pool.loadIndex();
  const points = await pool.listPoints();
  let uniqueBytes = 0;
  for (const loc of pool.index.values()) uniqueBytes += loc.rawLength;
  const packs = await pool.store.list('packs');
  const storedBytes = packs.reduce((n, p) => n + p.size, 0);
  const logicalBytes = points.reduce((n, p) => n + p.summary.logicalBytes, 0);
  const ratio = (a: number, b: number) => (b === 0 ? 0 : Math.round((a / b) * 100) / 100);
  return {
    points: points.length,
    packs: packs.length,
    chunks: pool.index.size,
    logicalBytes,
    uniqueBytes,
    storedBytes,
    dedupRatio: ratio(logicalBytes, uniqueBytes),
    compressionRatio: ratio(uniqueBytes, storedBytes),
    encrypted: pool.config.encryption !== null,
  };
}
