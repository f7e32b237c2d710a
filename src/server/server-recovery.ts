/**
 * Recoveries to a folder of the protection server itself (`--to
 * server:/path`; DPM's "network folder" when the folder is a mounted share).
 * Only under the directories the administrator listed with `custos server
 * start --recovery-dir DIR`: a target is checked when the recovery is asked
 * for and again when its job runs, with every symbolic link resolved, so
 * neither `..` nor a link planted in a recovery directory reaches anywhere
 * else, and nothing reaches the server's own data directory. The job runs
 * here, with the restore pipeline an agent uses (runRestore), reading chunks
 * straight from the local pool as a standalone restore does.
 */
import { lstatSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, posix } from 'node:path';
import { CustosError, isErrno, type ProgressSink } from '../base/index.js';
import { runRestore, type SecurityMode } from '../agent/index.js';
import { judgeRecovery } from '../agent/remote/jobs.js';
import { formatThrottle, type ThrottleRule } from '../protection/index.js';
import { resolveItem } from '../agent/restore/items.js';
import type { ManifestEntry, RecoveryPointRecord } from '../format/index.js';
import type { Pool } from '../pool/index.js';
import type { JobProgress } from '../protocol/index.js';

export const SERVER_TARGET_PREFIX = 'server:';

/** The path of a `server:/path` target; null for any other target. */
export function serverTargetPath(to: string): string | null {
  return to.startsWith(SERVER_TARGET_PREFIX) ? to.slice(SERVER_TARGET_PREFIX.length) : null;
}

/**
 * The recovery directories as given to `server start`, resolved: each must
 * be an existing directory, and none may hold the server's data directory or
 * lie inside it (a recovery could otherwise overwrite the catalog or the pool).
 */
export function resolveRecoveryDirs(dirs: readonly string[], dataDir: string): string[] {
  const data = realpathSync(dataDir);
  return dirs.map((d) => {
    let real: string;
    try {
      real = realpathSync(d);
    } catch (err) {
      throw new CustosError('usage', `--recovery-dir ${d}: ${isErrno(err, 'ENOENT') ? 'does not exist (create it first)' : (err as Error).message}`);
    }
    if (!statSync(real).isDirectory()) throw new CustosError('usage', `--recovery-dir ${d} is not a directory`);
    if (overlaps(real, data)) throw new CustosError('usage', `--recovery-dir ${d} overlaps the server's data directory ${data}: choose a directory outside it`);
    return real;
  });
}

function isWithin(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`);
}

function overlaps(a: string, b: string): boolean {
  return isWithin(a, b) || isWithin(b, a);
}

/**
 * Where a `server:` target really is: the realpath of its deepest existing
 * ancestor with the rest appended, which must lie in one of `dirs` (already
 * resolved) and outside `dataDir`. Refused (`denied`) otherwise, and for any
 * `..`, so the answer never depends on how a path is spelled.
 */
export function checkServerTarget(path: string, dirs: readonly string[], dataDir: string): string {
  if (dirs.length === 0) {
    throw new CustosError('denied', 'this protection server has no recovery directories: an administrator starts it with --recovery-dir DIR to allow server:/path targets');
  }
  if (!path.startsWith('/')) throw new CustosError('usage', `server:${path}: give an absolute path on the protection server`);
  if (path.includes('\0')) throw new CustosError('usage', 'the recovery target contains a NUL byte');
  if (path.split('/').includes('..')) throw new CustosError('denied', `refused: server:${path}: '..' is not allowed in a server target`);
  let existing = posix.normalize(path);
  const rest: string[] = [];
  for (;;) {
    try {
      lstatSync(existing);
      break;
    } catch (err) {
      if (!(isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) || existing === '/') throw err;
      rest.unshift(basename(existing));
      existing = dirname(existing);
    }
  }
  const realAncestor = realpathSync(existing);
  if (rest.length > 0 && !statSync(realAncestor).isDirectory()) throw new CustosError('usage', `server:${path}: ${existing} is not a directory`);
  const real = rest.length > 0 ? join(realAncestor, ...rest) : realAncestor;
  if (!dirs.some((d) => isWithin(real, d))) {
    const resolved = real !== posix.normalize(path) ? ` (it resolves to ${real})` : '';
    throw new CustosError('denied', `refused: server:${path}${resolved} is not under a recovery directory of this server (${dirs.join(', ')})`);
  }
  if (overlaps(real, realpathSync(dataDir))) throw new CustosError('denied', `refused: server:${path} overlaps the server's data directory`);
  return real;
}

export interface ServerRecoveryJob {
  readonly id: number;
  readonly point: RecoveryPointRecord;
  readonly source: { readonly id: string; readonly path: string };
  /** The path as asked for (checked again here). */
  readonly target: string;
  readonly items: readonly string[];
  readonly conflict: 'overwrite' | 'skip' | 'keep-both';
  readonly security: SecurityMode;
  readonly throttle: readonly ThrottleRule[];
}

export interface ServerRecoveryEvents {
  progress(p: JobProgress): void;
  log(level: 'info' | 'warning' | 'error', message: string): void;
}

export class ServerRecoveries {
  constructor(private readonly d: { readonly pool: Pool; readonly recoveryDirs: readonly string[]; readonly dataDir: string }) {}

  get recoveryDirs(): readonly string[] {
    return this.d.recoveryDirs;
  }

  /** Checks a target path (see checkServerTarget) and returns where it really is. */
  check(path: string): string {
    return checkServerTarget(path, this.d.recoveryDirs, this.d.dataDir);
  }

  /** Runs a recovery job to a server folder; throws as an agent's recovery would (not-found, partial, integrity). */
  async run(job: ServerRecoveryJob, events: ServerRecoveryEvents, cancelled: { readonly value: boolean }): Promise<Record<string, unknown>> {
    const target = this.check(job.target);
    const pool = this.d.pool;
    const unpin = pool.activity.pin(job.point);
    try {
      const paths = job.items.map((i) => resolveItem(i, job.source.path));
      const items = paths.map((p) => p.toString('utf8'));
      events.log('info', `recovering to ${target} on the protection server: conflict ${job.conflict}, security ${job.security}${job.throttle.length > 0 ? `, throttle ${formatThrottle(job.throttle).join(' ')} (the server's local time)` : ''}`);
      const result = await runRestore({
        manifest: untilCancelled(pool.manifest(job.point, paths), cancelled),
        target,
        items,
        conflict: job.conflict,
        security: job.security,
        throttle: job.throttle,
        keys: pool.keys,
        compressionLevel: pool.config.compression.level,
        progress: progressSink(events),
        source: { locate: (id) => pool.localChunk(id) },
      });
      judgeRecovery(events, result, { point: job.point.id, given: job.items, items, target });
      return { files: result.files, dirs: result.dirs, others: result.others, identical: result.identical, copies: result.copies, skipped: result.skipped, bytes: result.bytes, target, on: 'server' };
    } finally {
      unpin();
    }
  }
}

async function* untilCancelled(manifest: AsyncIterable<ManifestEntry>, cancelled: { readonly value: boolean }): AsyncGenerator<ManifestEntry> {
  for await (const e of manifest) {
    if (cancelled.value) throw new CustosError('cancelled', 'cancelled');
    yield e;
  }
}

function progressSink(events: ServerRecoveryEvents): ProgressSink {
  return {
    update(s) {
      events.progress({ phase: 'recovering', filesDone: Number(s['files'] ?? 0), bytesDone: Number(s['bytes'] ?? 0), bytesTotal: null });
    },
  };
}

