import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from '../../pool/index.js';
import type { RecoveryPointRecord } from '../../format/index.js';
import { craftPoint } from '../../../test/helpers/craft-point.js';
import { ManifestFileIndexReader } from './manifest-reader.js';

describe('FileIndexReader over decoded manifests', () => {
  let dir: string;
  let pool: Pool;
  let p1: RecoveryPointRecord;
  let p2: RecoveryPointRecord;
  let reader: ManifestFileIndexReader;
  const acl = Buffer.from([2, 0, 0, 0, 1, 0, 6, 0, 255, 255, 255, 255]);
  const ref = (p: RecoveryPointRecord) => ({ id: p.id, time: p.time });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'custos-manifest-reader-'));
    await Pool.init(join(dir, 'pool'));
    pool = await Pool.open(join(dir, 'pool'));
    const tree = (notes: string) => [
      { path: '', type: 'dir' as const, mode: 0o755 },
      { path: 'a', type: 'dir' as const, mode: 0o700 },
      { path: 'a/b', content: 'bee' },
      { path: 'a/c', type: 'hardlink' as const, target: 'a/b' },
      { path: 'a/d', content: notes, extra: { xattrs: [['system.posix_acl_access', acl]] as const } },
      { path: 'z', type: 'symlink' as const, target: 'a' },
    ];
    p1 = await craftPoint(pool, tree('one'));
    p2 = await craftPoint(pool, tree('two, longer'));
    reader = new ManifestFileIndexReader(pool);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('item: type, mode, content digest and the captured ACL', async () => {
    const d1 = await reader.item(p1.id, Buffer.from('a/d'));
    const d2 = await reader.item(p2.id, Buffer.from('a/d'));
    assert.equal(d1?.type, 'file');
    assert.equal(d1?.size, 3);
    assert.deepEqual(d1?.acl, acl);
    assert.notEqual(d1?.content, d2?.content);
    assert.equal((await reader.item(p1.id, Buffer.from('a/b')))?.content, (await reader.item(p2.id, Buffer.from('a/b')))?.content);
    assert.equal((await reader.item(p1.id, Buffer.from('z')))?.target?.toString(), 'a');
    assert.equal(await reader.item(p1.id, Buffer.from('a/nope')), undefined);
    assert.deepEqual(await reader.fileChunks(p1.id, Buffer.from('a/c')), undefined, 'a hard link has no chunks of its own');
    assert.equal((await reader.fileChunks(p1.id, Buffer.from('a/b')))?.length, 1);
  });

  test('list: one directory, in name order, paged', async () => {
    const root = await reader.list(p1.id, Buffer.alloc(0), { limit: 10 });
    assert.deepEqual(root.items.map((i) => i.path.toString()), ['a', 'z']);
    const first = await reader.list(p1.id, Buffer.from('a'), { limit: 2 });
    assert.deepEqual(first.items.map((i) => i.path.toString()), ['a/b', 'a/c']);
    assert.equal(first.next?.toString(), 'a/c');
    const rest = await reader.list(p1.id, Buffer.from('a'), { limit: 2, after: first.next! });
    assert.deepEqual(rest.items.map((i) => i.path.toString()), ['a/d']);
    assert.equal(rest.next, null);
  });

  test('versions and search across points', async () => {
    const v = await reader.versions([ref(p1), ref(p2)], Buffer.from('a/d'));
    assert.deepEqual(v.map((x) => [x.size, x.points.map((p) => p.id)]), [[3, [p1.id]], [11, [p2.id]]]);
    const same = await reader.versions([ref(p1), ref(p2)], Buffer.from('a/c'));
    assert.deepEqual(same.map((x) => [x.size, x.points.length]), [[3, 2]], 'a hard link has the versions of its file');
    const hits = await reader.search([ref(p1), ref(p2)], 'd', 10);
    assert.deepEqual(hits.map((h) => [h.path.toString(), h.points, h.size]), [['a/d', 2, 11]]);
  });
});
