/** Standalone restore: a recovery point of a local pool into a directory. */
import { resolve } from 'node:path';
import { UserError, type ProgressSink } from '../base/index.js';
import { withPool, type PoolRef } from './with-pool.js';
import { checkItemsExist, resolveItems, resolveTarget, runRestore, type ConflictMode, type RestoreResult, type SecurityMode } from '../agent/index.js';
import { parseThrottle } from '../protection/index.js';

export const CONFLICT_MODES: readonly ConflictMode[] = ['overwrite', 'skip', 'keep-both'];
const SECURITY_MODES: readonly SecurityMode[] = ['point', 'target'];

export interface RestoreCommandOptions extends PoolRef {
  readonly items?: readonly string[];
  /** Default overwrite (as in server mode). */
  readonly conflict?: string;
  /** Default point. */
  readonly security?: string;
  /** --throttle values. */
  readonly throttle?: readonly string[];
  readonly progress?: ProgressSink;
}

export interface RestoreReport extends RestoreResult {
  readonly point: string;
  readonly target: string;
}

export async function restoreFromPool(pointRef: string, target: string, options: RestoreCommandOptions): Promise<RestoreReport> {
  const conflict = (options.conflict ?? 'overwrite') as ConflictMode;
  if (!CONFLICT_MODES.includes(conflict)) {
    throw new UserError('usage', `--conflict must be one of ${CONFLICT_MODES.join(', ')} (got "${options.conflict}")`);
  }
  const security = (options.security ?? 'point') as SecurityMode;
  if (!SECURITY_MODES.includes(security)) throw new UserError('usage', `--security must be point or target (got "${options.security}")`);
  const throttle = parseThrottle(options.throttle ?? []);
  checkTarget(target);
  return withPool(options, 'shared', 'restore', async (pool) => {
    const point = await pool.findPoint(pointRef);
    const items = resolveItems(options.items ?? [], point.source.path);
    await pool.loadIndex();
    // The items must all be in the point before anything is written.
    const paths = items.map((i) => i.path);
    await checkItemsExist(pool.manifest(point, paths), items, point, point.source.path);
    const result = await runRestore({
      manifest: pool.manifest(point, paths),
      target,
      items: items.map((i) => i.path.toString('utf8')),
      conflict,
      security,
      throttle,
      keys: pool.keys,
      compressionLevel: pool.config.compression.level,
      progress: options.progress,
      source: { locate: (id) => pool.localChunk(id) },
    });
    return { ...result, point: point.id, target };
  });
}

/**
 * The target is a directory or does not exist yet (it is then created), and
 * no link in it leads elsewhere (resolveTarget's rules); anything else is
 * refused before the pool is touched: a file, or a path below one, with
 * bad-target.
 */
function checkTarget(target: string): void {
  resolveTarget(resolve(target), { create: false });
}
