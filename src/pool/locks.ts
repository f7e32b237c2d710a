/**
 * Pool locks: one file per holder under locks/. Which operations may run
 * together is the table in docs/design/concurrency.md: backup, restore,
 * verify and forget take shared locks; gc takes an exclusive one. A lock may
 * name the data source it works on (a backup does): two locks naming the same
 * one conflict even when both are shared. A lock whose holder process is gone
 * (same host, pid not alive) is stale and removed.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { LockedError } from '../base/index.js';
import type { BlobStore } from './blob-store.js';

export type LockKind = 'shared' | 'exclusive';

export interface LockRecord {
  readonly kind: LockKind;
  readonly operation: string;
  readonly host: string;
  readonly pid: number;
  readonly time: string;
  /** The data source ("HOST:PATH") the holder works on, when it works on one. */
  readonly source?: string;
}

export interface PoolLock {
  release(): Promise<void>;
}

export interface LockOptions {
  /** The data source ("HOST:PATH") the operation works on: only one holder per data source at a time. */
  readonly source?: string | undefined;
  /**
   * Ignore the other locks of this very process (the protection server's gc
   * job beside the server's own shared lock): jobs inside one process are
   * coordinated by the pool's activity record instead (activity.ts).
   */
  readonly besideOwnProcess?: boolean;
}

const MAX_LOCK_FILE = 64 * 1024;
const MAX_FIELD = 4096;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const text = (v: unknown): v is string => typeof v === 'string' && v.length <= MAX_FIELD;

/** A lock file's content, checked field by field; null when it is not a lock record (half-written, or not ours). */
export function parseLockRecord(content: Buffer): LockRecord | null {
  if (content.length > MAX_LOCK_FILE) return null;
  let v: unknown;
  try {
    v = JSON.parse(content.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const r = v as Record<string, unknown>;
  if (r['kind'] !== 'shared' && r['kind'] !== 'exclusive') return null;
  if (!text(r['operation']) || !text(r['host']) || !text(r['time'])) return null;
  if (typeof r['pid'] !== 'number' || !Number.isSafeInteger(r['pid']) || r['pid'] <= 0) return null;
  if (r['source'] !== undefined && !text(r['source'])) return null;
  const record: LockRecord = { kind: r['kind'], operation: r['operation'], host: r['host'], pid: r['pid'], time: r['time'] };
  return r['source'] === undefined ? record : { ...record, source: r['source'] };
}

/** Why `other` keeps `me` out, or null when the two may run together. */
export function lockConflict(me: LockRecord, other: LockRecord): string | null {
  const holder = `pid ${other.pid} on ${other.host}, since ${other.time}`;
  if (me.kind === 'exclusive' || other.kind === 'exclusive') {
    return `pool is locked by ${other.operation} (${holder}); try again when it has finished`;
  }
  if (me.source !== undefined && me.source === other.source) {
    return `a ${other.operation} of ${other.source} is already running (${holder}); try again when it has finished`;
  }
  return null;
}

export async function acquireLock(store: BlobStore, kind: LockKind, operation: string, options: LockOptions = {}): Promise<PoolLock> {
  const base = { kind, operation, host: hostname(), pid: process.pid, time: new Date().toISOString() };
  const me: LockRecord = options.source === undefined ? base : { ...base, source: options.source };
  const name = `locks/${randomBytes(8).toString('hex')}.lock`;
  // Announce first, then look: of two racing operations at least one sees the other.
  await store.put(name, Buffer.from(JSON.stringify(me)));
  for (const info of await store.list('locks')) {
    if (info.name === name) continue;
    let other: LockRecord | null;
    try {
      other = parseLockRecord(await store.get(info.name));
    } catch {
      continue; // vanished: its holder is gone
    }
    if (other === null) continue; // half-written: its holder is just arriving and will see us
    if (options.besideOwnProcess && other.host === me.host && other.pid === me.pid) continue;
    if (other.host === me.host && !alive(other.pid)) {
      await store.delete(info.name);
      continue;
    }
    const why = lockConflict(me, other);
    if (why !== null) {
      await store.delete(name);
      throw new LockedError(why);
    }
  }
  return { release: () => store.delete(name) };
}

export interface LockRetry {
  /** Keep trying this long (ms) after the first refusal; 0: fail at once. */
  readonly forMs: number;
  /** Told once, at the first refusal, why the operation waits. */
  readonly onWait?: (reason: string) => void;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  readonly random?: () => number;
}

/** Wait before retry `attempt` (1, 2, …): 0.5 s doubling to 10 s, ±20% so racing waiters part, never past the deadline. */
export function lockRetryDelayMs(attempt: number, remainingMs: number, random: number): number {
  const base = Math.min(500 * 2 ** Math.max(0, attempt - 1), 10_000);
  return Math.max(0, Math.min(remainingMs, Math.round(base * (0.8 + 0.4 * random))));
}

/** acquireLock, retried while the pool is locked, for at most `retry.forMs` (restic's --retry-lock). */
export async function acquireLockRetrying(
  store: BlobStore,
  kind: LockKind,
  operation: string,
  options: LockOptions & { retry?: LockRetry | undefined } = {},
): Promise<PoolLock> {
  const retry = options.retry;
  if (!retry || retry.forMs <= 0) return acquireLock(store, kind, operation, options);
  const now = retry.now ?? Date.now;
  const sleep = retry.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = now() + retry.forMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await acquireLock(store, kind, operation, options);
    } catch (err) {
      const remaining = deadline - now();
      if (!(err instanceof LockedError)) throw err;
      if (remaining <= 0) throw new LockedError(`${err.message} (gave up after waiting ${Math.round(retry.forMs / 1000)} s)`);
      if (attempt === 1) retry.onWait?.(err.message);
      await sleep(lockRetryDelayMs(attempt, remaining, (retry.random ?? Math.random)()));
    }
  }
}
