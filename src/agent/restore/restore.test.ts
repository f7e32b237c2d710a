/**
 * The restore writer against what is already at the target (issue 11 §2):
 * identical files are not written again (their inode stays), different ones
 * are replaced atomically, kept beside or skipped per the conflict mode, a
 * temporary file left by a killed restore is replaced, and --security target
 * leaves modes to the target. The pipeline runs for real (worker threads),
 * fed by a manifest and chunks made here.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustosError } from '../../base/index.js';
import { BlobCodec, comparePaths, type ChunkRef, type ManifestEntry } from '../../format/index.js';
import { tempNameFor } from './fs-safe.js';
import { runRestore, type RestoreOptions, type RestoreResult } from './restore.js';
import type { ChunkRead } from './messages.js';

const codec = new BlobCodec({ keys: null, compressionLevel: 1 });
const MTIME = 1_796_168_504_000_000_000n;

/** A point of a few files; each file is cut into chunks of `chunk` bytes. */
function makePoint(files: Record<string, { content: Buffer; mode?: number }>, chunk = 1000) {
  const blobs = new Map<string, Buffer>();
  const entries: ManifestEntry[] = [{ path: Buffer.alloc(0), type: 'dir', mode: 0o755, uid: 0, gid: 0, mtimeNs: MTIME, ctimeNs: MTIME, ino: 1n, size: 0 }];
  const dirs = new Set<string>();
  for (const path of Object.keys(files)) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  for (const d of dirs) entries.push({ path: Buffer.from(d), type: 'dir', mode: 0o755, uid: 0, gid: 0, mtimeNs: MTIME, ctimeNs: MTIME, ino: 2n, size: 0 });
  for (const [path, f] of Object.entries(files)) {
    const chunks: ChunkRef[] = [];
    for (let off = 0; off < f.content.length; off += chunk) {
      const data = f.content.subarray(off, off + chunk);
      const id = codec.chunkIdBytes(data);
      blobs.set(id.toString('hex'), codec.encodeChunk(id, data));
      chunks.push({ id, length: data.length });
    }
    entries.push({ path: Buffer.from(path), type: 'file', mode: f.mode ?? 0o644, uid: 0, gid: 0, mtimeNs: MTIME, ctimeNs: MTIME, ino: 3n, size: f.content.length, chunks });
  }
  entries.sort((a, b) => comparePaths(a.path, b.path));
  const located: string[] = [];
  const skipped: string[] = [];
  const source = {
    locate(id: Buffer): ChunkRead {
      located.push(id.toString('hex'));
      const blob = blobs.get(id.toString('hex'))!;
      return { id, rawLength: codec.decodeChunk(id, blob).length, blob };
    },
    skip(chunks: readonly ChunkRef[]) {
      for (const c of chunks) skipped.push(c.id.toString('hex'));
    },
  };
  return { entries, source, located, skipped };
}

async function* iterate(entries: readonly ManifestEntry[]): AsyncGenerator<ManifestEntry> {
  yield* entries;
}

function restore(point: ReturnType<typeof makePoint>, target: string, options: Partial<RestoreOptions> = {}): Promise<RestoreResult> {
  return runRestore({ manifest: iterate(point.entries), target, source: point.source, keys: null, compressionLevel: 1, workers: 2, restoreOwnership: false, ...options });
}

const content = (seed: number, size: number) => Buffer.from(Array.from({ length: size }, (_, i) => (i * 31 + seed * 7) & 0xff));

describe('restore writer: what is at the target', () => {
  let base: string;
  let n = 0;
  const fresh = () => join(base, `t${n++}`);
  before(() => {
    base = mkdtempSync(join(tmpdir(), 'custos-restore-writer-'));
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  const files = { 'a.bin': { content: content(1, 3500) }, 'd/b.bin': { content: content(2, 2000), mode: 0o640 }, 'd/c.txt': { content: Buffer.from('c\n') } };

  test('a second restore finds every file identical: nothing fetched or written (inodes unchanged), chunks dropped from the source', async () => {
    const target = fresh();
    const first = await restore(makePoint(files), target);
    assert.deepEqual([first.files, first.identical, first.errors], [3, 0, []]);
    const inodes = ['a.bin', 'd/b.bin', 'd/c.txt'].map((p) => statSync(join(target, p)).ino);
    const point = makePoint(files);
    for (const conflict of ['overwrite', 'keep-both', 'skip'] as const) {
      const again = await restore(point, target, { conflict });
      assert.deepEqual([again.files, again.identical, again.copies, again.skipped], [0, 3, 0, 0], conflict);
    }
    assert.deepEqual(point.located, []);
    assert.equal(point.skipped.length, 3 * (4 + 2 + 1));
    assert.deepEqual(['a.bin', 'd/b.bin', 'd/c.txt'].map((p) => statSync(join(target, p)).ino), inodes);
    assert.deepEqual(readdirSync(join(target, 'd')).sort(), ['b.bin', 'c.txt']);
  });

  test('same size, different bytes is not identical: overwrite replaces it (a new inode); a shorter, half-written file too', async () => {
    const target = fresh();
    await restore(makePoint(files), target);
    const a = join(target, 'a.bin');
    const changed = Buffer.from(readFileSync(a));
    changed[3000] ^= 1;
    writeFileSync(a, changed);
    writeFileSync(join(target, 'd/b.bin'), content(2, 2000).subarray(0, 1200)); // as a writer killed mid-file would leave it
    const before = statSync(a).ino;
    const r = await restore(makePoint(files), target);
    assert.deepEqual([r.files, r.identical], [2, 1]);
    assert.notEqual(statSync(a).ino, before);
    assert.deepEqual(readFileSync(a), files['a.bin'].content);
    assert.deepEqual(readFileSync(join(target, 'd/b.bin')), files['d/b.bin'].content);
  });

  test('a temporary file left by a killed restore is replaced, and none is left', async () => {
    const target = fresh();
    mkdirSync(join(target, 'd'), { recursive: true });
    const temp = tempNameFor(Buffer.from(join(target, 'd/b.bin')));
    writeFileSync(temp, 'part of b');
    const r = await restore(makePoint(files), target);
    assert.deepEqual([r.files, r.errors], [3, []]);
    assert.deepEqual(readdirSync(join(target, 'd')).sort(), ['b.bin', 'c.txt']);
    assert.deepEqual(readFileSync(join(target, 'd/b.bin')), files['d/b.bin'].content);
  });

  test('keep-both writes a different file beside as NAME.restored, NAME.restored-2; skip names what it left', async () => {
    const target = fresh();
    await restore(makePoint(files), target);
    writeFileSync(join(target, 'd/c.txt'), 'mine\n');
    for (const expected of ['c.txt.restored', 'c.txt.restored-2']) {
      const r = await restore(makePoint(files), target, { conflict: 'keep-both' });
      assert.deepEqual([r.files, r.copies, r.identical], [1, 1, 2]);
      assert.equal(readFileSync(join(target, 'd', expected), 'utf8'), 'c\n');
    }
    assert.equal(readFileSync(join(target, 'd/c.txt'), 'utf8'), 'mine\n');
    const s = await restore(makePoint(files), target, { conflict: 'skip' });
    assert.deepEqual([s.files, s.skipped, s.skippedItems], [0, 1, ['d/c.txt']]);
    assert.equal(readFileSync(join(target, 'd/c.txt'), 'utf8'), 'mine\n');
  });

  test('overwrite replaces a symbolic link in the way without writing through it', async () => {
    const target = fresh();
    mkdirSync(target);
    const outside = join(base, `outside-${n}`);
    writeFileSync(outside, 'outside\n');
    symlinkSync(outside, join(target, 'a.bin'));
    const r = await restore(makePoint(files), target);
    assert.equal(r.files, 3);
    assert.equal(readFileSync(outside, 'utf8'), 'outside\n');
    assert.ok(statSync(join(target, 'a.bin')).isFile());
  });

  test('security point puts an identical file\'s mode back; security target leaves modes to the target', async () => {
    const target = fresh();
    await restore(makePoint(files), target);
    chmodSync(join(target, 'd/b.bin'), 0o600);
    const r = await restore(makePoint(files), target);
    assert.equal(r.identical, 3);
    assert.equal(statSync(join(target, 'd/b.bin')).mode & 0o777, 0o640);

    const t2 = fresh();
    const umask = process.umask();
    await restore(makePoint(files), t2, { security: 'target' });
    assert.equal(statSync(join(t2, 'd/b.bin')).mode & 0o777, 0o666 & ~umask);
    assert.equal(statSync(join(t2, 'd')).mode & 0o777, 0o777 & ~umask);
    chmodSync(join(t2, 'd/b.bin'), 0o604);
    writeFileSync(join(t2, 'd/b.bin'), 'other');
    await restore(makePoint(files), t2, { security: 'target' });
    assert.deepEqual(readFileSync(join(t2, 'd/b.bin')), files['d/b.bin'].content);
    assert.equal(statSync(join(t2, 'd/b.bin')).mode & 0o777, 0o604, 'an overwritten file keeps its mode');
    assert.equal(statSync(join(t2, 'd/b.bin')).mtimeMs, Number(MTIME / 1_000_000n), 'times are the point\'s in both modes');
  });

  test('the connection to the server lost (a transient source error) ends the restore at once; a rerun finishes it', async () => {
    const target = fresh();
    const many: Record<string, { content: Buffer }> = {};
    for (let i = 0; i < 40; i++) many[`f${String(i).padStart(2, '0')}`] = { content: content(i, 1500) };
    const point = makePoint(many);
    let calls = 0;
    const failing = {
      locate(id: Buffer) {
        if (++calls > 20) throw new CustosError('io', 'connection to the server lost', { transient: true });
        return point.source.locate(id);
      },
    };
    await assert.rejects(runRestore({ manifest: iterate(point.entries), target, source: failing, keys: null, compressionLevel: 1, workers: 2, restoreOwnership: false }), /connection to the server lost/);
    assert.ok(calls <= 22, `stopped at the first failure, not after trying every file (${calls} calls)`);
    const again = await restore(makePoint(many), target);
    assert.deepEqual(again.errors, []);
    assert.equal(again.files + again.identical, 40);
    assert.ok(again.identical <= 20, JSON.stringify(again)); // what was written before the failure (here the batch had not gone to the workers yet)
    assert.deepEqual(readdirSync(target).filter((n) => n.startsWith('.custos-tmp-')), []);
  });
});
