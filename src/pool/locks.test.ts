import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { LockedError } from '../base/index.js';
import { LocalBlobStore } from './blob-store.js';
import { acquireLock } from './locks.js';

test('shared locks coexist, exclusive excludes, released locks leave nothing behind', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'custos-locks-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = new LocalBlobStore(dir);
  const backup = await acquireLock(store, 'shared', 'backup');
  const verify = await acquireLock(store, 'shared', 'verify');
  await assert.rejects(acquireLock(store, 'exclusive', 'gc'), (err: unknown) => err instanceof LockedError && /locked by (backup|verify)/.test(err.message));
  await backup.release();
  await verify.release();
  const gc = await acquireLock(store, 'exclusive', 'gc');
  await assert.rejects(acquireLock(store, 'shared', 'backup'), (err: unknown) => err instanceof LockedError && /locked by gc/.test(err.message));
  await gc.release();
  assert.deepEqual(readdirSync(join(dir, 'locks')), []);
});

test('a lock of a process that is gone is stale and removed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'custos-locks-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'locks'));
  writeFileSync(join(dir, 'locks', 'old.lock'), JSON.stringify({ kind: 'exclusive', operation: 'gc', host: hostname(), pid: 2 ** 22 + 3, time: '2026-01-01T00:00:00Z' }));
  const store = new LocalBlobStore(dir);
  const lock = await acquireLock(store, 'shared', 'backup');
  assert.equal(readdirSync(join(dir, 'locks')).includes('old.lock'), false);
  await lock.release();
});

test('the server\'s gc lock ignores the server\'s own lock and excludes every other process', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'custos-locks-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = new LocalBlobStore(dir);
  const server = await acquireLock(store, 'shared', 'server');
  const gc = await acquireLock(store, 'exclusive', 'gc (protection server)', { besideOwnProcess: true });
  // Another process (a standalone backup) is refused while the server's gc holds its lock...
  mkdirSync(join(dir, 'locks'), { recursive: true });
  await assert.rejects(acquireLock(store, 'shared', 'backup'), (err: unknown) => err instanceof LockedError && /locked by gc \(protection server\)/.test(err.message));
  await gc.release();
  // ...and the server's gc is refused while another live process holds a lock (pid 1 is always alive).
  writeFileSync(join(dir, 'locks', 'other.lock'), JSON.stringify({ kind: 'shared', operation: 'backup', host: hostname(), pid: 1, time: '2026-01-01T00:00:00Z' }));
  await assert.rejects(acquireLock(store, 'exclusive', 'gc (protection server)', { besideOwnProcess: true }), (err: unknown) => err instanceof LockedError && /locked by backup/.test(err.message));
  await server.release();
});
