/** Standalone pool maintenance: init, verify, gc, stats — each under the lock the concurrency table asks for. */
import { UserError, type ProgressSink } from '../base/index.js';
import { Pool, gcPool, parseGrace, poolStats, verifyPool, type GcReport, type PoolStats, type VerifyReport } from '../pool/index.js';

export interface PoolRef {
  readonly pool: string;
  readonly keyFile?: string | undefined;
}

export async function initPool(dir: string, options: { encrypt?: boolean; keyFile?: string | undefined }) {
  if (options.encrypt && options.keyFile === undefined) {
    throw new UserError('usage', '--encrypt needs --key-file FILE (an existing secret, or where to write a new random key)');
  }
  if (!options.encrypt && options.keyFile !== undefined) throw new UserError('usage', '--key-file is only used with --encrypt');
  return Pool.init(dir, { keyFile: options.encrypt ? options.keyFile : undefined });
}

async function withPool<T>(ref: PoolRef, kind: 'shared' | 'exclusive', op: string, fn: (pool: Pool) => Promise<T>): Promise<T> {
  const pool = await Pool.open(ref.pool, { keyFile: ref.keyFile });
  const lock = await pool.lock(kind, op);
  try {
    return await fn(pool);
  } finally {
    await lock.release();
  }
}

export function verify(ref: PoolRef, progress?: ProgressSink): Promise<VerifyReport> {
  return withPool(ref, 'shared', 'verify', (pool) => verifyPool(pool, progress));
}

export function gc(ref: PoolRef & { grace?: string | undefined; dryRun?: boolean }): Promise<GcReport> {
  const graceMs = parseGrace(ref.grace);
  return withPool(ref, 'exclusive', 'gc', (pool) => gcPool(pool, { graceMs, dryRun: ref.dryRun }));
}

export function stats(ref: PoolRef): Promise<PoolStats> {
  return withPool(ref, 'shared', 'stats', poolStats);
}
