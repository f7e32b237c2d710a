import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ByteReader, ByteWriter } from './binary.js';
import {
  ManifestPageBuilder,
  checkRelativePath,
  comparePaths,
  decodeEntry,
  decodePage,
  encodeEntry,
  encodePage,
  type ManifestEntry,
} from './manifest.js';
import { UnsafePathError } from '../base/index.js';

const name = fc.uint8Array({ minLength: 1, maxLength: 12 }).map((b) => Buffer.from(b.map((x) => (x === 0x2f || x === 0 ? 0x61 : x))));
const relPath = fc.array(name, { minLength: 1, maxLength: 4 }).map((parts) => Buffer.from(parts.map((p) => (p.equals(Buffer.from('.')) || p.equals(Buffer.from('..')) ? Buffer.from('x') : p)).map((p) => p.toString('latin1')).join('/'), 'latin1'));
const entry: fc.Arbitrary<ManifestEntry> = fc.record({
  path: relPath,
  type: fc.constantFrom('file', 'dir', 'symlink', 'hardlink', 'fifo', 'char', 'block', 'socket'),
  mode: fc.integer({ min: 0, max: 0o7777 }),
  uid: fc.nat(),
  gid: fc.nat(),
  user: fc.option(fc.string(), { nil: undefined }),
  group: fc.option(fc.string(), { nil: undefined }),
  mtimeNs: fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n }),
  ctimeNs: fc.bigInt({ min: 0n, max: 2n ** 62n }),
  ino: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  size: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
  target: fc.option(fc.uint8Array({ maxLength: 50 }).map((b) => Buffer.from(b)), { nil: undefined }),
  rdev: fc.option(fc.nat(), { nil: undefined }),
  xattrs: fc.option(fc.array(fc.tuple(fc.string({ minLength: 1 }), fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)))), { nil: undefined }),
  chunks: fc.option(fc.array(fc.record({ id: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b)), length: fc.nat() })), { nil: undefined }),
  sparse: fc.option(fc.constant(true), { nil: undefined }),
  changedDuringRead: fc.option(fc.constant(true), { nil: undefined }),
  error: fc.option(fc.string(), { nil: undefined }),
});

function normalize(e: ManifestEntry): ManifestEntry {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    if (v === undefined) continue;
    if (k === 'xattrs' && Array.isArray(v) && v.length === 0) continue;
    // fast-check builds records without a prototype; compare plain objects.
    out[k] = k === 'chunks' ? (v as ManifestEntry['chunks'])!.map((c) => ({ id: c.id, length: c.length })) : v;
  }
  return out as unknown as ManifestEntry;
}

test('manifest entries round-trip', () => {
  fc.assert(
    fc.property(entry, (e) => {
      const w = new ByteWriter(16);
      encodeEntry(w, e);
      assert.deepEqual(normalize(decodeEntry(new ByteReader(w.finish()))), normalize(e));
    }),
    { numRuns: 300 },
  );
});

test('pages round-trip a list of entries', () => {
  fc.assert(
    fc.property(fc.array(entry, { maxLength: 30 }), (list) => {
      assert.deepEqual(decodePage(encodePage(list)).map(normalize), list.map(normalize));
    }),
    { numRuns: 50 },
  );
});

test('walk order: a directory is followed by its contents before its next sibling', () => {
  const sorted = ['', 'a', 'a/b', 'a/b/c', 'a-c', 'a.d', 'ab', 'b'].map((s) => Buffer.from(s));
  const shuffled = [...sorted].reverse().sort(comparePaths);
  assert.deepEqual(shuffled.map(String), sorted.map(String));
});

test('the page builder refuses entries out of order and cuts pages at path-defined points', () => {
  const b = new ManifestPageBuilder();
  const base = { type: 'file', mode: 0o644, uid: 0, gid: 0, mtimeNs: 0n, ctimeNs: 0n, ino: 0n, size: 0 } as const;
  b.add({ ...base, path: Buffer.from('b') });
  assert.throws(() => b.add({ ...base, path: Buffer.from('a') }));
  assert.throws(() => b.add({ ...base, path: Buffer.from('b') }));
  // Same entries give the same pages whatever came before them: pages deduplicate across points.
  const pagesOf = (prefix: string) => {
    const builder = new ManifestPageBuilder();
    const pages: string[] = [];
    const names = [prefix, ...Array.from({ length: 20000 }, (_, i) => `f${String(i).padStart(6, '0')}`)];
    for (const n of names) {
      const p = builder.add({ ...base, path: Buffer.from(n), user: 'someone-with-a-long-name' });
      if (p) pages.push(p.page.toString('base64'));
    }
    return pages;
  };
  const one = pagesOf('a');
  const two = pagesOf('ab');
  assert.ok(one.length > 3, `expected several pages, got ${one.length}`);
  const shared = one.filter((p) => two.includes(p)).length;
  assert.ok(shared >= one.length - 2, `only ${shared} of ${one.length} pages shared`);
});

test('unsafe manifest paths are rejected', () => {
  for (const bad of ['/etc/passwd', '../x', 'a/../../x', 'a//b', './a', 'a/.', 'a/', '..', 'a\0b']) {
    assert.throws(() => checkRelativePath(Buffer.from(bad)), UnsafePathError, bad);
  }
  for (const good of ['', 'a', 'a/b', '...', '.hidden', 'a..b', 'sp ace/new\nline']) checkRelativePath(Buffer.from(good));
});
