import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { comparePaths, encodePage, type ManifestEntry } from '../../format/manifest.js';
import type { RecoveryPointRecord } from '../../format/point.js';
import type { ChunkId, RecoveryPointId } from '../../base/index.js';
import { FileIndex, type FileIndexSource } from './file-index.js';

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

const names = (items: ReadonlyArray<{ path: Buffer }>) => items.map((i) => i.path.toString('latin1'));

test('list: one directory of a point, in name order, with the metadata browse shows', withIndex(async (index, source) => {
  source.add('p1', '2026-12-01T10:00:00.000Z', tree(1));
  const root = await index.list('p1', Buffer.alloc(0), { limit: 100 });
  assert.deepEqual(names(root.items), ['docs', 'link', 'music', 'notes-link', 'private', 'zz\xff']);
  assert.equal(root.next, null);
  const docs = await index.list('p1', Buffer.from('docs'), { limit: 100 });
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
}));

test('list pages through a big directory with limit and after, and refuses what is not a directory', withIndex(async (index, source) => {
  source.add('p1', '2026-12-01T10:00:00.000Z', tree(1));
  const seen: string[] = [];
  let after: Buffer | undefined;
  for (;;) {
    const page = await index.list('p1', Buffer.from('music'), { limit: 7, ...(after ? { after } : {}) });
    assert.ok(page.items.length <= 7);
    seen.push(...names(page.items));
    if (!page.next) break;
    after = page.next;
  }
  assert.equal(seen.length, 25);
  assert.deepEqual(seen, [...seen].sort());
  assert.equal(new Set(seen).size, 25);
  const fromName = await index.list('p1', Buffer.from('music'), { limit: 2, after: Buffer.from('track20.ogg') });
  assert.deepEqual(names(fromName.items), ['music/track21.ogg', 'music/track22.ogg']);
  await assert.rejects(index.list('p1', Buffer.from('nope'), { limit: 5 }), { code: 'not-found' });
  await assert.rejects(index.list('p1', Buffer.from('docs/notes.txt'), { limit: 5 }), { code: 'usage' });
  assert.equal(await index.item('p1', Buffer.from('docs/../docs')), undefined);
}));

test('points that share pages store them once; a changed file adds only its pages', withIndex(async (index, source) => {
  source.add('p1', '2026-12-01T10:00:00.000Z', tree(1));
  source.add('p2', '2026-12-02T10:00:00.000Z', tree(1));
  source.add('p3', '2026-12-03T10:00:00.000Z', tree(2));
  await index.reconcile(['p1', 'p2', 'p3'].map((id) => ({ id, source: 'laptop:fs:/home' })));
  const pagesPerPoint = source.points.get('p1')!.manifest.length;
  const s = index.stats();
  assert.equal(s.points, 3);
  assert.equal(s.pages, pagesPerPoint + 1, 'p2 adds no page, p3 one');
  assert.equal(source.pageReads, pagesPerPoint + 1, 'known pages are not read again');
}));

test('search: a glob over every point, each hit with its first and last point', withIndex(async (index, source) => {
  source.add('p1', '2026-12-01T10:00:00.000Z', tree(1));
  source.add('p2', '2026-12-02T10:00:00.000Z', tree(2).filter((x) => !x.path.toString().includes('draft')));
  source.add('p3', '2026-12-03T10:00:00.000Z', tree(3).filter((x) => !x.path.toString().includes('draft')));
  const refs = [{ id: 'p3', time: '2026-12-03T10:00:00.000Z' }, { id: 'p1', time: '2026-12-01T10:00:00.000Z' }, { id: 'p2', time: '2026-12-02T10:00:00.000Z' }];
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
  const limited = await index.search(refs, '*.ogg', 10);
  assert.equal(limited.hits.length, 10);
  assert.equal(limited.truncated, true);
}));

test('versions: each distinct content of a file with the points that hold it', withIndex(async (index, source) => {
  source.add('p1', '2026-12-01T10:00:00.000Z', tree(1));
  source.add('p2', '2026-12-02T10:00:00.000Z', tree(1));
  source.add('p3', '2026-12-03T10:00:00.000Z', tree(2));
  source.add('p4', '2026-12-04T10:00:00.000Z', tree(1));
  const refs = ['p1', 'p2', 'p3', 'p4'].map((id, i) => ({ id, time: `2026-12-0${i + 1}T10:00:00.000Z` }));
  const v = await index.versions(refs, Buffer.from('docs/thesis.tex'));
  assert.deepEqual(v.map((x) => x.points.map((p) => p.id)), [['p1', 'p2', 'p4'], ['p3']]);
  assert.equal(v[1]!.size, 'thesis v2'.length);
  assert.notEqual(v[0]!.content, v[1]!.content);
  assert.deepEqual(await index.versions(refs, Buffer.from('docs/none')), []);
  const only = await index.versions(refs.slice(2, 3), Buffer.from('docs/thesis.tex'));
  assert.deepEqual(only.map((x) => x.points.map((p) => p.id)), [['p3']], 'only the points asked about');
}));

test('reconcile forgets points no longer wanted and drops their pages; builds are idempotent', withIndex(async (index, source) => {
  source.add('p1', '2026-12-01T10:00:00.000Z', tree(1));
  source.add('p2', '2026-12-02T10:00:00.000Z', tree(2));
  const both = [{ id: 'p1', source: 'laptop:fs:/home' }, { id: 'p2', source: 'laptop:fs:/home' }];
  assert.deepEqual(await index.reconcile(both), { added: 2, removed: 0 });
  assert.deepEqual(await index.reconcile(both), { added: 0, removed: 0 });
  const before = index.stats();
  assert.deepEqual(await index.reconcile([both[1]!]), { added: 0, removed: 1 });
  const after = index.stats();
  assert.equal(after.points, 1);
  assert.equal(after.pages, before.pages - 1, 'the page only p1 held is gone');
  assert.equal(await index.item('p2', Buffer.from('docs/thesis.tex')).then((i) => i?.size), 'thesis v2'.length);
  // Another source's points are left alone when reconciling one source.
  assert.deepEqual(await index.reconcile([], ['other:fs:/srv']), { added: 0, removed: 0 });
  assert.equal(index.stats().points, 1);
}));

test('a point whose page cannot be read is not indexed, and asking about it says why', withIndex(async (index, source) => {
  const p = source.add('p1', '2026-12-01T10:00:00.000Z', tree(1));
  source.pages.set(p.manifest[1]!.id, Buffer.from('garbage'));
  await assert.rejects(index.item('p1', Buffer.from('docs')), { code: 'integrity' });
  assert.equal(index.has('p1'), false);
  const r = await index.reconcile([{ id: 'p1', source: 'laptop:fs:/home' }]);
  assert.deepEqual(r, { added: 0, removed: 0 });
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
      assert.equal((await index.list('p1', Buffer.from('docs'), { limit: 10 })).items.length, 3);
    } finally {
      await index.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
