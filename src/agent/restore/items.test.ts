import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CustosError } from '../../base/index.js';
import type { ManifestEntry } from '../../format/index.js';
import { pagesForItems } from '../../format/index.js';
import { checkItemsExist, findMissingItems, resolveItem, resolveItems } from './items.js';

const codeOf = (code: string, message: RegExp) => (e: unknown) => {
  assert.ok(e instanceof CustosError, String(e));
  assert.equal(e.code, code, e.message);
  assert.match(e.message, message);
  return true;
};

test('resolveItem: relative items are paths inside the protected directory, absolute ones must lie under it', () => {
  const s = (i: string, root = '/home') => resolveItem(i, root).toString('utf8');
  assert.equal(s('ann/thesis.odt'), 'ann/thesis.odt');
  assert.equal(s('./ann/'), 'ann');
  assert.equal(s('/home/ann/thesis.odt'), 'ann/thesis.odt');
  assert.equal(s('/home//ann/'), 'ann');
  assert.equal(s('/home/ann', '/home/'), 'ann', 'a protected path written with a trailing slash');
  assert.equal(s('/etc/passwd', '/'), 'etc/passwd', 'everything is under /');
  // A relative item that happens to spell the protected path is still relative (home/ann inside /home).
  assert.equal(s('home/ann'), 'home/ann');
});

test('resolveItem: outside the protected directory, the whole point, and . or .. are usage errors naming the item', () => {
  assert.throws(() => resolveItem('/etc/passwd', '/home'), codeOf('usage', /--item \/etc\/passwd is not under the protected directory \/home/));
  assert.throws(() => resolveItem('/homes/x', '/home'), codeOf('usage', /not under the protected directory \/home/), 'a sibling that shares the prefix');
  assert.throws(() => resolveItem('/home', '/home'), codeOf('usage', /names the whole recovery point/));
  assert.throws(() => resolveItem('./', '/home'), codeOf('usage', /names the whole recovery point/));
  assert.throws(() => resolveItem('ann/../../etc', '/home'), codeOf('usage', /'\.\.' are not allowed/));
  assert.throws(() => resolveItem('/home/ann/../bob', '/home'), codeOf('usage', /not a path inside the recovery point/));
});

function manifest(paths: string[]): ManifestEntry[] {
  return paths.map((p) => ({ path: Buffer.from(p), type: 'file', mode: 0o644, uid: 0, gid: 0, mtimeNs: 0n, size: 0 }) as unknown as ManifestEntry);
}

test('findMissingItems: the items the manifest lacks, in the order given; files and directories count alike', async () => {
  const m = manifest(['', 'a', 'a/b', 'a/b/c.txt', 'a-z', 'd.txt']);
  const items = resolveItems(['a/b', '/home/d.txt', 'nope/none', 'a/b/c.txt', 'a/x'], '/home');
  const missing = await findMissingItems(m, items);
  assert.deepEqual(missing.map((i) => i.given), ['nope/none', 'a/x']);
  assert.deepEqual(await findMissingItems(m, []), []);
});

test('findMissingItems: stops reading the manifest at the first entry past every item', async () => {
  let read = 0;
  function* counting(): Generator<ManifestEntry> {
    for (const e of manifest(['', 'a', 'a/b', 'b', 'c', 'd', 'e'])) {
      read++;
      yield e;
    }
  }
  assert.deepEqual((await findMissingItems(counting(), resolveItems(['a/b'], '/'))).length, 0);
  assert.equal(read, 3, 'stopped once found');
  read = 0;
  assert.deepEqual((await findMissingItems(counting(), resolveItems(['a/c'], '/'))).map((i) => i.given), ['a/c']);
  assert.equal(read, 4, 'stopped at b, which sorts after a/c');
});

test('checkItemsExist: not-found naming every missing item, the point and its time', async () => {
  const m = manifest(['', 'a']);
  await checkItemsExist(m, resolveItems(['a'], '/src'), { id: 'p1' }, '/src');
  await assert.rejects(
    checkItemsExist(m, resolveItems(['nope/none', 'a', '/src/x'], '/src'), { id: '0123abcd', time: '2026-12-01T17:00:00.000Z' }, '/src'),
    codeOf('not-found', /^not in recovery point 0123abcd \(2026-12-01T17:00:00\.000Z\): nope\/none, \/src\/x; nothing was recovered \(an item is a path inside \/src, absolute or relative to it\)$/),
  );
});

test('pagesForItems: the pages an item and its subtree span, and its ancestors\' pages, read by binary search', async () => {
  // 100 pages of 10 entries: d00/f0..d00/f8, d01/…; page i starts with the directory dNN.
  const pages: string[][] = [];
  for (let d = 0; d < 100; d++) pages.push([`d${String(d).padStart(2, '0')}`, ...Array.from({ length: 9 }, (_, f) => `d${String(d).padStart(2, '0')}/f${f}`)]);
  pages[0]!.unshift('');
  // d50 spills over three pages: its subtree continues on pages 51 and 52 under deeper names.
  pages[51] = ['d50/x/1', 'd50/x/2'];
  pages[52] = ['d50/y', 'd51'];
  let reads = 0;
  const firstPath = async (i: number) => {
    reads++;
    return Buffer.from(pages[i]![0]!);
  };
  const sel = (items: string[]) => pagesForItems(pages.length, items.map((i) => Buffer.from(i)), firstPath);
  assert.deepEqual(await sel(['d07/f3']), [0, 7], 'the file\'s page, and the root\'s');
  assert.ok(reads < 40, `binary search, not a scan: ${reads} reads`);
  assert.deepEqual(await sel(['d50']), [0, 50, 51, 52], 'a directory: every page its subtree reaches');
  assert.deepEqual(await sel(['d50/x/2']), [0, 50, 51], 'ancestors: the root, d50 (page 50), d50/x (page 51)');
  assert.deepEqual(await sel(['d99/f8', 'd00/f0']), [0, 99]);
  assert.deepEqual(await sel([]), Array.from({ length: 100 }, (_, i) => i), 'no items: every page');
  assert.deepEqual(await sel(['zz']), [0, 99], 'an item past the end: the last page (where it would be) and the root');
});
