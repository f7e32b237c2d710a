import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { comparePaths, decodePage, encodePage, type ManifestEntry } from '../../format/manifest.js';
import type { RecoveryPointRecord } from '../../format/point.js';
import type { ChunkId, RecoveryPointId } from '../../base/index.js';
import { FileIndex, type FileIndexSource } from './file-index.js';
import type { PointRef } from './types.js';

/** A pool in memory: pages by chunk id, points by id. */
class MemorySource implements FileIndexSource {
  readonly pages = new Map<string, Buffer>();
  readonly points = new Map<string, RecoveryPointRecord>();
  pageReads = 0;

  /** A point of `entries`, cut into pages of `perPage` entries (the same entries give the same page, as in a pool). */
  add(id: string, time: string, entries: ManifestEntry[], perPage = 3): RecoveryPointRecord {
    const sorted = [...entries].sort((a, b) => comparePaths(a.path, b.path));
    const manifest = [];
    for (let i = 0; i < sorted.length; i += perPage) {
      const bytes = encodePage(sorted.slice(i, i + perPage));
      const chunk = createHash('sha256').update(bytes).digest('hex');
      this.pages.set(chunk, bytes);
      manifest.push({ id: chunk as ChunkId, length: bytes.length, entries: Math.min(perPage, sorted.length - i) });
    }
    const record: RecoveryPointRecord = {
      version: 1, id: id as RecoveryPointId, time, source: { host: 'laptop', path: '/home' }, parent: null, manifest,
      summary: { filesNew: 0, filesChanged: 0, filesUnchanged: 0, dirs: 0, others: 0, errors: 0, changedDuringRead: 0, bytesRead: 0, bytesAdded: 0, logicalBytes: 0, durationMs: 0 },
      partial: false, excludes: [],
    };
    this.points.set(id, record);
    return record;
  }

  async pointsOf(source: string): Promise<Array<{ id: string; time: string }>> {
    return [...this.points.values()].filter((p) => `${p.source.host}:fs:${p.source.path}` === source).map((p) => ({ id: p.id, time: p.time }));
  }

  async loadPoint(id: string): Promise<RecoveryPointRecord> {
    const p = this.points.get(id);
    if (!p) throw new Error(`no point ${id}`);
    return p;
  }

  async readPage(chunkId: string): Promise<Buffer> {
    this.pageReads++;
    const b = this.pages.get(chunkId);
    if (!b) throw new Error(`no chunk ${chunkId}`);
    return b;
  }
}

function chunkOf(text: string) {
  return { id: createHash('sha256').update(text).digest(), length: text.length };
}

function e(path: string, type: ManifestEntry['type'], more: Partial<ManifestEntry> & { text?: string } = {}): ManifestEntry {
  const { text, ...rest } = more;
  return {
    path: Buffer.from(path), type, mode: type === 'dir' ? 0o755 : 0o644, uid: 1000, gid: 1000, user: 'ann', group: 'staff',
    mtimeNs: 1_700_000_000_123_456_789n, ctimeNs: 0n, ino: 1n, size: text?.length ?? 0,
    ...(type === 'file' ? { chunks: text === undefined || text === '' ? [] : [chunkOf(text)] } : {}),
    ...rest,
  };
}

function tree(version: number): ManifestEntry[] {
  return [
    e('', 'dir'),
    e('docs', 'dir'),
    e('docs/thesis.tex', 'file', { text: `thesis v${version}` }),
    e('docs/notes.txt', 'file', { text: 'notes' }),
    e('docs/old', 'dir'),
    e('docs/old/thesis-draft.tex', 'file', { text: 'draft' }),
    e('music', 'dir'),
    ...Array.from({ length: 25 }, (_, i) => e(`music/track${String(i).padStart(2, '0')}.ogg`, 'file', { text: `track ${i}` })),
    e('link', 'symlink', { target: Buffer.from('docs/notes.txt') }),
    e('notes-link', 'hardlink', { target: Buffer.from('docs/notes.txt') }),
    e('private', 'dir', { mode: 0o700, xattrs: [['system.posix_acl_access', Buffer.from([2, 0, 0, 0])]] }),
    e('zz\xff-raw', 'file', { path: Buffer.from([0x7a, 0x7a, 0xff]), text: 'raw' }),
  ];
}

function withIndex(fn: (index: FileIndex, source: MemorySource, dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'custos-file-index-'));
    const source = new MemorySource();
    const index = FileIndex.open(join(dir, 'file-index.sqlite'), source);
    try {
      await fn(index, source, dir);
    } finally {
      await index.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

const SRC = 'laptop:fs:/home';
const ref = (source: MemorySource, id: string): PointRef => ({ id, time: source.points.get(id)!.time, source: SRC });
const names = (items: ReadonlyArray<{ path: Buffer }>) => items.map((i) => i.path.toString('latin1'));

test('list: one directory of a point, in name order, with the metadata browse shows', withIndex(async (index, source) => {
  source.add('p1', '2026-12-01T10:00:00.000Z', tree(1));
  const p1 = ref(source, 'p1');
  const root = await index.list(p1, Buffer.alloc(0), { limit: 100 });
  assert.deepEqual(names(root.items), ['docs', 'link', 'music', 'notes-link', 'private', 'zz\xff']);
  assert.equal(root.next, null);
  const docs = await index.list(p1, Buffer.from('docs'), { limit: 100 });
  assert.deepEqual(names(docs.items), ['docs/notes.txt', 'docs/old', 'docs/thesis.tex']);
  const thesis = docs.items[2]!;
  assert.equal(thesis.type, 'file');
  assert.equal(thesis.size, 'thesis v1'.length);
  assert.equal(thesis.mtimeNs, 1_700_000_000_123_456_789n);
  assert.equal(thesis.user, 'ann');
  assert.equal(thesis.group, 'staff');
  assert.equal(thesis.mode, 0o644);
  const link = root.items.find((i) => i.path.toString() === 'notes-link')!;
  assert.equal(link.type, 'hardlink');
  assert.equal(link.size, 5, 'a hard link shows the size of the item it links to');
  assert.equal(link.content, docs.items[0]!.content);
  const priv = root.items.find((i) => i.path.toString() === 'private')!;
  assert.deepEqual(priv.acl, Buffer.from([2, 0, 0, 0]), 'the captured access ACL is kept');
  assert.equal((await index.item(p1, Buffer.from('docs/old/thesis-draft.tex')))?.size, 5);
  assert.equal((await index.item(p1, Buffer.alloc(0)))?.type, 'dir', 'the root is an item too');
}));

test('list pages through a big directory with limit and after, and refuses what is not a directory', withIndex(async (index, source) => {
  source.add('p1', '2026-12-01T10:00:00.000Z', tree(1));
  const p1 = ref(source, 'p1');
  const seen: string[] = [];
  let after: Buffer | undefined;
  for (;;) {
    const page = await index.list(p1, Buffer.from('music'), { limit: 7, ...(after ? { after } : {}) });
    assert.ok(page.items.length <= 7);
    seen.push(...names(page.items));
    if (!page.next) break;
    after = page.next;
  }
  assert.equal(seen.length, 25);
  assert.deepEqual(seen, [...seen].sort());
  assert.equal(new Set(seen).size, 25);
  const fromName = await index.list(p1, Buffer.from('music'), { limit: 2, after: Buffer.from('track20.ogg') });
  assert.deepEqual(names(fromName.items), ['music/track21.ogg', 'music/track22.ogg']);
  await assert.rejects(index.list(p1, Buffer.from('nope'), { limit: 5 }), { code: 'not-found' });
  await assert.rejects(index.list(p1, Buffer.from('docs/notes.txt'), { limit: 5 }), { code: 'usage' });
  assert.equal(await index.item(p1, Buffer.from('docs/../docs')), undefined);
}));

test('an item is stored once however many points hold it; a changed file adds one row and reads only its pages', withIndex(async (index, source) => {
  const items = tree(1).length;
  source.add('p1', '2026-12-01T10:00:00.000Z', tree(1));
  await index.syncSource(SRC);
  assert.equal(index.stats().items, items);
  const reads = source.pageReads;
  source.add('p2', '2026-12-02T10:00:00.000Z', tree(1));
  await index.syncSource(SRC);
  assert.equal(index.stats().items, items, 'an identical point adds no row');
  assert.equal(source.pageReads, reads, 'and reads no page');
  source.add('p3', '2026-12-03T10:00:00.000Z', tree(2));
  assert.deepEqual(await index.syncSource(SRC), { added: 1, removed: 0 });
  assert.equal(index.stats().items, items + 1, 'one changed file, one row');
  assert.equal(source.pageReads, reads + 1, 'only the page that changed is read');
  assert.equal(index.stats().points, 3);
}));

test('search: a glob over every point, each hit with its first and last point', withIndex(async (index, source) => {
  source.add('p1', '2026-12-01T10:00:00.000Z', tree(1));
  source.add('p2', '2026-12-02T10:00:00.000Z', tree(2).filter((x) => !x.path.toString().includes('draft')));
  source.add('p3', '2026-12-03T10:00:00.000Z', tree(3).filter((x) => !x.path.toString().includes('draft')));
  const refs = ['p3', 'p1', 'p2'].map((id) => ref(source, id));
  const r = await index.search(refs, '*.tex', 100);
  assert.equal(r.truncated, false);
  assert.deepEqual(r.hits.map((h) => [h.path.toString(), h.first.id, h.last.id, h.points]), [
    ['docs/old/thesis-draft.tex', 'p1', 'p1', 1],
    ['docs/thesis.tex', 'p1', 'p3', 3],
  ]);
  assert.equal(r.hits[1]!.size, 'thesis v3'.length, 'the size in the newest point');
  const anchored = await index.search(refs, '**/thesis*', 100);
  assert.deepEqual(anchored.hits.map((h) => h.path.toString()), ['docs/old/thesis-draft.tex', 'docs/thesis.tex']);
  assert.deepEqual((await index.search(refs, 'docs/*.tex', 100)).hits.map((h) => h.path.toString()), ['docs/thesis.tex']);
  assert.deepEqual((await index.search(refs.slice(0, 1), '*.tex', 100)).hits.map((h) => [h.path.toString(), h.points]), [['docs/thesis.tex', 1]], 'only the points asked about');
  const limited = await index.search(refs, '*.ogg', 10);
  assert.equal(limited.hits.length, 10);
  assert.equal(limited.truncated, true);
}));

test('versions: each distinct content of a file with the points that hold it', withIndex(async (index, source) => {
  source.add('p1', '2026-12-01T10:00:00.000Z', tree(1));
  source.add('p2', '2026-12-02T10:00:00.000Z', tree(1));
  source.add('p3', '2026-12-03T10:00:00.000Z', tree(2));
  source.add('p4', '2026-12-04T10:00:00.000Z', tree(1));
  const refs = ['p1', 'p2', 'p3', 'p4'].map((id) => ref(source, id));
  const v = await index.versions(refs, Buffer.from('docs/thesis.tex'));
  assert.deepEqual(v.map((x) => x.points.map((p) => p.id)), [['p1', 'p2', 'p4'], ['p3']]);
  assert.equal(v[1]!.size, 'thesis v2'.length);
  assert.notEqual(v[0]!.content, v[1]!.content);
  assert.deepEqual(await index.versions(refs, Buffer.from('docs/none')), []);
  const only = await index.versions(refs.slice(2, 3), Buffer.from('docs/thesis.tex'));
  assert.deepEqual(only.map((x) => x.points.map((p) => p.id)), [['p3']], 'only the points asked about');
}));

test('sync forgets pruned points and the rows only they held; losing the head or an older point arriving rebuilds the source', withIndex(async (index, source) => {
  source.add('p1', '2026-12-01T10:00:00.000Z', tree(1));
  source.add('p2', '2026-12-02T10:00:00.000Z', tree(2));
  source.add('p3', '2026-12-03T10:00:00.000Z', tree(3));
  assert.deepEqual(await index.syncSource(SRC), { added: 3, removed: 0 });
  assert.deepEqual(await index.syncSource(SRC), { added: 0, removed: 0 });
  const rows = index.stats().items;
  source.points.delete('p2');
  assert.deepEqual(await index.syncSource(SRC), { added: 0, removed: 1 });
  assert.equal(index.stats().items, rows - 1, 'the version only p2 held is gone');
  assert.equal(index.has('p2'), false);
  assert.equal((await index.item(ref(source, 'p3'), Buffer.from('docs/thesis.tex')))?.size, 'thesis v3'.length);
  // The head goes: the source is indexed again from its points.
  source.points.delete('p3');
  assert.deepEqual(await index.syncSource(SRC), { added: 1, removed: 2 });
  assert.equal((await index.item(ref(source, 'p1'), Buffer.from('docs/thesis.tex')))?.size, 'thesis v1'.length);
  // A point older than the head (a restored catalog) rebuilds too.
  source.add('p0', '2026-11-30T10:00:00.000Z', tree(9));
  assert.deepEqual(await index.syncSource(SRC), { added: 2, removed: 1 });
  assert.deepEqual((await index.versions(['p0', 'p1'].map((id) => ref(source, id)), Buffer.from('docs/thesis.tex'))).map((v) => v.points.map((p) => p.id)), [['p0'], ['p1']]);
  // A source no longer in the catalog is forgotten whole.
  assert.equal(await index.forgetSourcesExcept([]), 1);
  assert.deepEqual(index.stats().items, 0);
}));

test('a point whose page cannot be read is not indexed, and asking about it says so', withIndex(async (index, source) => {
  const p = source.add('p1', '2026-12-01T10:00:00.000Z', tree(1));
  source.pages.set(p.manifest[1]!.id, Buffer.from('garbage'));
  const logged: string[] = [];
  await index.close();
  const again = FileIndex.open(join(mkdtempSync(join(tmpdir(), 'custos-file-index-')), 'x.sqlite'), source, (m) => logged.push(m));
  try {
    await assert.rejects(again.item(ref(source, 'p1'), Buffer.from('docs')), { code: 'not-found' });
    assert.equal(again.has('p1'), false);
    assert.match(logged.join('\n'), /p1 of laptop:fs:\/home could not be indexed: manifest page [0-9a-f]+ of point p1 cannot be read/);
  } finally {
    await again.close();
  }
}));

test('a damaged index file is moved aside and rebuilt', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'custos-file-index-'));
  try {
    const file = join(dir, 'file-index.sqlite');
    writeFileSync(file, 'this is not a database, it is garbage'.repeat(200));
    const source = new MemorySource();
    source.add('p1', '2026-12-01T10:00:00.000Z', tree(1));
    const logged: string[] = [];
    const index = FileIndex.open(file, source, (m) => logged.push(m));
    try {
      assert.match(logged.join('\n'), /cannot be used.*rebuilt from the pool/);
      assert.ok(existsSync(`${file}.damaged`));
      assert.equal((await index.list(ref(source, 'p1'), Buffer.from('docs'), { limit: 10 })).items.length, 3);
    } finally {
      await index.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The index against the full way: random trees changed point after point
 * (files edited, added, removed, directories renamed, owners and modes
 * changed), points pruned at random, and after every step each remaining
 * point's directories, items, versions and a search compared with what
 * decoding the manifests gives.
 */
test('model: after random changes and prunes the index answers exactly what the manifests say', withIndex(async (index, source) => {
  const rng = seeded(20261207);
  let files = new Map<string, { text: string; mode: number }>();
  for (let i = 0; i < 40; i++) files.set(`d${i % 4}/s${i % 3}/f${i}.txt`, { text: `v0-${i}`, mode: 0o644 });
  const entriesOf = (fs: Map<string, { text: string; mode: number }>): ManifestEntry[] => {
    const dirs = new Set<string>(['']);
    for (const p of fs.keys()) {
      const parts = p.split('/');
      for (let k = 1; k < parts.length; k++) dirs.add(parts.slice(0, k).join('/'));
    }
    return [...[...dirs].map((d) => e(d, 'dir')), ...[...fs].map(([p, f]) => e(p, 'file', { text: f.text, mode: f.mode }))];
  };
  let day = 1;
  const alive: string[] = [];
  for (let step = 0; step < 30; step++) {
    const next = new Map(files);
    const keys = [...next.keys()];
    for (let k = 0; k < 4; k++) {
      const pick = keys[Math.floor(rng() * keys.length)]!;
      const op = rng();
      if (op < 0.35 && next.has(pick)) next.set(pick, { ...next.get(pick)!, text: `v${step}-${k}` });
      else if (op < 0.5) next.delete(pick);
      else if (op < 0.65 && next.has(pick)) next.set(pick, { ...next.get(pick)!, mode: 0o600 });
      else if (op < 0.8) next.set(`d${Math.floor(rng() * 5)}/new${step}-${k}.txt`, { text: `new ${step}`, mode: 0o644 });
      else {
        // rename a directory: every path below it moves
        const from = `d${Math.floor(rng() * 4)}`;
        const to = `r${step}`;
        for (const p of [...next.keys()]) if (p.startsWith(`${from}/`)) {
          next.set(`${to}/${p.slice(from.length + 1)}`, next.get(p)!);
          next.delete(p);
        }
      }
    }
    files = next;
    const id = `p${String(step).padStart(2, '0')}`;
    source.add(id, `2026-12-${String(day++).padStart(2, '0')}T10:00:00.000Z`, entriesOf(files), 1 + Math.floor(rng() * 6));
    alive.push(id);
    if (rng() < 0.3 && alive.length > 2) {
      const gone = alive.splice(Math.floor(rng() * (alive.length - 1)), 1)[0]!; // never the newest
      source.points.delete(gone);
    }
    await index.syncSource(SRC);
    await compareWithManifests(index, source, alive);
  }
}));

async function compareWithManifests(index: FileIndex, source: MemorySource, alive: readonly string[]): Promise<void> {
  const refs = alive.map((id) => ref(source, id));
  const decoded = new Map<string, ManifestEntry[]>();
  for (const id of alive) {
    const rec = source.points.get(id)!;
    const entries: ManifestEntry[] = [];
    for (const page of rec.manifest) entries.push(...decodePage(source.pages.get(page.id)!));
    decoded.set(id, entries);
  }
  for (const id of alive) {
    const entries = decoded.get(id)!;
    for (const d of entries.filter((x) => x.type === 'dir')) {
      const expected = entries.filter((x) => x.path.length > 0 && parentOf(x.path) === d.path.toString('latin1')).map((x) => x.path.toString('latin1'));
      const got = await index.list(ref(source, id), d.path, { limit: 10_000 });
      assert.deepEqual(got.items.map((i) => i.path.toString('latin1')), expected, `point ${id}, directory ${d.path.toString()}`);
    }
    for (const x of entries.filter((y) => y.type === 'file')) {
      const it = await index.item(ref(source, id), x.path);
      assert.deepEqual([it?.size, it?.mode], [x.size, x.mode], `point ${id}, ${x.path.toString()}`);
    }
  }
  // versions of every path that ever existed, and a search for everything
  const allPaths = new Set<string>();
  for (const entries of decoded.values()) for (const x of entries) if (x.type === 'file') allPaths.add(x.path.toString('latin1'));
  for (const p of allPaths) {
    const expected = new Map<string, string[]>();
    for (const id of alive) {
      const x = decoded.get(id)!.find((y) => y.path.toString('latin1') === p);
      if (!x) continue;
      const key = x.chunks!.map((c) => c.id.toString('hex')).join(',');
      expected.set(key, [...(expected.get(key) ?? []), id]);
    }
    const got = await index.versions(refs, Buffer.from(p, 'latin1'));
    assert.deepEqual(got.map((v) => v.points.map((q) => q.id)), [...expected.values()], `versions of ${p}`);
  }
  const hits = await index.search(refs, '*.txt', 10_000);
  assert.deepEqual(hits.hits.map((h) => h.path.toString('latin1')).sort(), [...allPaths].sort(), 'search finds every path of every point');
}

function parentOf(path: Buffer): string {
  const s = path.toString('latin1');
  const i = s.lastIndexOf('/');
  return i < 0 ? '' : s.slice(0, i);
}

function seeded(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}
