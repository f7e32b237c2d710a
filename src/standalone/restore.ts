/** Standalone restore: a recovery point of a local pool into a directory. */
import { stat } from 'node:fs/promises';
import { isErrno, UserError, type ProgressSink } from '../base/index.js';
import { packName } from '../pool/index.js';
import { withPool, type PoolRef } from './with-pool.js';
import { normalizeItem, runRestore, type ConflictMode, type RestoreResult, type SecurityMode } from '../agent/index.js';
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
  await checkTarget(target);
  return withPool(options, 'shared', 'restore', async (pool) => {
    const point = await pool.findPoint(pointRef);
    const items = (options.items ?? []).map((i) => normalizeItem(i, point.source.path));
    await pool.loadIndex();
    if (items.length > 0) {
      // Check the items exist before writing anything.
      const missing = new Set(items.map((i) => i.toString('hex')));
      for await (const e of pool.manifest(point)) {
        missing.delete(e.path.toString('hex'));
        if (missing.size === 0) break;
      }
      if (missing.size > 0) {
        const names = [...missing].map((h) => Buffer.from(h, 'hex').toString('utf8'));
        throw new UserError('not-found', `not in recovery point ${point.id}: ${names.join(', ')}`);
      }
    }
    const result = await runRestore({
      manifest: pool.manifest(point),
      target,
      items: items.map((i) => i.toString('utf8')),
      conflict,
      security,
      throttle,
      keys: pool.keys,
      compressionLevel: pool.config.compression.level,
      progress: options.progress,
      source: {
        locate(id) {
          const loc = pool.location(id.toString('hex'));
          return { id, rawLength: loc.rawLength, file: pool.store.localPath!(packName(loc.pack)), offset: loc.offset, length: loc.length };
        },
      },
    });
    return { ...result, point: point.id, target };
  });
}

/** The target is a directory or does not exist yet (it is then created); anything else is misuse, refused before the pool is touched. */
async function checkTarget(target: string): Promise<void> {
  try {
    if (!(await stat(target)).isDirectory()) {
      throw new UserError('usage', `restore target ${target} exists and is not a directory (give a directory, or a path that does not exist yet)`);
    }
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    if (isErrno(err, 'ENOTDIR')) throw new UserError('usage', `restore target ${target}: a part of the path is a file, not a directory`);
    throw err;
  }
}
