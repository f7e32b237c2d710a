import { Pool, type LockKind } from '../pool/index.js';

export interface PoolRef {
  readonly pool: string;
  readonly keyFile?: string | undefined;
}

/** Opens a pool and runs `fn` under the lock the concurrency table gives `operation`. */
export async function withPool<T>(ref: PoolRef, kind: LockKind, operation: string, fn: (pool: Pool) => Promise<T>): Promise<T> {
  const pool = await Pool.open(ref.pool, { keyFile: ref.keyFile });
  const lock = await pool.lock(kind, operation);
  try {
    return await fn(pool);
  } finally {
    await lock.release();
  }
}
