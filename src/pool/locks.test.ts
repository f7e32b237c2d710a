import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { LockedError } from '../base/index.js';
import { LocalBlobStore } from './blob-store.js';
import { acquireLock, acquireLockRetrying, lockRetryDelayMs, parseLockRecord } from './locks.js';

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

test('two holders of one data source conflict even when shared; other sources and unnamed holders do not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'custos-locks-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = new LocalBlobStore(dir);
  const first = await acquireLock(store, 'shared', 'backup', { source: 'h:/data' });
  await assert.rejects(
    acquireLock(store, 'shared', 'backup', { source: 'h:/data' }),
    (err: unknown) => err instanceof LockedError && /^a backup of h:\/data is already running \(pid \d+ on /.test(err.message),
  );
  const other = await acquireLock(store, 'shared', 'backup', { source: 'h:/other' });
  const restore = await acquireLock(store, 'shared', 'restore');
  assert.equal(readdirSync(join(dir, 'locks')).length, 3, 'the refused holder removed its lock file');
  await Promise.all([first.release(), other.release(), restore.release()]);
  await (await acquireLock(store, 'shared', 'backup', { source: 'h:/data' })).release();
});

test('lock files are parsed with a check: junk, wrong types and oversized files are not lock records', () => {
  const good = { kind: 'shared', operation: 'backup', host: 'h', pid: 42, time: 't' };
  assert.deepEqual(parseLockRecord(Buffer.from(JSON.stringify(good))), good);
  assert.deepEqual(parseLockRecord(Buffer.from(JSON.stringify({ ...good, source: 'h:/x' }))), { ...good, source: 'h:/x' });
  for (const bad of [
    '{"kind":"shared"',
    '[]',
    'null',
    JSON.stringify({ ...good, kind: 'both' }),
    JSON.stringify({ ...good, pid: '42' }),
    JSON.stringify({ ...good, pid: -1 }),
    JSON.stringify({ ...good, source: 7 }),
    JSON.stringify({ ...good, operation: 'x'.repeat(5000) }),
    ' '.repeat(70_000),
  ]) {
    assert.equal(parseLockRecord(Buffer.from(bad)), null, bad.slice(0, 60));
  }
});

test('retry delays grow from 0.5 s to 10 s, with jitter, and never pass the deadline', () => {
  assert.equal(lockRetryDelayMs(1, 60_000, 0.5), 500);
  assert.equal(lockRetryDelayMs(2, 60_000, 0.5), 1000);
  assert.equal(lockRetryDelayMs(10, 60_000, 0.5), 10_000);
  assert.equal(lockRetryDelayMs(10, 60_000, 0), 8000);
  assert.equal(lockRetryDelayMs(10, 60_000, 1), 12_000);
  assert.equal(lockRetryDelayMs(3, 700, 0.5), 700);
});

test('--retry-lock: waits (saying so once) until the lock is free, or gives up at the deadline', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'custos-locks-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = new LocalBlobStore(dir);
  let clock = 1_000_000;
  const waits: string[] = [];
  const gc = await acquireLock(store, 'exclusive', 'gc');
  let sleeps = 0;
  const retry = {
    forMs: 60_000,
    now: () => clock,
    random: () => 0.5,
    onWait: (why: string) => waits.push(why),
    sleep: async (ms: number) => {
      clock += ms;
      if (++sleeps === 4) await gc.release(); // gc finishes while the backup waits
    },
  };
  const backup = await acquireLockRetrying(store, 'shared', 'backup', { retry });
  assert.equal(sleeps, 4);
  assert.equal(clock - 1_000_000, 500 + 1000 + 2000 + 4000);
  assert.equal(waits.length, 1);
  assert.match(waits[0]!, /^pool is locked by gc/);
  await backup.release();

  const gc2 = await acquireLock(store, 'exclusive', 'gc');
  const start = clock;
  waits.length = 0;
  await assert.rejects(
    acquireLockRetrying(store, 'shared', 'backup', { retry: { ...retry, sleep: async (ms: number) => void (clock += ms) } }),
    (err: unknown) => err instanceof LockedError && /locked by gc .*gave up after waiting 60 s/.test(err.message),
  );
  assert.equal(clock - start, 60_000, 'the last try is at the deadline, not later');
  assert.equal(waits.length, 1);
  await assert.rejects(acquireLockRetrying(store, 'shared', 'backup', { retry: { ...retry, forMs: 0 } }), LockedError);
  await gc2.release();
  assert.deepEqual(readdirSync(join(dir, 'locks')), []);
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
