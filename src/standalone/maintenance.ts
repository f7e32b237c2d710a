/** Standalone pool maintenance: init, verify, gc, stats — each under the lock the concurrency table asks for. */
import { UserError, type ProgressSink } from '../base/index.js';
import { Pool, gcPool, parseGrace, poolStats, verifyPool, type GcReport, type PoolStats, type VerifyReport } from '../pool/index.js';
import { withPool, type PoolRef } from './with-pool.js';

export type { PoolRef };

export async function initPool(dir: string, options: { encrypt?: boolean; keyFile?: string | undefined }) {
  if (options.encrypt && options.keyFile === undefined) {
    throw new UserError('usage', '--encrypt needs --key-file FILE (an existing secret, or where to write a new random key)');
  }
  if (!options.encrypt && options.keyFile !== undefined) throw new UserError('usage', '--key-file is only used with --encrypt');
  return Pool.init(dir, { keyFile: options.encrypt ? options.keyFile : undefined });
}

export function verify(ref: PoolRef, progress?: ProgressSink): Promise<VerifyReport> {
  return withPool(ref, 'shared', 'verify', (pool) => verifyPool(pool, progress));
}

export function gc(ref: PoolRef & { grace?: string | undefined; dryRun?: boolean }): Promise<GcReport> {
  const graceMs = parseGrace(ref.grace);
  return withPool(ref, 'exclusive', 'gc', (pool) => gcPool(pool, { graceMs, dryRun: ref.dryRun, deleteRepacked: true }));
}

export function stats(ref: PoolRef): Promise<PoolStats> {
  return withPool(ref, 'shared', 'stats', poolStats);
}
