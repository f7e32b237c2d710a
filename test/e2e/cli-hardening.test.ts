/**
 * The standalone CLI's smaller findings of issue 8: a closed stdout pipe ends
 * a command quietly; misuse and an unreadable pool give one clear line and a
 * distinct status; a key file given for an unencrypted pool is refused; two
 * backups of one source never run at once; --retry-lock waits for a lock.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import {
  CLI_PATH,
  REPO_ROOT,
  cleanupTempDirs,
  describeCli,
  makeTempDir,
  parseJsonOutput,
  runCli,
  startCli,
  writeTree,
  type CliResult,
  poolListing,
} from '../helpers/tree.js';
import { waitFor } from '../helpers/server.js';


/** Plants a lock file held by this (living) test process, as another operation would hold it. */
function plantLock(pool: string, record: Record<string, unknown>): string {
  const file = join(pool, 'locks', `planted-${Math.random().toString(16).slice(2)}.lock`);
  writeFileSync(file, JSON.stringify({ host: hostname(), pid: process.pid, time: new Date().toISOString(), ...record }));
  return file;
}

async function cli(args: string[]): Promise<CliResult> {
  const r = await runCli(args);
  assert.equal(r.code, 0, describeCli(args, r));
  return r;
}

describe('standalone CLI hardening', () => {
  let base: string;
  let src: string;
  let pool: string;

  before(async () => {
    base = (await makeTempDir('custos-hardening-')).path;
    src = join(base, 'src');
    pool = join(base, 'pool');
    await writeTree(src, { 'a.txt': 'a', 'dir/b.txt': 'b' });
    await cli(['pool', 'init', pool]);
    await cli(['backup', src, '--pool', pool]);
    await cli(['backup', src, '--pool', pool]);
  });
  after(cleanupTempDirs);

  test('a reader that closes the pipe early ends the command quietly with status 0', () => {
    for (const args of [['points', '--pool', pool], ['points', '--pool', pool, '--json'], ['--help']]) {
      // `true` exits without reading, so every write of the command meets a closed pipe.
      const line = `"${process.execPath}" "${CLI_PATH}" ${args.map((a) => `'${a}'`).join(' ')} | true; echo "status=\${PIPESTATUS[0]}"`;
      const r = spawnSync('bash', ['-c', line], { cwd: REPO_ROOT, encoding: 'utf8' });
      assert.equal(r.stdout.trim(), 'status=0', `${line}\nstderr: ${r.stderr}`);
      assert.equal(r.stderr, '', `no stack trace, no message: ${r.stderr}`);
    }
  });

  test('restore onto a file, or below one, is refused (bad-target, status 16) in one line before anything is read or written', async () => {
    const file = join(src, 'a.txt');
    for (const [target, message] of [
      [file, /^custos: recovery target .*a\.txt is not a directory: give a directory, or a path that does not exist yet\n$/],
      [join(file, 'below', 'deeper'), /^custos: recovery target .*a\.txt\/below\/deeper lies below .*a\.txt, which is not a directory/],
    ] as const) {
      const args = ['restore', 'latest', target, '--pool', pool];
      const r = await runCli(args);
      assert.equal(r.code, 16, describeCli(args, r));
      assert.match(r.stderr, message, describeCli(args, r));
    }
  });

  test('a pool the user may not read: one line naming the file, status 12 (denied)', (t) => {
    // As root every file is readable, so the command runs as nobody; as anyone else the pool is made unreadable.
    const asRoot = process.getuid?.() === 0;
    if (asRoot && spawnSync('setpriv', ['--version']).status !== 0) return t.skip('running as root without setpriv');
    const args = ['points', '--pool', pool];
    const argv = asRoot
      ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI_PATH, ...args]
      : [process.execPath, CLI_PATH, ...args];
    if (!asRoot) chmodSync(pool, 0o000);
    let r;
    try {
      r = spawnSync(argv[0]!, argv.slice(1), { cwd: REPO_ROOT, encoding: 'utf8' });
    } finally {
      if (!asRoot) chmodSync(pool, 0o755);
    }
    const what = `${argv.join(' ')} → ${r.status}\n${r.stderr}`;
    assert.equal(r.status, 12, what);
    assert.match(r.stderr, /^custos: permission denied: cannot open .*config \(run as a user who may/, what);
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, what);
  });

  test('--key-file on a pool that is not encrypted is refused by every command, with nothing changed', async () => {
    const key = join(base, 'some.key');
    writeFileSync(key, 'a secret the user believes protects the pool');
    const before = poolListing(pool);
    for (const args of [
      ['backup', src, '--pool', pool],
      ['points', '--pool', pool],
      ['restore', 'latest', join(base, 'never'), '--pool', pool],
      ['forget', '--pool', pool, '--keep-last', '1'],
      ['pool', 'verify', pool],
      ['pool', 'gc', pool, '--grace', '0s'],
      ['pool', 'stats', pool],
    ]) {
      const withKey = [...args, '--key-file', key];
      const r = await runCli(withKey);
      assert.equal(r.code, 2, describeCli(withKey, r));
      assert.match(r.stderr, /^custos: pool .* is not encrypted: --key-file is only for encrypted pools \(leave it out\)\n$/, describeCli(withKey, r));
    }
    assert.deepEqual(poolListing(pool), before, 'a refused command changed the pool');
    assert.deepEqual(readdirSync(join(pool, 'locks')), [], 'no lock left behind');
  });

  test('a backup of a data source another backup is working on is refused (status 6); other sources go ahead', async () => {
    const other = join(base, 'other');
    await writeTree(other, { 'c.txt': 'c' });
    const planted = plantLock(pool, { kind: 'shared', operation: 'backup', source: `${hostname()}:${src}` });
    try {
      const before = poolListing(pool);
      const args = ['backup', src, '--pool', pool];
      const r = await runCli(args);
      assert.equal(r.code, 6, describeCli(args, r));
      assert.match(r.stderr, new RegExp(`^custos: a backup of ${hostname()}:${src} is already running \\(pid ${process.pid} on `), describeCli(args, r));
      assert.deepEqual(poolListing(pool), before);
      await cli(['backup', other, '--pool', pool]);
      await cli(['restore', 'latest', join(base, 'restored-while-backing-up'), '--pool', pool]);
    } finally {
      rmSync(planted);
    }
  });

  test('two backups of one source waiting together run one after the other and store its data once', async () => {
    const big = join(base, 'big');
    await writeTree(big, { 'random.bin': { random: { size: 24_000_000, seed: 'twice' } } });
    // Both start while a third backup of the source holds it, so both are sure to be waiting at once.
    const holder = plantLock(pool, { kind: 'shared', operation: 'backup', source: `${hostname()}:${big}` });
    const args = ['backup', big, '--pool', pool, '--json', '--retry-lock', '5m'];
    const runs = [startCli(args), startCli(args)];
    const stderr = ['', ''];
    runs.forEach((run, i) => run.child.stderr!.on('data', (b: Buffer) => (stderr[i] += b.toString('utf8'))));
    try {
      await waitFor('both backups to wait', async () => stderr.every((e) => e.includes('waiting up to 5m for the lock: a backup of')), 30_000, 50);
    } finally {
      rmSync(holder);
    }
    const [a, b] = await Promise.all(runs.map((r) => r.done));
    const added = [a!, b!].map((r) => parseJsonOutput<{ bytesAdded: number }>(args, r).bytesAdded).sort((x, y) => x - y);
    assert.ok(added[0]! < 100_000, `the second backup found the first one's data: added ${added.join(' and ')} bytes`);
    assert.ok(added[1]! >= 24_000_000, `added ${added.join(' and ')} bytes`);
    const verifyArgs = ['pool', 'verify', pool, '--json'];
    const v = parseJsonOutput<{ ok: boolean; unindexedPacks: number }>(verifyArgs, await cli(verifyArgs));
    assert.equal(v.ok, true);
    assert.equal(v.unindexedPacks, 0, 'no packs stored twice');
  });

  test('--retry-lock: a backup that meets gc waits, says so once, and runs when gc has finished', async () => {
    const bad = ['backup', src, '--pool', pool, '--retry-lock', 'a while'];
    const refused = await runCli(bad);
    assert.equal(refused.code, 2, describeCli(bad, refused));
    assert.match(refused.stderr, /^custos: --retry-lock must be a duration like 30s, 5m or 1h \(got "a while"\)/);

    const gc = plantLock(pool, { kind: 'exclusive', operation: 'gc' });
    const args = ['backup', src, '--pool', pool, '--retry-lock', '10m'];
    const started = startCli(args);
    let stderr = '';
    started.child.stderr!.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    try {
      await waitFor('the backup to say it waits', async () => stderr.includes('waiting'), 30_000, 50);
    } finally {
      rmSync(gc);
    }
    const r = await started.done;
    assert.equal(r.code, 0, describeCli(args, r));
    assert.equal(r.stderr.match(/waiting/g)?.length, 1, r.stderr);
    assert.match(r.stderr, /^custos: waiting up to 10m for the lock: pool is locked by gc \(pid \d+ on /);
    assert.match(r.stdout, /^recovery point [0-9a-f]{32} created/);

    const held = plantLock(pool, { kind: 'exclusive', operation: 'gc' });
    try {
      for (const [cmd, code] of [[['backup', src, '--pool', pool], 6], [['pool', 'stats', pool], 6]] as const) {
        const again = [...cmd, '--retry-lock', '1s'];
        const gaveUp = await runCli(again);
        assert.equal(gaveUp.code, code, describeCli(again, gaveUp));
        assert.match(gaveUp.stderr, /^custos: waiting up to 1s for the lock: pool is locked by gc .*\ncustos: pool is locked by gc .*\(gave up after waiting 1 s\)\n$/, describeCli(again, gaveUp));
      }
    } finally {
      rmSync(held);
    }
  });
});
