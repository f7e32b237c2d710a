/**
 * Damage to pool files must be found and reported, never restored silently:
 * a flipped byte in a pack (unencrypted and encrypted pools), a truncated
 * pack, a deleted index object. An independent recovery point whose data
 * lives elsewhere keeps restoring exactly.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readSync, readdirSync, rmSync, truncateSync, unlinkSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  cleanupTempDirs,
  describeCli,
  diffDigests,
  digestKey,
  listFilesRecursive,
  makeTempDir,
  parseJsonOutput,
  runCli,
  seededBytes,
  seededText,
  treeDigest,
  writeTree,
  type CliResult,
  type EntrySpec,
  type TreeSpec,
} from '../helpers/tree.js';
import type { VerifyReport } from '../../src/pool/index.js';

const MiB = 1024 * 1024;

/** What `pool verify --json` prints. */
type VerifyJson = VerifyReport;
interface RestoreJson {
  files: number;
  damaged: boolean;
  errors: Array<{ path: string; message: string }>;
}

after(() => cleanupTempDirs());

/** A source tree: some text and random small files and one big random file, all from `seed`. */
function sourceSpec(seed: string, bigMiB: number): TreeSpec {
  const spec: Record<string, EntrySpec> = {};
  for (let i = 0; i < 12; i++) spec[`docs/note-${i}.txt`] = seededText(`${seed}/note${i}`, 500 + i * 300);
  for (let i = 0; i < 6; i++) spec[`bin/blob-${i}.dat`] = seededBytes(`${seed}/blob${i}`, 10_000 + i * 7_000);
  spec['big.bin'] = { random: { size: bigMiB * MiB, seed: `${seed}/big` } };
  return spec;
}

/** stderr must be lines that each start with "custos:", with no stack trace. */
function assertCleanStderr(args: string[], r: CliResult): string[] {
  const lines = r.stderr.split('\n').filter((l) => l.length > 0);
  assert.ok(lines.length > 0, `expected an error on stderr: ${describeCli(args, r)}`);
  for (const l of lines) assert.match(l, /^custos: /, `every stderr line starts with "custos:": ${describeCli(args, r)}`);
  assert.doesNotMatch(r.stderr, /^\s+at .+[:(]/m, `no stack trace: ${describeCli(args, r)}`);
  assert.doesNotMatch(r.stderr, /internal error/, `not an internal error: ${describeCli(args, r)}`);
  return lines;
}

interface Fixture {
  pool: string;
  auth: string[];
  srcA: string;
  srcB: string;
  pointA: string;
  pointB: string;
  /** Pack file paths written by each backup. */
  packsA: Array<{ path: string; size: number }>;
  packsB: Array<{ path: string; size: number }>;
  indexA: string[];
  indexB: string[];
  digestA: Map<string, string>;
  digestB: Map<string, string>;
  scratch: string;
}

/** A pool with two points of two different sources, A then B, recording which packs and index objects each wrote. */
async function twoPointPool(name: string, encrypted: boolean): Promise<Fixture> {
  const dir = (await makeTempDir(`custos-corrupt-${name}-`)).path;
  const pool = join(dir, 'pool');
  const auth = encrypted ? ['--key-file', join(dir, 'pool.key')] : [];
  const srcA = join(dir, 'srcA');
  const srcB = join(dir, 'srcB');
  await writeTree(srcA, sourceSpec(`${name}/A`, 3));
  await writeTree(srcB, sourceSpec(`${name}/B`, 2));
  const init = ['pool', 'init', pool, ...(encrypted ? ['--encrypt'] : []), ...auth];
  const ri = await runCli(init);
  assert.equal(ri.code, 0, describeCli(init, ri));

  const backup = async (src: string) => {
    const packsBefore = new Set((await listFilesRecursive(join(pool, 'packs'))).map((f) => f.path));
    const indexBefore = new Set(readdirSync(join(pool, 'index')));
    const args = ['backup', src, '--pool', pool, ...auth, '--json'];
    const r = await runCli(args);
    assert.equal(r.code, 0, describeCli(args, r));
    const point = parseJsonOutput<{ point: string }>(args, r).point;
    const packs = (await listFilesRecursive(join(pool, 'packs'))).filter((f) => !packsBefore.has(f.path));
    const index = readdirSync(join(pool, 'index')).filter((f) => !indexBefore.has(f));
    assert.ok(packs.length >= 1 && index.length >= 1, `backup of ${src} wrote packs and an index`);
    return { point, packs, index };
  };
  const a = await backup(srcA);
  const b = await backup(srcB);
  const v = await verify({ pool, auth });
  assert.equal(v.code, 0, `the pool is healthy before it is damaged: ${describeCli(v.args, v.r)}`);
  assert.equal(v.json.ok, true);
  assert.equal(v.json.points, 2);
  return {
    pool,
    auth,
    srcA,
    srcB,
    pointA: a.point,
    pointB: b.point,
    packsA: a.packs,
    packsB: b.packs,
    indexA: a.index,
    indexB: b.index,
    digestA: await treeDigest(srcA),
    digestB: await treeDigest(srcB),
    scratch: dir,
  };
}

async function verify(f: Pick<Fixture, 'pool' | 'auth'>): Promise<{ code: number | null; json: VerifyJson; r: CliResult; args: string[] }> {
  const args = ['pool', 'verify', f.pool, ...f.auth, '--json'];
  const r = await runCli(args);
  return { code: r.code, json: parseJsonOutput<VerifyJson>(args, r), r, args };
}

let restoreN = 0;
async function restore(f: Fixture, point: string, json: boolean): Promise<{ r: CliResult; args: string[]; target: string }> {
  const target = join(f.scratch, `restore-${restoreN++}`);
  const args = ['restore', point, target, '--pool', f.pool, ...f.auth, ...(json ? ['--json'] : [])];
  return { r: await runCli(args), args, target };
}

/** Point B, whose data is in its own packs, restores exactly. */
async function assertRestoresExactly(f: Fixture, point: string, want: Map<string, string>, label: string): Promise<void> {
  const { r, args, target } = await restore(f, point, true);
  assert.equal(r.code, 0, `${label}: ${describeCli(args, r)}`);
  const rep = parseJsonOutput<RestoreJson>(args, r);
  assert.equal(rep.damaged, false);
  assert.deepEqual(rep.errors, []);
  const diff = diffDigests(want, await treeDigest(target));
  assert.deepEqual(diff, [], `${label}: restore differs from the source:\n${diff.join('\n')}`);
  rmSync(target, { recursive: true, force: true });
}

function packId(path: string): string {
  return basename(path);
}

function largest(files: Array<{ path: string; size: number }>): { path: string; size: number } {
  return files.reduce((x, y) => (y.size > x.size ? y : x));
}

/** Flips every bit of the byte at `offset`. */
function flipByte(path: string, offset: number): void {
  const fd = openSync(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    assert.equal(readSync(fd, b, 0, 1, offset), 1);
    b[0] = b[0]! ^ 0xff;
    writeSync(fd, b, 0, 1, offset);
  } finally {
    closeSync(fd);
  }
}

describe('pool damage is found and reported', () => {
  for (const encrypted of [false, true]) {
    const kind = encrypted ? 'encrypted' : 'unencrypted';

    test(`${kind} pool: one flipped byte in a pack is reported by verify and fails the restore loudly`, async () => {
      const f = await twoPointPool(`flip-${kind}`, encrypted);
      // The first backup's largest pack holds its file data; its middle is inside a chunk, far from the trailer.
      const pack = largest(f.packsA);
      assert.ok(pack.size > 2 * MiB, `pack ${pack.path} holds the big file (${pack.size} bytes)`);
      flipByte(pack.path, Math.floor(pack.size / 2));

      const v = await verify(f);
      assert.equal(v.code, 7, describeCli(v.args, v.r));
      assert.equal(v.json.ok, false);
      assert.ok(v.json.damagedChunks.length >= 1, v.r.stdout);
      for (const c of v.json.damagedChunks) {
        assert.equal(c.pack, packId(pack.path), `damaged chunks are in the damaged pack: ${v.r.stdout}`);
        assert.match(c.id, /^[0-9a-f]{64}$/);
        assert.ok(c.error.length > 0);
      }
      assert.deepEqual(
        v.json.affectedPoints.map((p) => p.id),
        [f.pointA],
        `only point A is affected: ${v.r.stdout}`,
      );
      assert.equal(v.json.affectedPoints[0]!.damagedChunks, v.json.damagedChunks.length);
      assert.equal(v.json.affectedPoints[0]!.source.endsWith(f.srcA), true, v.r.stdout);

      // Restoring A fails loudly: status 7, the damaged file named, a clear message on stderr.
      const human = await restore(f, f.pointA, false);
      assert.equal(human.r.code, 7, describeCli(human.args, human.r));
      const lines = assertCleanStderr(human.args, human.r);
      assert.ok(lines.some((l) => l.includes('big.bin')), `stderr names the damaged file: ${human.r.stderr}`);
      assert.ok(lines.some((l) => /damaged/.test(l)), `stderr says the data is damaged: ${human.r.stderr}`);

      const js = await restore(f, f.pointA, true);
      assert.equal(js.r.code, 7, describeCli(js.args, js.r));
      const rep = parseJsonOutput<RestoreJson>(js.args, js.r);
      assert.equal(rep.damaged, true);
      assert.deepEqual(
        rep.errors.map((e) => e.path),
        ['big.bin'],
        `exactly the file with the damaged chunk fails: ${js.r.stdout}`,
      );
      // Everything else in A came back intact.
      const got = await treeDigest(js.target);
      const want = new Map(f.digestA);
      want.delete(digestKey('big.bin'));
      got.delete(digestKey('big.bin'));
      assert.deepEqual(diffDigests(want, got), []);

      // B's data is in other packs: it restores exactly.
      assert.ok(f.packsB.every((p) => p.path !== pack.path));
      await assertRestoresExactly(f, f.pointB, f.digestB, 'point B');
    });
  }

  test('a truncated pack is reported as damage', async () => {
    const f = await twoPointPool('truncate', false);
    const pack = largest(f.packsA);
    truncateSync(pack.path, Math.floor(pack.size / 2));

    const v = await verify(f);
    assert.equal(v.code, 7, describeCli(v.args, v.r));
    assert.equal(v.json.ok, false);
    assert.ok(v.json.damagedChunks.length >= 1, v.r.stdout);
    assert.ok(v.json.damagedChunks.every((c) => c.pack === packId(pack.path)), v.r.stdout);
    assert.ok(
      v.json.damagedObjects.some((o) => o.name.endsWith(packId(pack.path))),
      `the pack itself (its trailer is gone) is reported: ${v.r.stdout}`,
    );
    assert.deepEqual(v.json.affectedPoints.map((p) => p.id), [f.pointA], v.r.stdout);

    const { r, args } = await restore(f, f.pointA, false);
    assert.notEqual(r.code, 0, describeCli(args, r));
    assert.equal(r.code, 7, describeCli(args, r));
    assertCleanStderr(args, r);
    await assertRestoresExactly(f, f.pointB, f.digestB, 'point B');
  });

  describe('a deleted index object', () => {
    let f: Fixture;
    const restores: Array<{ r: CliResult; args: string[] }> = [];
    before(async () => {
      f = await twoPointPool('index', true);
      assert.equal(f.indexA.length, 1, 'the first backup wrote one index object');
      unlinkSync(join(f.pool, 'index', f.indexA[0]!));
      for (const json of [false, true]) restores.push(await restore(f, f.pointA, json));
    });

    test('verify reports the missing data and the point that needs it', async () => {
      const v = await verify(f);
      assert.equal(v.code, 7, describeCli(v.args, v.r));
      assert.equal(v.json.ok, false);
      assert.deepEqual(v.json.affectedPoints.map((p) => p.id), [f.pointA], v.r.stdout);
      assert.ok(v.json.damagedChunks.length >= 1);
      assert.ok(v.json.damagedChunks.every((c) => /missing/.test(c.error)), `damage is reported as missing data: ${v.r.stdout}`);
      assert.equal(v.json.unindexedPacks, f.packsA.length, 'the packs the lost index named are now unindexed');
    });

    test('restore fails with one clear line on stderr, no stack trace', () => {
      for (const { r, args } of restores) {
        assert.notEqual(r.code, 0, describeCli(args, r));
        assert.notEqual(r.code, 1, `not an internal error: ${describeCli(args, r)}`);
        const lines = assertCleanStderr(args, r);
        assert.equal(lines.length, 1, `one line on stderr: ${describeCli(args, r)}`);
        assert.match(lines[0]!, /missing|not in the pool/, describeCli(args, r));
      }
    });

    test('restore exits with the damage status (7)', () => {
      for (const { r, args } of restores) {
        // Missing pool data is damage (status 7), as verify says, whether it is a manifest page
        // or a file's chunk that is gone; 4 would read as "no such point".
        assert.equal(r.code, 7, `missing pool data is damage (status 7): ${describeCli(args, r)}`);
      }
    });

    test('the other point still restores exactly', async () => {
      await assertRestoresExactly(f, f.pointB, f.digestB, 'point B');
    });
  });
});
