import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localUserOf, parseProcStatus, peerCredentials } from './peer.js';
import { parseMyRequest, recoveredName, writerSpec } from './user-socket.js';

describe('peer credentials', () => {
  test('SO_PEERCRED names the connecting process; its groups come from /proc', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'custos-peer-'));
    const path = join(dir, 's');
    try {
      let accept!: (s: Socket) => void;
      const accepted = new Promise<Socket>((resolve) => (accept = resolve));
      const server = createServer((s) => {
        server.close();
        accept(s);
      });
      await new Promise<void>((resolve) => server.listen(path, resolve));
      const client = createConnection(path);
      const s = await accepted;
      try {
        const cred = peerCredentials(s);
        assert.deepEqual(cred, { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
        const user = await localUserOf(s);
        assert.equal(user.uid, process.getuid!());
        // getgroups() may or may not list the primary gid; /proc lists the supplementary groups.
        const withPrimary = (g: readonly number[]) => [...new Set([...g, process.getgid!()])].sort();
        assert.deepEqual(withPrimary(user.groups), withPrimary(process.getgroups!()));
      } finally {
        client.destroy();
        s.destroy();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('/proc status: Uid, Gid and Groups lines, anything odd refused', () => {
    const status = 'Name:\tbash\nUid:\t1000\t1000\t1000\t1000\nGid:\t100\t100\t100\t100\nGroups:\t4 24 100 \n';
    assert.deepEqual(parseProcStatus(status), { uids: [1000, 1000, 1000, 1000], gids: [100, 100, 100, 100], groups: [4, 24, 100] });
    assert.deepEqual(parseProcStatus('Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n').groups, []);
    assert.throws(() => parseProcStatus('Uid:\t0\nGid:\t0\n'), /no Groups line/);
    assert.throws(() => parseProcStatus('Uid:\t-1\nGid:\t0\nGroups:\n'), /Uid holds/);
    assert.throws(() => parseProcStatus('Uid:\t99999999999\nGid:\t0\nGroups:\n'), /Uid holds/);
  });
});

describe('requests on the user socket', () => {
  test('a path is made canonical in its text, never resolved on the disk', () => {
    assert.equal(parseMyRequest(JSON.stringify({ op: 'versions', path: '/home/a/../b/./c/' })).path, '/home/b/c');
    assert.equal(parseMyRequest(JSON.stringify({ op: 'versions', path: '/../../etc/shadow' })).path, '/etc/shadow');
  });

  test('anything else is refused with a reason', () => {
    const refused: Array<[unknown, RegExp]> = [
      [{ op: 'versions', path: 'rel' }, /absolute/],
      [{ op: 'versions', path: '/a', uid: 0 }, /unknown field "uid"/],
      [{ op: 'versions', path: '/a', user: { uid: 0 } }, /unknown field "user"/],
      [{ op: 'delete', path: '/a' }, /op must be/],
      [{ op: 'recover', path: '/a', point: 'xyz' }, /--point/],
      [{ op: 'recover', path: '/a', point: 'abcd', at: '2026-01-01T00:00:00Z' }, /not both/],
      [{ op: 'recover', path: '/a', conflict: 'skip' }, /--conflict/],
      [{ op: 'browse', path: '/a', to: '/b' }, /for recover/],
      [{ op: 'browse', path: '/a', limit: 0 }, /--limit/],
      [{ op: 'versions', path: '/a', at: '2026-01-01T00:00:00Z' }, /every recovery point/],
      [{ op: 'versions', path: '/a\u0000b' }, /path/],
      [[1], /object/],
      [{ op: 'search', path: '/a' }, /needs a pattern/],
      [{ op: 'versions', path: '/a', pattern: '*' }, /for search/],
      [{ op: 'search', path: '/a', pattern: '*', point: 'abcd' }, /every recovery point/],
    ];
    for (const [req, why] of refused) assert.throws(() => parseMyRequest(JSON.stringify(req)), why, JSON.stringify(req));
    assert.throws(() => parseMyRequest('{'), /not JSON/);
  });

  test('where a recovery is written: next to the original, over it, or --to', () => {
    const when = new Date(2026, 11, 7, 9, 5);
    assert.equal(recoveredName('notes.txt', when), 'notes.txt (recovered 2026-12-07 0905)');
    assert.deepEqual(writerSpec(parseMyRequest(JSON.stringify({ op: 'recover', path: '/home/a/notes.txt' })), when), {
      target: '/home/a/notes.txt (recovered 2026-12-07 0905)', name: 'notes.txt', intoDirectory: false, overwrite: false, noLinksOnTheWay: true,
    });
    assert.deepEqual(writerSpec(parseMyRequest(JSON.stringify({ op: 'recover', path: '/home/a/notes.txt', conflict: 'overwrite' })), when), {
      target: '/home/a/notes.txt', name: 'notes.txt', intoDirectory: false, overwrite: true, noLinksOnTheWay: true,
    });
    assert.deepEqual(writerSpec(parseMyRequest(JSON.stringify({ op: 'recover', path: '/home/a/notes.txt', to: '/tmp/x/../y' })), when), {
      target: '/tmp/y', name: 'notes.txt', intoDirectory: true, overwrite: false, noLinksOnTheWay: false,
    });
  });
});
