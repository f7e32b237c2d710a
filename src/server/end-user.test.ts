/**
 * The server's end-user decisions against any FileIndexReader (here an
 * in-memory one, so the file index can replace the manifest reader without
 * these changing): which data source a path maps to, the group's consent,
 * the rule judged point by point, hard links, and what a recovery sends.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Catalog } from '../catalog/index.js';
import type { ChunkRef } from '../format/index.js';
import type { Pool } from '../pool/index.js';
import { decodeBlobFrame, type LocalUser, type UserRequest } from '../protocol/index.js';
import type { AgentSession } from './agent-hub.js';
import { EndUserRecovery } from './end-user.js';
import type { DirectoryPage, FileIndexReader, FileVersion, IndexedItem, PointRef, SearchHit, SearchResult } from './file-index/types.js';
import { refusal } from '../../test/helpers/refusal.js';

type Spec = { type?: IndexedItem['type']; mode: number; uid: number; gid?: number; content?: string; acl?: Buffer; target?: string };

function item(path: string, s: Spec): IndexedItem {
  const type = s.type ?? (s.content !== undefined ? 'file' : 'dir');
  return {
    path: Buffer.from(path), type, size: s.content?.length ?? 0, mtimeNs: 1_700_000_000_000_000_000n, mode: s.mode, uid: s.uid, gid: s.gid ?? s.uid,
    user: null, group: null, target: s.target === undefined ? null : Buffer.from(s.target), acl: s.acl ?? null,
    content: s.content === undefined ? null : createHash('sha256').update(s.content).digest('hex'), error: null,
  };
}

/** Points → path → item, and the content of each file. */
class MemIndex implements FileIndexReader {
  readonly points = new Map<string, Map<string, IndexedItem>>();
  readonly contents = new Map<string, string>();

  add(point: string, tree: Record<string, Spec>): void {
    const m = new Map<string, IndexedItem>();
    for (const [p, s] of Object.entries(tree)) {
      m.set(p, item(p, s));
      if (s.content !== undefined) this.contents.set(`${point}:${p}`, s.content);
    }
    this.points.set(point, m);
  }

  async item(point: PointRef, path: Buffer) {
    return this.points.get(point.id)?.get(path.toString());
  }

  async list(point: PointRef, dir: Buffer, page: { after?: Buffer; limit: number }): Promise<DirectoryPage> {
    const d = dir.toString();
    const items = [...(this.points.get(point.id)?.values() ?? [])]
      .filter((i) => { const p = i.path.toString(); return p !== '' && (d === '' ? !p.includes('/') : p.startsWith(d + '/') && !p.slice(d.length + 1).includes('/')); })
      .filter((i) => !page.after || Buffer.compare(i.path, page.after) > 0)
      .sort((a, b) => Buffer.compare(a.path, b.path));
    return { items: items.slice(0, page.limit), next: items.length > page.limit ? items[page.limit - 1]!.path : null };
  }

  async search(points: readonly PointRef[], pattern: string): Promise<SearchResult> {
    const hits: SearchHit[] = [];
    const seen = new Set<string>();
    for (const ref of points) {
      for (const i of this.points.get(ref.id)?.values() ?? []) {
        const p = i.path.toString();
        if (p === '' || seen.has(p) || !p.endsWith(pattern.replace('*', ''))) continue;
        seen.add(p);
        hits.push({ path: i.path, type: i.type, size: i.size, first: ref, last: ref, points: 1 });
      }
    }
    return { hits, truncated: false };
  }

  async versions(points: readonly PointRef[], path: Buffer): Promise<readonly FileVersion[]> {
    return points.flatMap((ref) => {
      const i = this.points.get(ref.id)?.get(path.toString());
      return i && i.type === 'file' ? [{ content: i.content, size: i.size, mtimeNs: i.mtimeNs, points: [ref] }] : [];
    });
  }

  async fileChunks(pointId: string, path: Buffer): Promise<readonly ChunkRef[] | undefined> {
    const c = this.contents.get(`${pointId}:${path.toString()}`);
    return c === undefined ? undefined : [{ id: Buffer.from(`${pointId}:${path.toString()}`), length: c.length }];
  }
}

const ALICE: LocalUser = { uid: 1001, gid: 1001, groups: [] };
const CAROL: LocalUser = { uid: 1003, gid: 1003, groups: [] };
const P1 = 'a'.repeat(32);
const P2 = 'b'.repeat(32);

/** `system.posix_acl_access` granting user `uid` read. */
function aclReadFor(uid: number): Buffer {
  const e = [[0x01, 6, 0xffffffff], [0x02, 4, uid], [0x04, 0, 0xffffffff], [0x10, 4, 0xffffffff], [0x20, 0, 0xffffffff]];
  const b = Buffer.alloc(4 + e.length * 8);
  b.writeUInt32LE(2, 0);
  e.forEach(([t, p, id], i) => { b.writeUInt16LE(t!, 4 + i * 8); b.writeUInt16LE(p!, 6 + i * 8); b.writeUInt32LE(id!, 8 + i * 8); });
  return b;
}

describe('end-user recovery on the server', () => {
  let dir: string;
  let catalog: Catalog;
  let index: MemIndex;
  let eu: EndUserRecovery;
  const frames: Buffer[] = [];
  const session = { sendBinary: async (b: Buffer) => void frames.push(b) } as unknown as AgentSession;
  const pool = { readChunk: async (id: Buffer) => Buffer.from(index.contents.get(id.toString())!) } as unknown as Pool;

  const ask = (agent: string, user: LocalUser, body: UserRequest) => eu.handle(agent, { t: 'user-request', req: 9, user, body }, session);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'custos-end-user-'));
    catalog = await Catalog.openSqlite(join(dir, 'catalog.sqlite'));
    const now = '2026-12-01T00:00:00.000Z';
    for (const name of ['pc1', 'pc2']) await catalog.insertAgent({ name, cert_serial: name, cert_fingerprint: name, hostname: name, attached_at: now, last_seen: null, version: null, revoked_at: null });
    const source = (agent: string, path: string) => ({
      id: `${agent}:fs:${path}`, agent, kind: 'fs', path, group_name: null, replica_state: 'ok', allocation_bytes: 0, used_bytes: 0,
      created_at: now, last_sync_started_at: null, last_sync_ok_at: null, last_point_slot: null, last_check_slot: null, added_to_group_at: null,
    });
    await catalog.saveGroup({ name: 'on', policy: '{}', now, create: true, endUserRecovery: true }, [source('pc1', '/home'), source('pc2', '/srv')]);
    await catalog.saveGroup({ name: 'off', policy: '{}', now, create: true }, [source('pc1', '/home/alice/proj')]);
    for (const [id, time] of [[P1, '2026-12-01T08:00:00.000Z'], [P2, '2026-12-02T08:00:00.000Z']] as const) {
      await catalog.insertPoint({ id, source_id: 'pc1:fs:/home', time, recovery_point: 1, partial: 0, files: 1, logical_bytes: 1, bytes_added: 1, job_id: null });
    }
    index = new MemIndex();
    const common = {
      '': { mode: 0o755, uid: 0 },
      alice: { mode: 0o700, uid: 1001 },
      'alice/notes.txt': { mode: 0o600, uid: 1001, content: 'v1' },
      'alice/acl.txt': { mode: 0o640, uid: 1001, content: 'for carol', acl: aclReadFor(1003) },
      shared: { mode: 0o1777, uid: 0 },
      'shared/link': { type: 'hardlink' as const, mode: 0o600, uid: 1002, target: 'bob/secret' },
      bob: { mode: 0o700, uid: 1002 },
      'bob/secret': { mode: 0o600, uid: 1002, content: 'bob' },
    };
    index.add(P1, { ...common, pub: { mode: 0o755, uid: 1002 }, 'pub/plan': { mode: 0o644, uid: 1002, content: 'public' } });
    index.add(P2, { ...common, 'alice/notes.txt': { mode: 0o600, uid: 1001, content: 'v2!' }, pub: { mode: 0o700, uid: 1002 }, 'pub/plan': { mode: 0o644, uid: 1002, content: 'private' } });
    eu = new EndUserRecovery({ catalog, pool, index, content: index });
  });

  after(async () => {
    await catalog.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("only this agent's data sources, by the longest protected prefix, and only where the group allows it", async () => {
    assert.match((await refusal(ask('pc1', ALICE, { op: 'versions', path: '/srv/x' }))).message, /not protected on this computer/);
    const off = await refusal(ask('pc1', ALICE, { op: 'versions', path: '/home/alice/proj/a' }));
    assert.equal(off.code, 'denied');
    assert.match(off.message, /switched off for \/home\/alice\/proj.*--end-user-recovery on/);
    assert.match((await refusal(ask('pc2', ALICE, { op: 'versions', path: '/home/alice/notes.txt' }))).message, /not protected on this computer/);
  });

  test('versions: each point judged as it was; another user and root see nothing', async () => {
    const r = await ask('pc1', ALICE, { op: 'versions', path: '/home/alice/notes.txt' }) as { versions: Array<{ size: number }> };
    assert.deepEqual(r.versions.map((v) => v.size), [2, 3]);
    for (const who of [CAROL, { uid: 0, gid: 0, groups: [0] }]) {
      const e = await refusal(ask('pc1', who, { op: 'versions', path: '/home/alice/notes.txt' }));
      assert.equal(e.code, 'not-found');
    }
    const plan = await ask('pc1', ALICE, { op: 'versions', path: '/home/pub/plan' }) as { versions: Array<{ points: PointRef[] }> };
    assert.deepEqual(plan.versions.flatMap((v) => v.points.map((p) => p.id)), [P1], 'the point where pub is 0700 is left out');
  });

  test('a named ACL entry lets one other user in, through a directory it may search', async () => {
    // carol cannot search alice's 0700 directory: the ACL on the file alone does not help.
    assert.equal((await refusal(ask('pc1', CAROL, { op: 'versions', path: '/home/alice/acl.txt' }))).code, 'not-found');
    index.points.get(P2)!.set('alice', item('alice', { mode: 0o711, uid: 1001 }));
    const r = await ask('pc1', CAROL, { op: 'versions', path: '/home/alice/acl.txt' }) as { versions: Array<{ points: PointRef[] }> };
    assert.deepEqual(r.versions.flatMap((v) => v.points.map((p) => p.id)), [P2]);
    index.points.get(P2)!.set('alice', item('alice', { mode: 0o700, uid: 1001 }));
  });

  test('browse lists only what the user could read; a hard link is judged by its file', async () => {
    const r = await ask('pc1', ALICE, { op: 'browse', path: '/home', limit: 100 }) as { items: Array<{ name: string }>; point: PointRef };
    assert.equal(r.point.id, P2);
    assert.deepEqual(r.items.map((i) => i.name), ['alice', 'shared']);
    const shared = await ask('pc1', ALICE, { op: 'browse', path: '/home/shared', limit: 100 }) as { items: unknown[] };
    assert.deepEqual(shared.items, []);
    assert.equal((await refusal(ask('pc1', ALICE, { op: 'versions', path: '/home/shared/link' }))).code, 'not-found');
    const bob = await ask('pc1', { uid: 1002, gid: 1002, groups: [] }, { op: 'versions', path: '/home/shared/link' }) as { versions: Array<{ size: number; points: PointRef[] }> };
    assert.deepEqual(bob.versions.map((v) => [v.size, v.points.length]), [[3, 2]], "one content (Bob's secret) in both points");
  });

  test('search returns only hits the user could read', async () => {
    const r = await ask('pc1', ALICE, { op: 'search', path: '/home', pattern: '*t', limit: 100 }) as { hits: Array<{ path: string }> };
    assert.deepEqual(r.hits.map((h) => h.path).sort(), ['/home/alice/acl.txt', '/home/alice/notes.txt']);
  });

  test("recover sends the chosen point's bytes, and nothing of a file the user may not read", async () => {
    frames.length = 0;
    const r = await ask('pc1', ALICE, { op: 'recover', path: '/home/alice/notes.txt', point: 'aaaa' });
    assert.deepEqual(r, { path: '/home/alice/notes.txt', point: { id: P1, time: '2026-12-01T08:00:00.000Z' }, size: 2, mode: 0o600, mtime: '2023-11-14T22:13:20.000Z', chunks: 1 });
    assert.equal(frames.length, 1);
    const f = decodeBlobFrame(frames[0]!);
    assert.deepEqual([f.req, f.index, f.blob.toString()], [9, 0, 'v1']);
    frames.length = 0;
    assert.equal((await refusal(ask('pc1', ALICE, { op: 'recover', path: '/home/shared/link' }))).code, 'not-found');
    assert.equal((await refusal(ask('pc1', ALICE, { op: 'recover', path: '/home/pub/plan' }))).code, 'not-found', 'latest: pub is 0700 there');
    assert.equal(frames.length, 0, 'nothing was sent');
    const dirAsk = await refusal(ask('pc1', ALICE, { op: 'recover', path: '/home/alice' }));
    assert.match(dirAsk.message, /is a directory/);
  });
});
