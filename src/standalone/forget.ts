/**
 * Forget: remove recovery points, by id or by policy. Policies apply to each
 * data source (host + path) separately; a point is kept when any rule keeps
 * it. Forgetting only removes point objects; `pool gc` frees the space.
 */
import { UserError, parseDuration, type RecoveryPointId } from '../base/index.js';
import type { RecoveryPointRecord } from '../format/index.js';
import { withPool, type PoolRef } from './with-pool.js';

export interface ForgetOptions extends PoolRef {
  readonly points?: readonly string[];
  readonly keepLast?: string | undefined;
  readonly keepWithin?: string | undefined;
  readonly dryRun?: boolean;
  readonly now?: Date;
}

export interface ForgetReport {
  readonly removed: Array<{ id: RecoveryPointId; time: string; source: string }>;
  readonly kept: number;
  readonly dryRun: boolean;
}

/** Which points a policy removes; pure, for testing. */
export function selectForget(
  points: readonly RecoveryPointRecord[],
  rules: { keepLast?: number; keepWithinMs?: number },
  now: Date,
): RecoveryPointRecord[] {
  const bySource = new Map<string, RecoveryPointRecord[]>();
  for (const p of points) {
    const key = `${p.source.host}\0${p.source.path}`;
    let list = bySource.get(key);
    if (!list) bySource.set(key, (list = []));
    list.push(p);
  }
  const out: RecoveryPointRecord[] = [];
  for (const list of bySource.values()) {
    const newestFirst = [...list].sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
    newestFirst.forEach((p, i) => {
      const byCount = rules.keepLast !== undefined && i < rules.keepLast;
      const byAge = rules.keepWithinMs !== undefined && now.getTime() - Date.parse(p.time) <= rules.keepWithinMs;
      if (!byCount && !byAge) out.push(p);
    });
  }
  return out;
}

export async function forgetPoints(options: ForgetOptions): Promise<ForgetReport> {
  const ids = options.points ?? [];
  const policy = options.keepLast !== undefined || options.keepWithin !== undefined;
  if (ids.length === 0 && !policy) throw new UserError('usage', 'name recovery points to forget, or give --keep-last N and/or --keep-within DURATION');
  if (ids.length > 0 && policy) throw new UserError('usage', 'give either recovery point ids or a keep policy, not both');
  let keepLast: number | undefined;
  if (options.keepLast !== undefined) {
    if (!/^\d+$/.test(options.keepLast)) throw new UserError('usage', `--keep-last must be a whole number (got "${options.keepLast}")`);
    keepLast = Number(options.keepLast);
  }
  let keepWithinMs: number | undefined;
  if (options.keepWithin !== undefined) {
    keepWithinMs = parseDuration(options.keepWithin);
    if (keepWithinMs === undefined) throw new UserError('usage', `--keep-within must be a duration like 12h, 5d or 2w (got "${options.keepWithin}")`);
  }
  return withPool(options, 'shared', 'forget', async (pool) => {
    const all = await pool.listPoints();
    let doomed: RecoveryPointRecord[];
    if (ids.length > 0) {
      doomed = [];
      for (const id of ids) doomed.push(await pool.findPoint(id)); // all resolved before anything is removed
    } else {
      doomed = selectForget(all, { keepLast, keepWithinMs }, options.now ?? new Date());
    }
    const unique = [...new Map(doomed.map((p) => [p.id, p])).values()];
    if (!options.dryRun) for (const p of unique) await pool.deletePoint(p.id);
    return {
      removed: unique.map((p) => ({ id: p.id, time: p.time, source: `${p.source.host}:${p.source.path}` })),
      kept: all.length - unique.length,
      dryRun: options.dryRun === true,
    };
  });
}
