/**
 * Crash safety: a backup killed with SIGKILL at any instant must leave the
 * pool consistent. After every kill the pool verifies clean (leftover packs
 * no index names are allowed: they are not damage), the first recovery point
 * still restores bit for bit, and a backup that got far enough to save its
 * point restores exactly the source as it was. At the end gc removes the
 * leftovers and every point still verifies and restores.
 *
 * Reproducible: the source tree, the edits and the kill instants come from a
 * seeded PRNG (CRASH_SEED overrides the seed); only the real timing of the
 * child process varies from run to run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import {
  Rng,
  describeCli,
  diffDigests,
  makeTempDir,
  memoryTmpBase,
  parseJsonOutput,
  runCli,
  seededBytes,
  seededText,
  setMtimeMsSync,
  startCli,
  treeDigest,
  writeTree,
  type CliResult,
  type EntrySpec,
} from '../helpers/tree.js';
import type { VerifyReport } from '../../src/pool/index.js';

const SEED = process.env['CRASH_SEED'] ?? 'custos-crash-1';
/** Kills at random instants (targeted kills come on top). */
const KILLS = 20;
const SMALL_FILES = 2000;
const DIRS = 25;
const BIG_SIZES_MB = [2, 3, 4, 5, 6, 8];
const MiB = 1024 * 1024;
/**
 * Pack size of the test pool. With 1 MiB packs a backup writes packs while it
 * runs and an index object only every 16 packs or at the end, so kills often
 * land between durable packs and their index — the state the write order
 * (pack → index → point) exists to make safe. The default 16 MiB would write
 * the one pack of an incremental backup just before its index.
 */
const PACK_SIZE = 1 * MiB;

/** What `pool verify --json` prints. */
type VerifyJson = VerifyReport;
interface PointJson {
  id: string;
}
interface RestoreJson {
  damaged: boolean;
  errors: Array<{ path: string; message: string }>;
}
interface BackupJson {
  point: string;
  partial: boolean;
  filesNew: number;
  filesChanged: number;
  filesUnchanged: number;
}

/** Names of the files under a pool subdirectory (one level of fan-out). */
function poolObjects(pool: string, sub: 'packs' | 'index' | 'points'): string[] {
  const dir = join(pool, sub);
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    if (d.isDirectory()) for (const f of readdirSync(join(dir, d.name))) out.push(f);
    else out.push(d.name);
  }
  return out;
}

/** Overwrites `data.length` bytes of a file at `offset`, keeping its size. */
function patchFile(path: string, data: Buffer, offset: number): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, data, 0, data.length, offset);
  } finally {
    closeSync(fd);
  }
}

test('SIGKILL at random instants during backup never damages the pool or earlier points', { timeout: 600_000 }, async (t) => {
  const started = performance.now();
  const rng = new Rng(SEED);
  const work = await makeTempDir('custos-crash-');
  t.after(() => work.cleanup());
  // Restores go to memory when possible: creating 2000 files on a disk file system can take
  // seconds, 21+ times over. The pool and the source stay on disk.
  const scratch = await makeTempDir('custos-crash-restore-', { base: memoryTmpBase() });
  t.after(() => scratch.cleanup());
  const src = join(work.path, 'src');
  const pool = join(work.path, 'pool');
  const key = join(work.path, 'pool.key');
  const auth = ['--key-file', key];
  let clock = Date.UTC(2024, 0, 2, 3, 4, 5, 678); // whole-millisecond mtimes (see treeDigest)
  const nextMtime = () => (clock += 1001);

  // Verify and restore run in parallel here (allowed by the lock table, and it halves the
  // runtime); that once crashed list() when another command removed its lock file between
  // readdir and stat (regression: no retry, any failure counts).
  const cli = (args: string[]): Promise<CliResult> => runCli(args);
  const check = async (args: string[], expectCode = 0): Promise<CliResult> => {
    const r = await cli(args);
    assert.equal(r.code, expectCode, describeCli(args, r));
    return r;
  };

  // --- The source tree: 2000 small files (text and random), six 2–8 MB random files, odd items; ~43 MB.
  const spec: Array<[string | Buffer, EntrySpec]> = [];
  const smallFiles: string[] = [];
  for (let i = 0; i < SMALL_FILES; i++) {
    const rel = `d${String(i % DIRS).padStart(2, '0')}/s${String(i).padStart(4, '0')}.${i % 3 === 0 ? 'bin' : 'txt'}`;
    const size = rng.int(8) === 0 ? rng.range(16 * 1024, 64 * 1024) : rng.int(4096);
    const content = i % 3 === 0 ? seededBytes(`${SEED}/${rel}`, size) : seededText(`${SEED}/${rel}`, size);
    spec.push([rel, { content, mtimeMs: nextMtime() }]);
    smallFiles.push(rel);
  }
  const bigFiles = BIG_SIZES_MB.map((mb, i) => {
    const rel = `big/b${i}.bin`;
    spec.push([rel, { random: { size: mb * MiB, seed: `${SEED}/${rel}` }, mtimeMs: nextMtime() }]);
    return rel;
  });
  spec.push(['odd/empty', { content: '', mtimeMs: nextMtime() }]);
  spec.push(['odd/private', { content: 'secret\n', mode: 0o600, mtimeMs: nextMtime() }]);
  spec.push(['odd/script.sh', { content: '#!/bin/sh\necho hi\n', mode: 0o755, mtimeMs: nextMtime() }]);
  spec.push([Buffer.concat([Buffer.from('odd/l'), Buffer.from([0xe4, 0xff]), Buffer.from('.txt')]), { content: 'not UTF-8\n', mtimeMs: nextMtime() }]);
  spec.push(['odd/link', { type: 'symlink', target: '../d00/s0000.bin' }]);
  spec.push(['odd/hard', { type: 'hardlink', target: 'd01/s0001.txt' }]);
  spec.push(['odd/sub', { type: 'dir', mode: 0o750 }]);
  await writeTree(src, spec, { mtimeMs: nextMtime() });
  const live = new Set(smallFiles);

  await check(['pool', 'init', pool, '--encrypt', ...auth]);
  const configPath = join(pool, 'config');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as { packSize: number };
  assert.equal(typeof config.packSize, 'number');
  writeFileSync(configPath, JSON.stringify({ ...config, packSize: PACK_SIZE }, null, 2) + '\n');

  // --- Point A: the first, full backup.
  const backupArgs = ['backup', src, '--pool', pool, ...auth, '--json'];
  const rA = await check(backupArgs);
  const a = parseJsonOutput<BackupJson>(backupArgs, rA);
  assert.equal(a.partial, false);
  // 2000 small + 6 big + empty, private, script.sh, the non-UTF-8 name (odd/hard is a hard link to d01/s0001.txt).
  assert.equal(a.filesNew, SMALL_FILES + BIG_SIZES_MB.length + 4);
  assert.ok(poolObjects(pool, 'packs').length >= 10, 'small packs: the first backup wrote many');
  const digestA = await treeDigest(src);
  assert.ok(digestA.size > SMALL_FILES, 'the digest covers the tree');
  const expected = new Map<string, Map<string, string>>([[a.point, digestA]]);

  let restoreN = 0;
  const restoreAndCompare = async (point: string, want: Map<string, string>, label: string): Promise<void> => {
    const target = join(scratch.path, `restore-${restoreN++}`);
    const args = ['restore', point, target, '--pool', pool, ...auth, '--json'];
    const r = await cli(args);
    assert.equal(r.code, 0, `${label}: ${describeCli(args, r)}`);
    const rep = parseJsonOutput<RestoreJson>(args, r);
    assert.equal(rep.damaged, false, label);
    assert.deepEqual(rep.errors, [], label);
    const diff = diffDigests(want, await treeDigest(target));
    assert.deepEqual(diff, [], `${label}: restore of point ${point} differs from the source:\n${diff.join('\n')}`);
    rmSync(target, { recursive: true, force: true });
  };
  const verifyArgs = ['pool', 'verify', pool, ...auth, '--json'];
  const pointsArgs = ['points', '--pool', pool, ...auth, '--json'];

  // --- Edits between backups: rewrite, add and delete small files; rewrite one big file, sometimes patch another.
  let editN = 0;
  const edit = (): void => {
    const n = editN++;
    for (const rel of rng.sample([...live], 10)) {
      writeFileSync(join(src, rel), seededText(`${SEED}/edit${n}/${rel}`, rng.int(6000)));
      setMtimeMsSync(join(src, rel), nextMtime());
    }
    for (let k = 0; k < 3; k++) {
      const rel = `d${String(rng.int(DIRS)).padStart(2, '0')}/n${n}-${k}.bin`;
      writeFileSync(join(src, rel), seededBytes(`${SEED}/edit${n}/${rel}`, rng.int(20000)));
      setMtimeMsSync(join(src, rel), nextMtime());
      live.add(rel);
    }
    for (const rel of rng.sample([...live], 2)) {
      unlinkSync(join(src, rel));
      live.delete(rel);
    }
    const [rewrite, patch] = rng.sample(bigFiles, 2).map((rel) => join(src, rel));
    writeFileSync(rewrite!, seededBytes(`${SEED}/edit${n}/big`, rng.range(2, 5) * MiB));
    setMtimeMsSync(rewrite!, nextMtime());
    if (n % 2 === 1) {
      patchFile(patch!, seededBytes(`${SEED}/edit${n}/patch`, 128 * 1024), rng.int(MiB));
      setMtimeMsSync(patch!, nextMtime());
    }
  };

  // --- Calibrate: how long does a normal (incremental) backup take, spawn to exit?
  edit();
  const calib = await check(backupArgs);
  const b = parseJsonOutput<BackupJson>(backupArgs, calib);
  assert.equal(b.partial, false);
  assert.ok(b.filesChanged >= 10 && b.filesUnchanged > SMALL_FILES / 2, `an incremental backup: ${calib.stdout}`);
  expected.set(b.point, await treeDigest(src));
  const normalMs = calib.durationMs;
  t.diagnostic(`full backup ${rA.durationMs.toFixed(0)} ms, normal incremental backup ${normalMs.toFixed(0)} ms`);

  const known = new Set<string>([a.point, b.point]);
  const stats = { killedMidway: 0, completed: 0, leftUnindexed: 0, unindexed: 0 };
  const phase = { backup: 0, checks: 0 };

  /**
   * One crash: edit the source, start a backup, kill it when `killWhen` says
   * so (or let it finish), then check the pool, point A, and the backup's own
   * point if it saved one.
   */
  const crashOnce = async (label: string, killWhen: (kill: () => void) => () => void): Promise<{ saved: boolean; newUnindexed: number }> => {
    edit();
    const child = startCli(backupArgs);
    const stop = killWhen(() => child.child.kill('SIGKILL'));
    const res = await child.done;
    stop();
    phase.backup += res.durationMs;
    if (res.signal === null) {
      assert.equal(res.code, 0, `${label}: the backup ended by itself but failed: ${describeCli(backupArgs, res)}`);
    } else {
      assert.equal(res.signal, 'SIGKILL', label);
    }

    const t0 = performance.now();
    const [rv] = await Promise.all([cli(verifyArgs), restoreAndCompare(a.point, digestA, `${label}: point A`)]);
    phase.checks += performance.now() - t0;
    assert.equal(rv.code, 0, `${label}: ${describeCli(verifyArgs, rv)}`);
    const v = parseJsonOutput<VerifyJson>(verifyArgs, rv);
    assert.equal(v.ok, true, `${label}: ${rv.stdout}`);
    assert.deepEqual(v.damagedChunks, [], label);
    assert.deepEqual(v.damagedObjects, [], label);
    assert.deepEqual(v.affectedPoints, [], label);
    assert.ok(v.points === known.size || v.points === known.size + 1, `${label}: ${v.points} points, expected ${known.size} or one more`);
    // Leftover packs stay until gc: the count only grows, by what this backup left.
    assert.ok(v.unindexedPacks >= stats.unindexed, `${label}: unindexed packs went from ${stats.unindexed} to ${v.unindexedPacks}`);
    const newUnindexed = v.unindexedPacks - stats.unindexed;
    stats.unindexed = v.unindexedPacks;

    const saved = v.points === known.size + 1;
    assert.ok(saved || res.signal !== null, `${label}: the backup finished but verify sees no new point`);
    if (!saved) {
      stats.killedMidway++;
      if (newUnindexed > 0) stats.leftUnindexed++;
      return { saved, newUnindexed };
    }
    const ids = parseJsonOutput<PointJson[]>(pointsArgs, await check(pointsArgs)).map((p) => p.id);
    for (const id of known) assert.ok(ids.includes(id), `${label}: point ${id} disappeared`);
    const fresh = ids.filter((id) => !known.has(id));
    assert.equal(fresh.length, 1, `${label}: expected exactly one new point, got ${fresh.join(', ')}`);
    const id = fresh[0]!;
    if (res.signal === null) assert.equal(parseJsonOutput<BackupJson>(backupArgs, res).point, id, label);
    // The source has not changed since this backup read it; the point is restored at the end.
    expected.set(id, await treeDigest(src));
    known.add(id);
    stats.completed++;
    return { saved, newUnindexed };
  };

  // --- Random kills: instants stratified over [5 ms, normal backup duration], in seeded random
  // order. Backups vary in length, so the latest kills sometimes come after the point was saved.
  const lo = 5;
  const hi = normalMs;
  const instants = rng.sample(
    Array.from({ length: KILLS }, (_, i) => lo + ((hi - lo) * (i + rng.float())) / KILLS),
    KILLS,
  );
  for (const [i, at] of instants.entries()) {
    await crashOnce(`kill #${i} at ${at.toFixed(0)} ms`, (kill) => {
      const timer = setTimeout(kill, at);
      return () => clearTimeout(timer);
    });
  }

  const randomMidway = stats.killedMidway;

  // --- Targeted kills, polling the pool, so the two in-between states are surely reached:
  // (1) as soon as a new pack file appears: a durable pack no index names yet;
  // (2) as soon as a new index object appears: indexed chunks no point references (the final
  //     backup below may reuse some of them, and gc must then keep them for it).
  // Polling may be late under load, so up to three attempts each.
  const killAtNew = (sub: 'packs' | 'index') => (kill: () => void) => {
    const before = new Set(poolObjects(pool, sub));
    const timer = setInterval(() => {
      if (poolObjects(pool, sub).some((p) => !before.has(p))) kill();
    }, 2);
    return () => clearInterval(timer);
  };
  let targetedUnindexed = false;
  for (let attempt = 0; attempt < 3 && !targetedUnindexed; attempt++) {
    const r = await crashOnce(`targeted kill #${attempt} at the first new pack`, killAtNew('packs'));
    targetedUnindexed = !r.saved && r.newUnindexed > 0;
  }
  let targetedIndexed = false;
  for (let attempt = 0; attempt < 3 && !targetedIndexed; attempt++) {
    const indexBefore = poolObjects(pool, 'index').length;
    const r = await crashOnce(`targeted kill #${attempt} at the first new index object`, killAtNew('index'));
    targetedIndexed = !r.saved && poolObjects(pool, 'index').length > indexBefore;
  }
  t.diagnostic(
    `random kills: ${randomMidway} of ${KILLS} before the point was saved; all kills: ${stats.killedMidway} before the point was saved (${stats.leftUnindexed} of them left unindexed packs, ${stats.unindexed} in all), ` +
      `${stats.completed} after; ms in backups ${phase.backup.toFixed(0)}, ` +
      `verify + restore A ${phase.checks.toFixed(0)}`,
  );
  assert.ok(randomMidway >= KILLS / 2, `only ${randomMidway} of ${KILLS} random kills interrupted a backup`);
  assert.ok(targetedUnindexed, 'a kill right after a pack was written should leave a pack no index names');
  assert.ok(targetedIndexed, 'a kill right after an index object was written should leave it without a point');

  // --- After all the crashes a backup still works and restores exactly.
  edit();
  const f = parseJsonOutput<BackupJson>(backupArgs, await check(backupArgs));
  assert.equal(f.partial, false);
  expected.set(f.point, await treeDigest(src));
  known.add(f.point);

  // --- gc with no grace removes every leftover; the pool is still healthy.
  const vBefore = parseJsonOutput<VerifyJson>(verifyArgs, await check(verifyArgs));
  assert.equal(vBefore.ok, true);
  const unindexedBeforeGc = vBefore.unindexedPacks;
  assert.ok(unindexedBeforeGc >= 1, 'the interrupted backups left packs for gc to remove');
  const gcArgs = ['pool', 'gc', pool, ...auth, '--grace', '0s', '--json'];
  const rg = await check(gcArgs);
  const g = parseJsonOutput<{ leftoversDeleted: number; points: number }>(gcArgs, rg);
  assert.equal(g.points, known.size, rg.stdout);
  assert.ok(g.leftoversDeleted >= unindexedBeforeGc, `gc removed ${g.leftoversDeleted} leftovers, verify saw ${unindexedBeforeGc} unindexed packs`);
  const v = parseJsonOutput<VerifyJson>(verifyArgs, await check(verifyArgs));
  assert.equal(v.ok, true);
  assert.deepEqual(v.damagedChunks, []);
  assert.equal(v.unindexedPacks, 0, 'gc --grace 0s leaves no unindexed packs');
  assert.equal(v.points, known.size);
  assert.deepEqual(readdirSync(join(pool, 'tmp')), [], 'gc --grace 0s empties tmp/');

  // --- Every point restores to exactly what it protected; A first.
  const listed = parseJsonOutput<PointJson[]>(pointsArgs, await check(pointsArgs)).map((p) => p.id);
  assert.deepEqual([...listed].sort(), [...known].sort());
  // Two at a time: a restore has long single-threaded stretches (start-up, key derivation).
  const queue = [a.point, ...listed.filter((id) => id !== a.point)];
  await Promise.all(
    [0, 1].map(async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        await restoreAndCompare(id, expected.get(id)!, `after gc: point ${id === a.point ? 'A' : id}`);
      }
    }),
  );
  t.diagnostic(`${listed.length} points restored after gc; total ${((performance.now() - started) / 1000).toFixed(1)} s`);
});
