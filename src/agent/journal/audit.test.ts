import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ManifestEntry } from '../../format/index.js';
import { JournalAudit } from './audit.js';

const entry = (path: string, type: 'file' | 'dir' = 'file', over: Partial<ManifestEntry> = {}): ManifestEntry => ({
  path: Buffer.from(path),
  type,
  mode: 0o644,
  uid: 0,
  gid: 0,
  mtimeNs: 1n,
  ctimeNs: 1n,
  ino: BigInt(path.length + 7),
  size: 0,
  ...over,
});

/** The previous point: a tree of two directories. */
const previous = [entry('', 'dir'), entry('a', 'dir'), entry('a/x'), entry('a/y'), entry('b', 'dir'), entry('b/s', 'dir'), entry('b/s/deep'), entry('c')];

function audit(changes: { paths: string[]; subtrees?: string[] }, now: ManifestEntry[]) {
  const a = new JournalAudit(changes);
  for (const e of previous) a.addPrevious(e);
  for (const e of now) a.seen(e);
  return a.finish();
}

test('an unchanged tree and an empty journal: nothing missed', () => {
  assert.deepEqual(audit({ paths: [] }, previous), { count: 0, paths: [] });
});

test('a changed item is covered by its own path or a subtree above it, and missed otherwise', () => {
  const now = previous.map((e) => (e.path.toString() === 'a/x' ? entry('a/x', 'file', { ctimeNs: 2n }) : e));
  assert.equal(audit({ paths: ['a/x', 'a'] }, now).count, 0);
  assert.equal(audit({ paths: [], subtrees: ['a'] }, now).count, 0);
  // The parent's path alone does not make the guided walk look at a/x again.
  assert.deepEqual(audit({ paths: ['a'] }, now), { count: 1, paths: ['a/x'] });
});

test('an item that appeared or went is covered when the guided walk lists its parent', () => {
  const added = [...previous.slice(0, 4), entry('a/z'), ...previous.slice(4)];
  assert.equal(audit({ paths: ['a/z', 'a'] }, added).count, 0);
  assert.equal(audit({ paths: ['a/x'] }, added.map((e) => (e.path.toString() === 'a/x' ? entry('a/x', 'file', { ctimeNs: 3n }) : e))).count, 0, 'a is on the path of a/x: listed');
  assert.deepEqual(audit({ paths: [] }, added), { count: 1, paths: ['a/z'] });
  // A directory moved out whole: only it has an event; what was below it is gone with it.
  const withoutB = previous.filter((e) => !e.path.toString().startsWith('b'));
  assert.equal(audit({ paths: ['b', ''] }, withoutB).count, 0);
  assert.deepEqual(audit({ paths: [] }, withoutB).paths.slice().sort(), ['b', 'b/s', 'b/s/deep']);
});

test('a directory that appeared is covered below a subtree, and so is what it holds', () => {
  const now = [...previous, entry('d', 'dir'), entry('d/e', 'dir'), entry('d/e/f')];
  assert.equal(audit({ paths: ['d', ''], subtrees: ['d'] }, now).count, 0);
  const missed = audit({ paths: [] }, now);
  assert.equal(missed.count, 3);
});

test('it keeps the first paths and counts the rest', () => {
  const many = [...previous, ...Array.from({ length: 50 }, (_, i) => entry(`n${String(i).padStart(2, '0')}`))];
  const r = new JournalAudit({ paths: [] }, 5);
  for (const e of previous) r.addPrevious(e);
  for (const e of many) r.seen(e);
  const out = r.finish();
  assert.equal(out.count, 50);
  assert.equal(out.paths.length, 5);
});
