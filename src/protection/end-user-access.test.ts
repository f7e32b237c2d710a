import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ACL_EXECUTE, ACL_READ, ACL_WRITE, grants, mayRead, parsePosixAcl, type CapturedPermissions, type LocalCaller } from './end-user-access.js';

const TAG = { 'user-obj': 0x01, user: 0x02, 'group-obj': 0x04, group: 0x08, mask: 0x10, other: 0x20 } as const;

/** The binary value of system.posix_acl_access, as getfattr would show it. */
function acl(entries: ReadonlyArray<readonly [keyof typeof TAG, number, number?]>, version = 2): Uint8Array {
  const b = Buffer.alloc(4 + entries.length * 8);
  b.writeUInt32LE(version, 0);
  entries.forEach(([tag, perm, id], i) => {
    b.writeUInt16LE(TAG[tag], 4 + i * 8);
    b.writeUInt16LE(perm, 6 + i * 8);
    b.writeUInt32LE(id ?? 0xffffffff, 8 + i * 8);
  });
  return b;
}

const alice: LocalCaller = { uid: 1001, gid: 1001, groups: [1001] };
const bob: LocalCaller = { uid: 1002, gid: 1002, groups: [1002, 2000] };
const carol: LocalCaller = { uid: 1003, gid: 1003, groups: [1003] };
const root: LocalCaller = { uid: 0, gid: 0, groups: [0] };

const item = (mode: number, uid = 1001, gid = 1001, a: Uint8Array | null = null): CapturedPermissions => ({ mode, uid, gid, acl: a });

describe('end-user access: mode bits', () => {
  test('owner, group and other bits each decide for their class', () => {
    const f = item(0o640, 1001, 2000);
    assert.equal(grants(alice, f, ACL_READ), true);
    assert.equal(grants(alice, f, ACL_WRITE), true);
    assert.equal(grants(bob, f, ACL_READ), true, 'bob reads through the supplementary group 2000');
    assert.equal(grants(bob, f, ACL_WRITE), false);
    assert.equal(grants(carol, f, ACL_READ), false);
  });

  test('the first matching class decides: an owner without bits is denied what other may do', () => {
    const f = item(0o047, 1001, 1001);
    assert.equal(grants(alice, f, ACL_READ), false);
    assert.equal(grants(carol, f, ACL_READ), true);
    const g = item(0o607, 1001, 2000);
    assert.equal(grants(bob, g, ACL_READ), false, 'group member with no group bits');
  });

  test('a 0600 file of another user is not readable, nor is it for root', () => {
    const f = item(0o600, 1002, 1002);
    assert.equal(grants(alice, f, ACL_READ), false);
    assert.equal(grants(root, f, ACL_READ), false, 'uid 0 gets no bypass');
    assert.equal(grants(bob, f, ACL_READ), true);
  });

  test('the primary gid counts though absent from the list of groups', () => {
    assert.equal(grants({ uid: 5, gid: 2000, groups: [] }, item(0o040, 1, 2000), ACL_READ), true);
  });
});

describe('end-user access: POSIX ACLs', () => {
  test('a named user entry grants, within the mask', () => {
    const a = acl([['user-obj', 6], ['user', 4, 1003], ['group-obj', 0], ['mask', 4], ['other', 0]]);
    assert.equal(grants(carol, item(0o640, 1001, 1001, a), ACL_READ), true);
    const masked = acl([['user-obj', 6], ['user', 6, 1003], ['group-obj', 0], ['mask', 0], ['other', 0]]);
    assert.equal(grants(carol, item(0o600, 1001, 1001, masked), ACL_READ), false, 'the mask takes the named entry away');
  });

  test('a named user entry decides even when other would grant', () => {
    const a = acl([['user-obj', 6], ['user', 0, 1003], ['group-obj', 4], ['mask', 4], ['other', 4]]);
    assert.equal(grants(carol, item(0o644, 1001, 1001, a), ACL_READ), false);
    assert.equal(grants(bob, item(0o644, 1001, 1001, a), ACL_READ), true);
  });

  test('named group entries match supplementary groups; any matching group entry that grants suffices', () => {
    const a = acl([['user-obj', 6], ['group-obj', 0], ['group', 4, 2000], ['mask', 7], ['other', 0]]);
    assert.equal(grants(bob, item(0o670, 1001, 1001, a), ACL_READ), true);
    assert.equal(grants(carol, item(0o670, 1001, 1001, a), ACL_READ), false);
  });

  test('a matching group entry without the permission denies, other is not consulted', () => {
    const a = acl([['user-obj', 6], ['group-obj', 0], ['group', 0, 2000], ['mask', 7], ['other', 4]]);
    assert.equal(grants(bob, item(0o674, 1001, 1001, a), ACL_READ), false);
    assert.equal(grants(carol, item(0o674, 1001, 1001, a), ACL_READ), true);
  });

  test('the group bits of the mode narrow the mask when they disagree', () => {
    const a = acl([['user-obj', 6], ['user', 4, 1003], ['group-obj', 0], ['mask', 4], ['other', 0]]);
    assert.equal(grants(carol, item(0o600, 1001, 1001, a), ACL_READ), false);
  });

  test('a malformed ACL denies everyone but is no error', () => {
    const bad = acl([['user-obj', 6], ['group-obj', 4], ['other', 4]], 1);
    assert.equal(grants(alice, item(0o644, 1001, 1001, bad), ACL_READ), false);
    assert.equal(grants(carol, item(0o644, 1001, 1001, Uint8Array.from([2, 0, 0, 0, 1])), ACL_READ), false);
  });
});

describe('parsePosixAcl', () => {
  test('reads the entries of a well-formed value', () => {
    const entries = parsePosixAcl(acl([['user-obj', 7], ['user', 5, 42], ['group-obj', 5], ['group', 4, 7], ['mask', 5], ['other', 1]]));
    assert.deepEqual(entries, [
      { tag: 'user-obj', perm: 7, id: null },
      { tag: 'user', perm: 5, id: 42 },
      { tag: 'group-obj', perm: 5, id: null },
      { tag: 'group', perm: 4, id: 7 },
      { tag: 'mask', perm: 5, id: null },
      { tag: 'other', perm: 1, id: null },
    ]);
  });

  test('refuses what is not a well-formed ACL', () => {
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ['empty', new Uint8Array(0), /header/],
      ['version 1', acl([['user-obj', 6], ['group-obj', 4], ['other', 4]], 1), /version 1/],
      ['truncated entry', Buffer.concat([acl([['user-obj', 6], ['group-obj', 4], ['other', 4]]), Buffer.from([1, 0, 4])]), /middle of an entry/],
      ['unknown tag', Buffer.from([2, 0, 0, 0, 0x40, 0, 4, 0, 0, 0, 0, 0]), /unknown tag/],
      ['perm beyond rwx', acl([['user-obj', 8], ['group-obj', 4], ['other', 4]]), /beyond rwx/],
      ['no other', acl([['user-obj', 6], ['group-obj', 4]]), /no other/],
      ['named without mask', acl([['user-obj', 6], ['user', 4, 5], ['group-obj', 4], ['other', 4]]), /without a mask/],
      ['duplicate named user', acl([['user-obj', 6], ['user', 4, 5], ['user', 6, 5], ['group-obj', 4], ['mask', 6], ['other', 4]]), /repeats user 5/],
    ];
    for (const [what, value, message] of cases) assert.throws(() => parsePosixAcl(value), message, what);
  });
});

describe('mayRead: the path from the protected root', () => {
  const home = item(0o755, 0, 0);
  const aliceDir = item(0o700, 1001, 1001);
  const shared = item(0o777, 0, 0);

  test('a parent without search permission hides everything under it', () => {
    const f = item(0o644, 1001, 1001);
    assert.equal(mayRead(alice, { ancestors: [home, aliceDir], item: f, kind: 'file' }), true);
    assert.equal(mayRead(carol, { ancestors: [home, aliceDir], item: f, kind: 'file' }), false, "0644 inside alice's 0700");
    assert.equal(mayRead(root, { ancestors: [home, aliceDir], item: f, kind: 'file' }), false);
  });

  test('a directory is listed with read and search; read alone or search alone is not enough', () => {
    assert.equal(mayRead(carol, { ancestors: [home], item: item(0o704, 1001, 1001), kind: 'dir' }), false);
    assert.equal(mayRead(carol, { ancestors: [home], item: item(0o701, 1001, 1001), kind: 'dir' }), false);
    assert.equal(mayRead(carol, { ancestors: [home], item: item(0o705, 1001, 1001), kind: 'dir' }), true);
  });

  test('an ACL on a parent can grant search to one other user', () => {
    const dir = item(0o710, 1001, 1001, acl([['user-obj', 7], ['user', 1, 1003], ['group-obj', 0], ['mask', 1], ['other', 0]]));
    const f = item(0o644, 1001, 1001);
    assert.equal(mayRead(carol, { ancestors: [home, dir], item: f, kind: 'file' }), true);
    assert.equal(mayRead(bob, { ancestors: [home, dir], item: f, kind: 'file' }), false);
  });

  test("another user's 0600 file in a shared directory stays unreadable", () => {
    assert.equal(mayRead(alice, { ancestors: [shared], item: item(0o600, 1002, 1002), kind: 'file' }), false);
    assert.equal(mayRead(bob, { ancestors: [shared], item: item(0o600, 1002, 1002), kind: 'file' }), true);
  });

  test('write permission on a parent is not what is asked', () => {
    const ro = item(0o555, 0, 0);
    assert.equal(mayRead(alice, { ancestors: [ro], item: item(0o444, 1001, 1001), kind: 'file' }), true);
    assert.equal(grants(alice, ro, ACL_WRITE), false);
    assert.equal(grants(alice, ro, ACL_EXECUTE), true);
  });
});
