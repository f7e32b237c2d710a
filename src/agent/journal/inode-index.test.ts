import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InodeIndex } from './inode-index.js';

test('paths of an inode: every name observed, none for an unknown inode, names that are not UTF-8 left out', () => {
  const ix = new InodeIndex();
  ix.observe('a/x', 7n, 1n, 1);
  ix.observe(Buffer.from('b/x-link'), 7n, 1n, 1);
  ix.observe('a/x', 7n, 1n, 1);
  ix.observe(Buffer.from([0x61, 0xff]), 8n, 1n, 1);
  assert.deepEqual(ix.pathsOf(7n), ['a/x', 'b/x-link']);
  assert.deepEqual(ix.pathsOf(8n), []);
  assert.deepEqual(ix.pathsOf(9n), []);
  assert.equal(ix.size, 1);
});

test('the linked set: in while seen or reported with more than one link, out when seen with one', () => {
  const ix = new InodeIndex();
  ix.observe('a/x', 7n, 2n, 1);
  ix.observe('a/y', 8n, 1n, 1);
  ix.markLinked('a/y', 2);
  assert.deepEqual(ix.linkedPaths().sort(), ['a/x', 'a/y']);
  ix.observe('a/x', 7n, 1n, 3);
  assert.deepEqual(ix.linkedPaths(), ['a/y']);
});

test('a committed full walk replaces the index and drops linked items it did not see; an uncommitted one changes nothing', () => {
  const ix = new InodeIndex();
  ix.observe('old/name', 7n, 2n, 1);
  ix.observe('gone', 9n, 2n, 1);
  // A full walk with marker generation 1 (observing in generation 2) that fails: nothing replaced.
  ix.beginScan(1);
  ix.observe('new/name', 7n, 2n, 2);
  ix.commitScan(5);
  assert.deepEqual(ix.pathsOf(7n), ['old/name', 'new/name']);
  // One that is committed: the stale name and the unseen linked item go; a link reported after the marker stays.
  ix.beginScan(3);
  ix.observe('new/name', 7n, 2n, 4);
  ix.markLinked('reported/later', 4);
  ix.commitScan(3);
  assert.deepEqual(ix.pathsOf(7n), ['new/name']);
  assert.deepEqual(ix.pathsOf(9n), []);
  assert.deepEqual(ix.linkedPaths().sort(), ['new/name', 'reported/later']);
  // A guided walk builds no fresh index: a later commitScan of its generation replaces nothing.
  ix.beginGuided();
  ix.observe('guided/only', 10n, 1n, 5);
  ix.commitScan(4);
  assert.deepEqual(ix.pathsOf(10n), ['guided/only']);
});
