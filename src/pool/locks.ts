/**
 * Pool locks: one file per holder under locks/. Which operations may run
 * together is the table in docs/design/concurrency.md: backup, restore,
 * verify and forget take shared locks; gc takes an exclusive one. A lock whose
 * holder process is gone (same host, pid not alive) is stale and removed.
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
}

export interface PoolLock {
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface LockOptions {
  /**
   * Ignore the other locks of this very process (the protection server's gc
   * job beside the server's own shared lock): jobs inside one process are
   * coordinated by the pool's activity record instead (activity.ts).
   */
  readonly besideOwnProcess?: boolean;
}

export async function acquireLock(store: BlobStore, kind: LockKind, operation: string, options: LockOptions = {}): Promise<PoolLock> {
  const me: LockRecord = { kind, operation, host: hostname(), pid: process.pid, time: new Date().toISOString() };
  const name = `locks/${randomBytes(8).toString('hex')}.lock`;
  // Announce first, then look: of two racing operations at least one sees the other.
  await store.put(name, Buffer.from(JSON.stringify(me)));
  for (const info of await store.list('locks')) {
    if (info.name === name) continue;
    let other: LockRecord;
    try {
      other = JSON.parse((await store.get(info.name)).toString('utf8')) as LockRecord;
    } catch {
      continue; // vanished or half-written: its holder is gone or just leaving
    }
    if (options.besideOwnProcess && other.host === me.host && other.pid === me.pid) continue;
    if (other.host === me.host && !alive(other.pid)) {
      await store.delete(info.name);
      continue;
    }
    if (kind === 'exclusive' || other.kind === 'exclusive') {
      await store.delete(name);
      throw new LockedError(
        `pool is locked by ${other.operation} (pid ${other.pid} on ${other.host}, since ${other.time}); try again when it has finished`,
      );
    }
  }
  return { release: () => store.delete(name) };
}
