import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { chmodSync, linkSync, lstatSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ManifestEntry } from '../../format/index.js';
import { identicalFile, identicalOther, type ChunkIdOf } from './identical.js';

const sha: ChunkIdOf = (d) => createHash('sha256').update(d).digest();
const keyed: ChunkIdOf = (d) => createHmac('sha256', Buffer.alloc(32, 7)).update(d).digest();
const MTIME = 1_796_168_504_000_000_000n;

function entryFor(content: Buffer, idOf: ChunkIdOf, cut: readonly number[], mode = 0o644): ManifestEntry {
  const chunks = [];
  let from = 0;
  for (const to of [...cut, content.length]) {
    chunks.push({ id: idOf(content.subarray(from, to)), length: to - from });
    from = to;
  }
  return { path: Buffer.from('f'), type: 'file', mode, uid: 0, gid: 0, mtimeNs: MTIME, ctimeNs: MTIME, ino: 1n, size: content.length, chunks };
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'custos-identical-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const none = { fixMetadata: false, owner: null } as const;
const content = Buffer.from(Array.from({ length: 10_000 }, (_, i) => (i * 13) & 0xff));

test('a file is identical when its bytes hash to the point\'s chunk ids at the point\'s boundaries (keyed ids too)', async () => {
  const p = join(dir, 'same');
  writeFileSync(p, content);
  for (const idOf of [sha, keyed]) {
    const e = entryFor(content, idOf, [1000, 4096, 9000]);
    assert.equal(await identicalFile(Buffer.from(p), lstatSync(p), e, idOf, none), true);
  }
  // Ids made with another key are not these bytes' ids.
  assert.equal(await identicalFile(Buffer.from(p), lstatSync(p), entryFor(content, keyed, [5000]), sha, none), false);
});

test('one byte changed, one byte more, a link or a directory is not identical', async () => {
  const e = entryFor(content, sha, [5000]);
  const changed = Buffer.from(content);
  changed[7777] ^= 0x80;
  const p = join(dir, 'changed');
  writeFileSync(p, changed);
  assert.equal(await identicalFile(Buffer.from(p), lstatSync(p), e, sha, none), false);
  const longer = join(dir, 'longer');
  writeFileSync(longer, Buffer.concat([content, Buffer.from('x')]));
  // Even when the size seen earlier matched (the file grew since): the end of file is checked.
  assert.equal(await identicalFile(Buffer.from(longer), { ...lstatSync(longer), size: content.length, isFile: () => true, ino: statSync(longer).ino, dev: statSync(longer).dev } as never, e, sha, none), false);
  const same = join(dir, 'target-of-link');
  writeFileSync(same, content);
  const link = join(dir, 'link');
  symlinkSync(same, link);
  assert.equal(await identicalFile(Buffer.from(link), lstatSync(link), e, sha, none), false);
  assert.equal(await identicalFile(Buffer.from(dir), lstatSync(dir), e, sha, none), false);
});

test('an item unreadable at backup time is restored empty: an empty file is identical to it', async () => {
  const p = join(dir, 'empty');
  writeFileSync(p, '');
  const e = { ...entryFor(content, sha, []), error: 'permission denied' };
  assert.equal(await identicalFile(Buffer.from(p), lstatSync(p), e, sha, none), true);
});

test('fixMetadata puts the point\'s mode and time back on a file with one link, never through a second link', async () => {
  const e = entryFor(content, sha, [], 0o640);
  const p = join(dir, 'meta');
  writeFileSync(p, content);
  chmodSync(p, 0o600);
  assert.equal(await identicalFile(Buffer.from(p), lstatSync(p), e, sha, { fixMetadata: true, owner: null }), true);
  assert.equal(statSync(p).mode & 0o7777, 0o640);
  assert.equal(statSync(p).mtimeMs, Number(MTIME / 1_000_000n));
  const shared = join(dir, 'shared');
  writeFileSync(shared, content);
  chmodSync(shared, 0o600);
  linkSync(shared, join(dir, 'shared-elsewhere'));
  assert.equal(await identicalFile(Buffer.from(shared), lstatSync(shared), e, sha, { fixMetadata: true, owner: null }), true);
  assert.equal(statSync(join(dir, 'shared-elsewhere')).mode & 0o7777, 0o600, 'a file with another link is left as it is');
});

test('links and special files: the same kind of item (a symbolic link with the same target)', () => {
  const link = join(dir, 'sym');
  symlinkSync('some/target', link);
  const entry = (type: ManifestEntry['type'], target?: string): ManifestEntry => ({
    path: Buffer.from('x'), type, mode: 0o644, uid: 0, gid: 0, mtimeNs: MTIME, ctimeNs: MTIME, ino: 1n, size: 0, ...(target ? { target: Buffer.from(target) } : {}),
  });
  assert.equal(identicalOther(Buffer.from(link), lstatSync(link), entry('symlink', 'some/target')), true);
  assert.equal(identicalOther(Buffer.from(link), lstatSync(link), entry('symlink', 'other/target')), false);
  assert.equal(identicalOther(Buffer.from(link), lstatSync(link), entry('fifo')), false);
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  assert.equal(identicalOther(Buffer.from(fifo), lstatSync(fifo), entry('fifo')), true);
  assert.equal(identicalOther(Buffer.from(fifo), lstatSync(fifo), entry('symlink', 'x')), false);
});
