#!/usr/bin/env node
// Writes the format fixture pools under test/fixtures/pool-v<N>-{plain,encrypted}/
// from a small deterministic tree, plus expected.json: the digest the
// fixture test expects after restoring them. Run once per pool format
// version (after `npm run build`) and commit the result; never regenerate
// an existing version's fixture — it is there to prove old pools stay readable.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, linkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { POOL_VERSION } from '../dist/src/format/index.js';
import { treeDigest } from '../dist/test/helpers/tree.js';

const out = resolve('test/fixtures');
const work = mkdtempSync(join(tmpdir(), 'custos-fixture-'));
const src = join(work, 'tree');
const t = new Date('2026-01-02T03:04:05.678Z');
mkdirSync(join(src, 'docs/empty'), { recursive: true });
writeFileSync(join(src, 'docs/readme.txt'), 'Custos fixture\n'.repeat(100));
writeFileSync(join(src, 'odd name\nwith newline'), 'odd');
writeFileSync(join(src, Buffer.from([0x6c, 0x61, 0x74, 0x69, 0x6e, 0xe9]).toString('latin1')), 'latin-1 name');
const big = Buffer.alloc(3 * 1024 * 1024);
let x = 12345;
for (let i = 0; i < big.length; i++) {
  x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
  big[i] = i % 4096 < 2048 ? x & 0xff : 0x41; // half random, half compressible
}
writeFileSync(join(src, 'data.bin'), big);
linkSync(join(src, 'data.bin'), join(src, 'docs/data-link.bin'));
symlinkSync('docs/readme.txt', join(src, 'readme-link'));
for (const p of ['docs/readme.txt', 'odd name\nwith newline', 'data.bin', 'docs/empty', 'docs', '.']) utimesSync(join(src, p), t, t);

const cli = (args) => execFileSync(process.execPath, [resolve('bin/custos.js'), ...args], { encoding: 'utf8' });
for (const kind of ['plain', 'encrypted']) {
  const dir = join(out, `pool-v${POOL_VERSION}-${kind}`);
  if (existsSync(dir)) {
    console.error(`${dir} exists: fixtures of a released format version are never regenerated`);
    process.exit(1);
  }
  const key = join(out, `pool-v${POOL_VERSION}-encrypted.key`);
  if (kind === 'encrypted') writeFileSync(key, 'fixture passphrase, not a secret\n');
  cli(['pool', 'init', dir, ...(kind === 'encrypted' ? ['--encrypt', '--key-file', key] : [])]);
  cli(['backup', src, '--pool', dir, ...(kind === 'encrypted' ? ['--key-file', key] : [])]);
  rmSync(join(dir, 'tmp'), { recursive: true, force: true });
  rmSync(join(dir, 'locks'), { recursive: true, force: true });
}
const digest = await treeDigest(src, { root: false });
writeFileSync(join(out, `pool-v${POOL_VERSION}-expected.json`), JSON.stringify(Object.fromEntries(digest), null, 2) + '\n');
rmSync(work, { recursive: true, force: true });
console.log(`fixtures written to ${out}`);
