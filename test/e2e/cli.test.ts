/**
 * The standalone CLI end to end, as a user runs it: awkward trees round-trip
 * exactly, unchanged files are not read again, excludes, items, conflict
 * modes, forget + gc + stats, and one clear line with a distinct exit status
 * for every kind of bad input — with nothing changed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getAttributeSync, setAttributeSync } from '@napi-rs/xattr';
import {
  cleanupTempDirs,
  describeCli,
  diffDigests,
  makeTempDir,
  parseJsonOutput,
  runCli,
  seededBytes,
  treeDigest,
  treePath,
  writeTree,
  type CliResult,
  poolListing,
} from '../helpers/tree.js';

interface BackupJson {
  point: string;
  filesNew: number;
  filesChanged: number;
  filesUnchanged: number;
  bytesRead: number;
  bytesAdded: number;
  partial: boolean;
  changedDuringRead: string[];
}

function ok(args: string[], r: CliResult): void {
  assert.equal(r.code, 0, describeCli(args, r));
}

async function cli(args: string[]): Promise<CliResult> {
  const r = await runCli(args);
  ok(args, r);
  return r;
}

async function backup(src: string, pool: string, extra: string[] = []): Promise<BackupJson> {
  const args = ['backup', src, '--pool', pool, '--json', ...extra];
  return parseJsonOutput<BackupJson>(args, await cli(args));
}


const hasAcl = (() => {
  try {
    execFileSync('setfacl', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('standalone CLI', () => {
  let base: string;
  let src: string;
  let pool: string;

  before(async () => {
    base = (await makeTempDir('custos-e2e-')).path;
    src = join(base, 'src');
    pool = join(base, 'pool');
    await writeTree(src, [
      ['plain.txt', 'hello\n'],
      ['with space.txt', 'spaces'],
      ['new\nline', 'newline in the name'],
      [Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe]), 'not UTF-8'],
      ['ünïcödé/日本.txt', 'unicode'],
      ['secret.key', { content: 'mode 0600', mode: 0o600 }],
      ['run.sh', { content: '#!/bin/sh\necho hi\n', mode: 0o755 }],
      ['empty-dir', { type: 'dir' }],
      ['dir/nested/deep/file.bin', { random: { size: 300_000, seed: 'deep' } }],
      ['dir/big.bin', { random: { size: 9_000_000, seed: 'big' } }],
      ['link-rel', { type: 'symlink', target: 'plain.txt' }],
      ['link-abs', { type: 'symlink', target: '/etc/hostname' }],
      ['link-dangling', { type: 'symlink', target: 'does/not/exist' }],
      ['hard-a', 'shared by two names'],
      ['dir/hard-b', { type: 'hardlink', target: 'hard-a' }],
      ['music/song.mp3', 'la la la'],
      ['cache/tmp.dat', 'cached'],
      ['zero', ''],
    ]);
    // A sparse file of 150 MiB with islands of data, one across the 64 MiB segment boundary
    // (large files are read as segments by several workers at once).
    const sparse = join(src, 'sparse.img');
    execFileSync('truncate', ['-s', '150M', sparse]);
    for (const [seek, count] of [[100, 1], [9000, 2], [16383, 2], [30000, 3], [38399, 1]]) {
      execFileSync('dd', ['if=/dev/urandom', `of=${sparse}`, 'bs=4096', `count=${count}`, `seek=${seek}`, 'conv=notrunc'], { stdio: 'ignore' });
    }
    execFileSync('mkfifo', [join(src, 'a-fifo')]);
    setAttributeSync(join(src, 'plain.txt'), 'user.custos.test', Buffer.from('xattr value'));
    setAttributeSync(join(src, 'dir'), 'user.on-a-dir', Buffer.from([0, 1, 2, 255]));
    if (hasAcl) execFileSync('setfacl', ['-m', 'u:nobody:r', join(src, 'run.sh')]);
    await cli(['pool', 'init', pool]);
  });
  after(cleanupTempDirs);

  test('an awkward tree round-trips exactly', async () => {
    const b = await backup(src, pool);
    assert.equal(b.partial, false);
    assert.equal(b.filesNew, 14);
    const out = join(base, 'restore-all');
    await cli(['restore', b.point, out, '--pool', pool]);
    const diff = diffDigests(await treeDigest(src, { owner: true }), await treeDigest(out, { owner: true }));
    assert.deepEqual(diff, []);
    // Hard links come back as links.
    assert.equal(statSync(join(out, 'hard-a')).ino, statSync(join(out, 'dir/hard-b')).ino);
    // Extended attributes, on files and directories.
    assert.deepEqual(getAttributeSync(join(out, 'plain.txt'), 'user.custos.test'), Buffer.from('xattr value'));
    assert.deepEqual(getAttributeSync(join(out, 'dir'), 'user.on-a-dir'), Buffer.from([0, 1, 2, 255]));
    if (hasAcl) {
      assert.match(execFileSync('getfacl', ['-c', join(out, 'run.sh')], { encoding: 'utf8' }), /user:nobody:r--/);
    }
    // Sparse stays sparse: 150 MiB apparent, a few blocks allocated.
    const st = statSync(join(out, 'sparse.img'));
    assert.equal(st.size, 150 * 1024 * 1024);
    assert.ok(st.blocks * 512 < 1024 * 1024, `sparse file restored with ${st.blocks * 512} bytes allocated`);
    assert.ok(lstatSync(join(out, 'a-fifo')).isFIFO());
    assert.ok(lstatSync(treePath(out, Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe]))).isFile());
  });

  test('an unchanged tree is not read again; a changed file is', async () => {
    const again = await backup(src, pool);
    assert.equal(again.filesUnchanged, 14);
    assert.equal(again.filesNew + again.filesChanged, 0);
    assert.equal(again.bytesRead, 0);
    appendFileSync(join(src, 'dir/big.bin'), 'one more line\n');
    const changed = await backup(src, pool);
    assert.equal(changed.filesChanged, 1);
    assert.equal(changed.filesUnchanged, 13);
    assert.equal(changed.bytesRead, 9_000_000 + 14);
    // Only the last chunk(s) of the big file and the manifest are new.
    assert.ok(changed.bytesAdded < 6_000_000, `added ${changed.bytesAdded} bytes for a 14-byte append`);
    const points = parseJsonOutput<Array<{ id: string; time: string }>>(['points'], await cli(['points', '--pool', pool, '--json']));
    assert.equal(points.length, 3);
    assert.ok(points.every((p) => /^[0-9a-f]{32}$/.test(p.id) && !Number.isNaN(Date.parse(p.time))));
  });

  test('excludes leave items out', async () => {
    const b = await backup(src, pool, ['--exclude', '*.mp3', '--exclude', 'cache']);
    const out = join(base, 'restore-excl');
    await cli(['restore', b.point, out, '--pool', pool]);
    assert.ok(existsSync(join(out, 'music')));
    assert.ok(!existsSync(join(out, 'music/song.mp3')));
    assert.ok(!existsSync(join(out, 'cache')));
    assert.ok(existsSync(join(out, 'plain.txt')));
  });

  test('selected items restore alone; a missing item is refused before anything is written', async () => {
    const out = join(base, 'restore-item');
    await cli(['restore', 'latest', out, '--pool', pool, '--item', 'dir/nested', '--item', join(src, 'plain.txt')]);
    assert.deepEqual(readdirSync(out).sort(), ['dir', 'plain.txt']);
    assert.deepEqual(readdirSync(join(out, 'dir')), ['nested']);
    assert.deepEqual(readFileSync(join(out, 'dir/nested/deep/file.bin')), seededBytes('deep', 300_000));
    const missing = join(base, 'restore-missing');
    const args = ['restore', 'latest', missing, '--pool', pool, '--item', 'no/such/thing'];
    const r = await runCli(args);
    assert.equal(r.code, 4, describeCli(args, r));
    assert.match(r.stderr, new RegExp(`^custos: not in recovery point [0-9a-f]{32} \\([^)]+\\): no/such/thing; nothing was recovered \\(an item is a path inside ${src}, absolute or relative to it\\)\\n$`));
    // An absolute item outside the protected directory is misuse, refused before the pool is read for it.
    const outside = ['restore', 'latest', missing, '--pool', pool, '--item', '/etc/passwd'];
    const o = await runCli(outside);
    assert.equal(o.code, 2, describeCli(outside, o));
    assert.match(o.stderr, new RegExp(`^custos: --item /etc/passwd is not under the protected directory ${src}: give a path inside it`));
    assert.ok(!existsSync(missing));
  });

  test('conflict modes: overwrite, skip, keep-both', async () => {
    const out = join(base, 'restore-conflict');
    await cli(['restore', 'latest', out, '--pool', pool, '--item', 'plain.txt']);
    writeFileSync(join(out, 'plain.txt'), 'edited by the user');
    await cli(['restore', 'latest', out, '--pool', pool, '--item', 'plain.txt', '--conflict', 'skip']);
    assert.equal(readFileSync(join(out, 'plain.txt'), 'utf8'), 'edited by the user');
    await cli(['restore', 'latest', out, '--pool', pool, '--item', 'plain.txt', '--conflict', 'keep-both']);
    assert.equal(readFileSync(join(out, 'plain.txt'), 'utf8'), 'edited by the user');
    assert.equal(readFileSync(join(out, 'plain.txt.restored'), 'utf8'), 'hello\n');
    await cli(['restore', 'latest', out, '--pool', pool, '--item', 'plain.txt', '--conflict', 'overwrite']);
    assert.equal(readFileSync(join(out, 'plain.txt'), 'utf8'), 'hello\n');
    const args = ['restore', 'latest', out, '--pool', pool, '--conflict', 'merge'];
    const r = await runCli(args);
    assert.equal(r.code, 2, describeCli(args, r));
    assert.match(r.stderr, /Allowed choices are overwrite, skip, keep-both/);
  });

  test('a file that keeps changing while read is flagged', async () => {
    const dir = join(base, 'busy');
    mkdirSync(dir);
    writeFileSync(join(dir, 'growing.log'), seededBytes('busy', 30_000_000));
    const timer = setInterval(() => appendFileSync(join(dir, 'growing.log'), 'x'), 1);
    try {
      const r = await backup(dir, pool);
      assert.deepEqual(r.changedDuringRead, ['growing.log']);
      clearInterval(timer);
      // What was read restores consistently, even though the file grew after its last stat.
      const out = join(base, 'restore-busy');
      await cli(['restore', r.point, out, '--pool', pool]);
      const restored = readFileSync(join(out, 'growing.log'));
      assert.ok(restored.length >= 30_000_000);
      assert.deepEqual(restored.subarray(0, 30_000_000), seededBytes('busy', 30_000_000));
    } finally {
      clearInterval(timer);
    }
  });

  test('bad input: one clear line, a distinct exit status, nothing changed', async () => {
    const before = poolListing(pool);
    const cases: Array<[string[], number, RegExp]> = [
      [['backup', src], 2, /required option '--pool <dir>'/],
      [['backup', src, '--pool', pool, '--bogus'], 2, /unknown option '--bogus'/],
      [['backup', join(base, 'nope'), '--pool', pool], 4, /^custos: cannot read .*nope/],
      [['backup', join(src, 'plain.txt'), '--pool', pool], 2, /is not a directory/],
      [['backup', src, '--pool', join(base, 'no-pool')], 4, /^custos: no pool at /],
      [['points', '--pool', src], 4, /^custos: no pool at /],
      [['restore', 'ffff', join(base, 'x'), '--pool', pool], 4, /^custos: no recovery point ffff/],
      [['restore', 'not-an-id', join(base, 'x'), '--pool', pool], 2, /is not a recovery point id/],
      [['pool', 'init', pool], 9, /already a pool/],
      [['pool', 'init', join(base, 'p2'), '--encrypt'], 2, /--encrypt needs --key-file/],
      [['forget', '--pool', pool], 2, /name recovery points to forget/],
      [['forget', '--pool', pool, '--keep-within', 'soon'], 2, /--keep-within must be a duration/],
      [['pool', 'gc', pool, '--grace', 'later'], 2, /--grace must be a duration/],
    ];
    for (const [args, code, message] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, code, describeCli(args, r));
      assert.match(r.stderr, message, describeCli(args, r));
      assert.equal(r.stderr.trim().split('\n')[0]!.length > 0, true);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack traces for users');
    }
    assert.ok(!existsSync(join(base, 'x')));
    assert.deepEqual(poolListing(pool), before, 'a failed command changed the pool');
  });

  test('encrypted pools: wrong or missing key is refused', async () => {
    const epool = join(base, 'epool');
    const key = join(base, 'pool.key');
    await cli(['pool', 'init', epool, '--encrypt', '--key-file', key]);
    assert.equal(statSync(key).mode & 0o777, 0o600);
    await cli(['backup', join(src, 'dir'), '--pool', epool, '--key-file', key]);
    const before = poolListing(epool);
    const wrong = join(base, 'wrong.key');
    writeFileSync(wrong, 'not the key');
    for (const args of [
      ['backup', src, '--pool', epool, '--key-file', wrong],
      ['points', '--pool', epool],
      ['restore', 'latest', join(base, 'y'), '--pool', epool, '--key-file', wrong],
      ['pool', 'verify', epool, '--key-file', join(base, 'missing.key')],
    ]) {
      const r = await runCli(args);
      assert.equal(r.code, 5, describeCli(args, r));
      assert.match(r.stderr, /^custos: (wrong key|pool .* is encrypted: give its --key-file|key file .* does not exist)/);
    }
    assert.deepEqual(poolListing(epool), before);
    // Nothing of the plaintext is visible in the pool.
    for (const d of readdirSync(join(epool, 'packs'), { recursive: true, withFileTypes: true })) {
      if (d.isFile()) assert.ok(!readFileSync(join(d.parentPath ?? d.path, d.name)).includes('shared by two names'));
    }
  });

  test('a pool locked by another operation is refused with status 6', async () => {
    const lockFile = join(pool, 'locks', 'test-holder.lock');
    writeFileSync(lockFile, JSON.stringify({ kind: 'exclusive', operation: 'gc', host: (await import('node:os')).hostname(), pid: process.pid, time: new Date().toISOString() }));
    try {
      const before = poolListing(pool);
      const args = ['backup', src, '--pool', pool];
      const r = await runCli(args);
      assert.equal(r.code, 6, describeCli(args, r));
      assert.match(r.stderr, /^custos: pool is locked by gc \(pid \d+/);
      assert.deepEqual(poolListing(pool), before);
    } finally {
      execFileSync('rm', ['-f', lockFile]);
    }
    // A lock left by a process that no longer exists is stale and ignored.
    writeFileSync(lockFile, JSON.stringify({ kind: 'exclusive', operation: 'gc', host: (await import('node:os')).hostname(), pid: 2 ** 22 + 17, time: new Date().toISOString() }));
    await cli(['points', '--pool', pool]);
    await cli(['pool', 'stats', pool]);
    assert.ok(!existsSync(lockFile));
  });

  test('forget, gc and stats', async () => {
    const junk = join(base, 'junk');
    await writeTree(junk, { 'random.bin': { random: { size: 20_000_000, seed: 'junk' } } });
    const j = await backup(junk, pool);
    const statsArgs = ['pool', 'stats', pool, '--json'];
    const s1 = parseJsonOutput<{ points: number; storedBytes: number; dedupRatio: number }>(statsArgs, await cli(statsArgs));
    assert.ok(s1.points >= 4);
    assert.ok(s1.dedupRatio > 1.5, `dedup ratio ${s1.dedupRatio}`);
    const dry = parseJsonOutput<{ removed: unknown[] }>(['forget'], await cli(['forget', '--pool', pool, '--keep-last', '1', '--dry-run', '--json']));
    assert.ok(dry.removed.length >= 3);
    assert.equal(parseJsonOutput<unknown[]>(['points'], await cli(['points', '--pool', pool, '--json'])).length, s1.points);
    await cli(['forget', j.point.slice(0, 8), '--pool', pool]);
    await cli(['forget', '--pool', pool, '--keep-last', '1']);
    const points = parseJsonOutput<Array<{ id: string; source: string }>>(['points'], await cli(['points', '--pool', pool, '--json']));
    assert.equal(points.length, 2, 'one point kept per source (src and busy)');
    const gc = parseJsonOutput<{ bytesFreed: number }>(['gc'], await cli(['pool', 'gc', pool, '--grace', '0s', '--json']));
    assert.ok(gc.bytesFreed >= 20_000_000, `gc freed ${gc.bytesFreed} bytes`);
    const s2 = parseJsonOutput<{ storedBytes: number }>(statsArgs, await cli(statsArgs));
    assert.ok(s2.storedBytes <= s1.storedBytes - 20_000_000, `stored ${s1.storedBytes} → ${s2.storedBytes}`);
    const verify = parseJsonOutput<{ ok: boolean }>(['verify'], await cli(['pool', 'verify', pool, '--json']));
    assert.equal(verify.ok, true);
    const latestSrc = points.find((p) => p.source === src)!;
    const out = join(base, 'restore-after-gc');
    await cli(['restore', latestSrc.id, out, '--pool', pool]);
    assert.deepEqual(readFileSync(join(out, 'dir/nested/deep/file.bin')), seededBytes('deep', 300_000));
    assert.equal(statSync(join(out, 'dir/big.bin')).size, 9_000_014);
  });
});
