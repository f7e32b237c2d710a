import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  closeSync,
  existsSync,
  futimesSync,
  lchownSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustosError, UnsafePathError } from '../../base/index.js';
import { resolveTarget, utimesSeconds } from './fs-safe.js';

test('times set from a manifest keep every microsecond, also next to a millisecond boundary', () => {
  const dir = mkdtempSync(join(tmpdir(), 'custos-utimes-'));
  try {
    const file = join(dir, 'f');
    closeSync(openSync(file, 'w'));
    const link = join(dir, 'l');
    symlinkSync('f', link);
    const base = 1_796_168_504_973_000_000n; // a time in 2026, as in the end-to-end tests
    const cases = [0n, 999n, 999_999n, 999_999_999n, 1_000_000n, 1_000n, 123_456_789n, 26_999_999n];
    let x = 12345;
    const next = (n: number) => (x = (x * 1103515245 + 12345) % 2 ** 31) % n; // fixed sequence: the same cases every run
    for (let i = 0; i < 2000; i++) cases.push(BigInt(next(1_000_000)) * 1000n + BigInt(next(1000)));
    for (const off of cases) {
      const ns = base + off;
      const s = utimesSeconds(ns);
      const fd = openSync(file, 'r+');
      try {
        futimesSync(fd, s, s);
      } finally {
        closeSync(fd);
      }
      assert.equal(statSync(file, { bigint: true }).mtimeNs / 1000n, ns / 1000n, `file, ${ns} ns`);
      lutimesSync(link, s, s);
      assert.equal(lstatSync(link, { bigint: true }).mtimeNs / 1000n, ns / 1000n, `symlink, ${ns} ns`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('resolveTarget: real directories are created one at a time; the resolved path has no links', () => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'custos-target-')));
  try {
    const want = join(dir, 'a', 'b', 'c');
    assert.equal(resolveTarget(want, { create: false }), want);
    assert.equal(existsSync(join(dir, 'a')), false, 'nothing is made without create');
    assert.equal(resolveTarget(`${dir}//a/./b/../b/c/`, { create: true }), want);
    assert.ok(statSync(want).isDirectory());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('resolveTarget refuses a link anywhere in the target path that someone other than root could have made', () => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'custos-target-')));
  try {
    const outside = join(dir, 'outside');
    mkdirSync(outside);
    const home = join(dir, 'home');
    mkdirSync(home);
    // A user's link: as the target itself, and as an ancestor of it.
    const link = join(home, 'restore');
    symlinkSync(outside, link);
    if (process.getuid?.() === 0) lchownSync(link, 65534, 65534);
    for (const target of [link, join(link, 'deeper')]) {
      assert.throws(() => resolveTarget(target, { create: true }), (err: unknown) => err instanceof UnsafePathError && /symbolic link/.test(err.message), target);
    }
    assert.deepEqual(readdirSync(outside), [], 'nothing was made through the link');
    if (process.getuid?.() === 0) {
      // A root-owned link in a directory others may write to is not trusted either (anyone could have swapped it).
      const open = join(dir, 'open');
      mkdirSync(open);
      chmodSync(open, 0o777);
      symlinkSync(outside, join(open, 'l'));
      assert.throws(() => resolveTarget(join(open, 'l', 'x'), { create: true }), UnsafePathError);
      // Only root could have made this one: it is followed, and the result names the real place.
      const trusted = join(dir, 'trusted');
      symlinkSync(outside, trusted);
      assert.equal(resolveTarget(join(trusted, 'x'), { create: true }), join(outside, 'x'));
    }
    // A file in the path is refused.
    writeFileSync(join(dir, 'file'), 'x');
    const badTarget = (message: RegExp) => (e: unknown) => e instanceof CustosError && e.code === 'bad-target' && message.test(e.message);
    assert.throws(() => resolveTarget(join(dir, 'file', 'x'), { create: true }), badTarget(/^recovery target .*\/file\/x lies below .*\/file, which is not a directory: give a directory/));
    assert.throws(() => resolveTarget(join(dir, 'file'), { create: false }), badTarget(/^recovery target .*\/file is not a directory: give a directory, or a path that does not exist yet$/));
    assert.equal(existsSync(join(dir, 'file', 'x')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
