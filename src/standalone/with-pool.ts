import { UserError, parseDuration } from '../base/index.js';
import { Pool, acquireLockRetrying, type LockKind } from '../pool/index.js';

export interface PoolRef {
  readonly pool: string;
  readonly keyFile?: string | undefined;
  /** --retry-lock: how long to keep trying while the pool is locked (a duration such as 30s, 5m); absent: fail at once. */
  readonly retryLock?: string | undefined;
  /** Told once when the operation starts waiting for a lock. */
  readonly onLockWait?: ((reason: string) => void) | undefined;
}

/** --retry-lock's value in ms (0 when absent); a bad value is a usage error, found before the pool is opened. */
export function parseRetryLock(value: string | undefined): number {
  if (value === undefined) return 0;
  const ms = parseDuration(value);
  if (ms === undefined) throw new UserError('usage', `--retry-lock must be a duration like 30s, 5m or 1h (got "${value}")`);
  return ms;
}

/**
 * Opens a pool. A key file given for a pool that is not encrypted is refused:
 * the user believes the data is encrypted with it, and it is not.
 */
export async function openPool(ref: PoolRef): Promise<Pool> {
  const pool = await Pool.open(ref.pool, { keyFile: ref.keyFile });
  if (ref.keyFile !== undefined && pool.keys === null) {
    throw new UserError('usage', `pool ${pool.dir} is not encrypted: --key-file is only for encrypted pools (leave it out)`);
  }
  return pool;
}

/**
 * Opens a pool and runs `fn` under the lock the concurrency table gives
 * `operation`; `source` ("HOST:PATH") keeps a second operation on the same
 * data source out while this one runs.
 */
export async function withPool<T>(
  ref: PoolRef,
  kind: LockKind,
  operation: string,
  fn: (pool: Pool) => Promise<T>,
  source?: string,
): Promise<T> {
  const retryMs = parseRetryLock(ref.retryLock);
  const pool = await openPool(ref);
  const lock = await acquireLockRetrying(pool.store, kind, operation, { source, retry: { forMs: retryMs, onWait: ref.onLockWait } });
  try {
    return await fn(pool);
  } finally {
    await lock.release();
  }
}
