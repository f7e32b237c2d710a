/**
 * Standalone restore (issue 11 §2): a restore killed mid-way completes when
 * run again, rewriting only what it had not finished (files already
 * identical are counted, not rewritten; no temporary file is left); the
 * conflict default and keep-both never copy an identical file; --security
 * target leaves modes to the target; --throttle is refused when malformed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  cleanupTempDirs,
  describeCli,
  diffDigests,
  listFilesRecursive,
  makeTempDir,
  parseJsonOutput,
  runCli,
  startCli,
  treeDigest,
  writeTree,
  type TreeSpec,
} from '../helpers/tree.js';
import { waitFor } from '../helpers/server.js';

interface RestoreJson {
  files: number;
  identical: number;
  copies: number;
  skipped: number;
  skippedItems: string[];
  errors: Array<{ path: string; message: string }>;
}

const FILES = 240;

async function restore(args: string[]): Promise<RestoreJson> {
  const full = ['restore', ...args, '--json'];
  const r = await runCli(full);
  assert.equal(r.code, 0, describeCli(full, r));
  return parseJsonOutput<RestoreJson>(full, r);
}

function leftovers(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      if (d.name.startsWith('.custos-tmp-')) found.push(join(dir, d.name));
      if (d.isDirectory()) walk(join(dir, d.name));
    }
  };
  walk(root);
  return found;
}

describe('standalone restore: resume, conflicts, security, throttle', () => {
  let base: string;
  let src: string;
  let pool: string;

  before(async () => {
    base = (await makeTempDir('custos-e2e-resume-')).path;
    src = join(base, 'src');
    pool = join(base, 'pool');
    const spec: Array<[string, { random: { size: number; seed: string } }]> = [];
    for (let i = 0; i < FILES; i++) spec.push([`d${i % 8}/f${i}.bin`, { random: { size: 20_000 + i, seed: `f${i}` } }]);
    await writeTree(src, spec as TreeSpec);
    chmodSync(join(src, 'd1/f1.bin'), 0o640);
    let r = await runCli(['pool', 'init', pool]);
    assert.equal(r.code, 0, describeCli(['pool', 'init'], r));
    r = await runCli(['backup', src, '--pool', pool]);
    assert.equal(r.code, 0, describeCli(['backup'], r));
  });
  after(cleanupTempDirs);

  test('a restore killed mid-way (SIGKILL) completes when run again; identical files are not rewritten', async () => {
    const out = join(base, 'killed');
    // 5 MiB at 512 KiB/s: about ten seconds, so the kill lands mid-way whatever the machine's speed.
    const child = startCli(['restore', 'latest', out, '--pool', pool, '--throttle', '512KiB/s']);
    const written = await waitFor('some files restored', async () => {
      const n = existsSync(out) ? (await listFilesRecursive(out)).filter((f) => !f.path.includes('.custos-tmp-')).length : 0;
      return n >= 40 ? n : undefined;
    }, 60_000, 50);
    child.child.kill('SIGKILL');
    const killed = await child.done;
    assert.equal(killed.signal, 'SIGKILL', 'the restore had finished before the kill');
    assert.ok(written < FILES);
    // Files in directories the restore made are written under their own names, so a listing also sees
    // those being written at the kill: complete are those with the source's size and time (set last).
    const complete = (await listFilesRecursive(out)).filter((f) => {
      if (f.path.includes('.custos-tmp-')) return false;
      const a = statSync(f.path);
      const b = statSync(join(src, relative(out, f.path)));
      return a.size === b.size && a.mtimeMs === b.mtimeMs;
    }).length;
    assert.ok(complete >= 20 && complete < FILES, `${complete} files complete at the kill`);

    const again = await restore(['latest', out, '--pool', pool]);
    assert.deepEqual(again.errors, []);
    assert.equal(again.files + again.identical, FILES, JSON.stringify(again));
    assert.ok(again.identical >= complete, `the ${complete} files complete before the kill are not rewritten: ${JSON.stringify(again)}`);
    assert.ok(again.files <= FILES - complete);
    assert.deepEqual(leftovers(out), []);
    assert.deepEqual(diffDigests(await treeDigest(src), await treeDigest(out)), []);

    // And once more: nothing to write at all.
    const third = await restore(['latest', out, '--pool', pool]);
    assert.equal(third.files, 0);
    assert.equal(third.identical, FILES);
  });

  test('keep-both makes no copy of an identical file, and one of a different file, named NAME.restored', async () => {
    const out = join(base, 'keep-both');
    await restore(['latest', out, '--pool', pool, '--item', 'd0']);
    writeFileSync(join(out, 'd0/f0.bin'), 'edited');
    const r = await restore(['latest', out, '--pool', pool, '--item', 'd0', '--conflict', 'keep-both']);
    assert.equal(r.files, 1);
    assert.equal(r.copies, 1);
    assert.equal(r.identical, FILES / 8 - 1);
    assert.equal(readFileSync(join(out, 'd0/f0.bin'), 'utf8'), 'edited');
    assert.deepEqual(readFileSync(join(out, 'd0/f0.bin.restored')), readFileSync(join(src, 'd0/f0.bin')));
    assert.deepEqual(readdirSync(join(out, 'd0')).filter((n) => n.includes('.restored')), ['f0.bin.restored']);
    // skip: the edited file is named as not restored; the default (overwrite) puts the point's back.
    const s = await restore(['latest', out, '--pool', pool, '--item', 'd0/f0.bin', '--conflict', 'skip']);
    assert.deepEqual(s.skippedItems, ['d0/f0.bin']);
    const o = await restore(['latest', out, '--pool', pool, '--item', 'd0/f0.bin']);
    assert.equal(o.files, 1);
    assert.deepEqual(readFileSync(join(out, 'd0/f0.bin')), readFileSync(join(src, 'd0/f0.bin')));
  });

  test('--security target: new files get the target\'s mode (umask), existing ones keep theirs', async () => {
    const out = join(base, 'security');
    await restore(['latest', out, '--pool', pool, '--item', 'd1/f1.bin', '--security', 'target']);
    assert.equal(statSync(join(out, 'd1/f1.bin')).mode & 0o777, 0o666 & ~process.umask());
    const p = await restore(['latest', join(base, 'security-point'), '--pool', pool, '--item', 'd1/f1.bin']);
    assert.equal(p.files, 1);
    assert.equal(statSync(join(base, 'security-point', 'd1/f1.bin')).mode & 0o777, 0o640);
    writeFileSync(join(out, 'd1/f1.bin'), 'different');
    chmodSync(join(out, 'd1/f1.bin'), 0o604);
    await restore(['latest', out, '--pool', pool, '--item', 'd1/f1.bin', '--security', 'target']);
    assert.deepEqual(readFileSync(join(out, 'd1/f1.bin')), readFileSync(join(src, 'd1/f1.bin')));
    assert.equal(statSync(join(out, 'd1/f1.bin')).mode & 0o777, 0o604);
  });

  test('a malformed --throttle or --security is refused before anything is written', async () => {
    for (const [bad, message] of [
      [['--throttle', 'fast'], /throttle rate "fast" is not a rate/],
      [['--throttle', '5MiB/s@mon-fri'], /time range such as 08:00-18:00/],
      [['--security', 'mine'], /Allowed choices are point, target/],
    ] as const) {
      const target = join(base, 'never');
      const args = ['restore', 'latest', target, '--pool', pool, ...bad];
      const r = await runCli(args);
      assert.equal(r.code, 2, describeCli(args, r));
      assert.match(r.stderr, message);
      assert.ok(!existsSync(target));
    }
  });
});
