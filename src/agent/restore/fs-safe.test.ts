import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, futimesSync, lstatSync, lutimesSync, mkdtempSync, openSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { utimesSeconds } from './fs-safe.js';

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
