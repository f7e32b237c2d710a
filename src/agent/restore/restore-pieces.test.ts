/** The pure pieces of the restore pipeline (restore.ts): which entries a restore of some items takes, and how a large file is cut. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cutParts, ItemSelection } from './restore.js';

const b = (s: string) => Buffer.from(s);

test('ItemSelection: an item and everything under it, the directories above it, nothing else; the items never met', () => {
  const sel = new ItemSelection(['a/b', 'c.txt', 'gone']);
  assert.equal(sel.want(b('')), 'ancestor');
  assert.equal(sel.want(b('a')), 'ancestor');
  assert.equal(sel.want(b('a/b')), 'yes');
  assert.equal(sel.want(b('a/b/deep/file')), 'yes');
  assert.equal(sel.want(b('a/bc')), 'no', 'a sibling sharing a prefix is not under the item');
  assert.equal(sel.want(b('a/x')), 'no');
  assert.equal(sel.want(b('c.txt')), 'yes');
  assert.equal(sel.want(b('c.txt2')), 'no');
  assert.deepEqual(sel.missing(), ['gone']);
  const all = new ItemSelection([]);
  assert.equal(all.want(b('anything/at/all')), 'yes');
  assert.deepEqual(all.missing(), []);
});

test('cutParts: parts of about partBytes, whole chunks each, with their offsets and the total', () => {
  const chunk = (length: number) => ({ id: Buffer.alloc(32), length });
  const { parts, total } = cutParts([chunk(40), chunk(40), chunk(40), chunk(10), chunk(100)], 64);
  assert.equal(total, 230);
  assert.deepEqual(parts.map((p) => [p.offset, p.chunks.map((c) => c.length)]), [[0, [40, 40]], [80, [40, 10, 100]]]);
  const one = cutParts([chunk(500)], 64);
  assert.deepEqual(one.parts.map((p) => p.chunks.length), [1]);
  assert.equal(one.total, 500);
});
