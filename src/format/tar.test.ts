import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ArchiveEntry, ArchiveWriter } from './archive-entry.js';
import { paxRecord, paxTime, tarHeader, TarWriter } from './tar.js';

/** Writes entries (with their content) through a writer into one buffer. */
async function archive(writer: ArchiveWriter, entries: ReadonlyArray<readonly [ArchiveEntry, Buffer?]>): Promise<Buffer> {
  const out: Buffer[] = [];
  for (const [e, content] of entries) {
    const chunks = content ? [content.subarray(0, 7), content.subarray(7)] : [];
    for await (const b of writer.entry(e, (async function* () { yield* chunks; })())) out.push(b);
  }
  for (const b of writer.finish()) out.push(b);
  return Buffer.concat(out);
}

const T = 1_700_000_000_123_456_789n;
const base = { uid: 1234, gid: 2345, user: 'ann', group: 'staff', mtimeNs: T, size: 0 } as const;
const longName = Buffer.from(`d/${'x'.repeat(140)}/${'y'.repeat(150)}.txt`);
const rawName = Buffer.from([0x66, 0xe9, 0xff, 0x2e, 0x74]); // not UTF-8
/** A POSIX ACL as the kernel stores it in system.posix_acl_access: user::rw- user:4:r-- group::r-- mask::r-- other::---. */
const acl = Buffer.concat([
  Buffer.from([2, 0, 0, 0]),
  ...[[0x01, 6, 0xffffffff], [0x02, 4, 4], [0x04, 4, 0xffffffff], [0x10, 4, 0xffffffff], [0x20, 0, 0xffffffff]].map(([tag, perm, id]) => {
    const b = Buffer.alloc(8);
    b.writeUInt16LE(tag!, 0);
    b.writeUInt16LE(perm!, 2);
    b.writeUInt32LE(id!, 4);
    return b;
  }),
]);

function sampleEntries(): Array<readonly [ArchiveEntry, Buffer?]> {
  const file = (path: Buffer | string, content: Buffer, extra: Partial<ArchiveEntry> = {}) =>
    [{ ...base, path: Buffer.from(path), type: 'file', mode: 0o640, size: content.length, ...extra } as ArchiveEntry, content] as const;
  return [
    [{ ...base, path: Buffer.alloc(0), type: 'dir', mode: 0o755 }],
    [{ ...base, path: Buffer.from('d'), type: 'dir', mode: 0o750, xattrs: [['user.note', Buffer.from('dir note')]] }],
    file('d/a.txt', Buffer.from('hello, tar\n'), { xattrs: [['user.k', Buffer.from([0, 1, 2, 255])], ['system.posix_acl_access', acl]] }),
    [{ ...base, path: Buffer.from(`d/${'x'.repeat(140)}`), type: 'dir', mode: 0o700 }],
    file(longName, Buffer.alloc(1000, 0x41), { mode: 0o600, mtimeNs: -1_500_000_000n + 10n ** 18n }),
    file(rawName, Buffer.from('raw name'), { mode: 0o4755 }),
    [{ ...base, path: Buffer.from('d/link'), type: 'symlink', mode: 0o777, target: Buffer.from('a.txt') }],
    [{ ...base, path: Buffer.from('d/longlink'), type: 'symlink', mode: 0o777, target: Buffer.from('t/'.repeat(80)) }],
    [{ ...base, path: Buffer.from('d/hard'), type: 'hardlink', mode: 0o640, target: Buffer.from('d/a.txt') }],
    [{ ...base, path: Buffer.from('fifo'), type: 'fifo', mode: 0o620 }],
    file('empty', Buffer.alloc(0), { user: 'a-very-long-user-name-over-32-bytes-long', uid: 0o7777777 + 5 }),
  ];
}

test('pax records count their own length', () => {
  assert.equal(paxRecord('path', Buffer.from('a')).toString(), '9 path=a\n');
  const r = paxRecord('path', Buffer.alloc(93, 0x61)).toString(); // rest 100 → 103 with three digits
  assert.equal(r.length, Number(r.split(' ')[0]));
  assert.equal(paxTime(1_500_000_000n), '1.5');
  assert.equal(paxTime(-1_500_000_000n), '-1.5');
  assert.equal(paxTime(2_000_000_000n), '2');
});

test('a plain entry is one ustar block with a valid checksum; a long one gets a pax header', () => {
  const h = tarHeader({ ...base, mtimeNs: 1_000_000_000n, path: Buffer.from('a'), type: 'file', mode: 0o644, size: 5 });
  assert.equal(h.length, 512);
  assert.equal(h.subarray(257, 263).toString('latin1'), 'ustar\0');
  const stored = parseInt(h.subarray(148, 154).toString('latin1'), 8);
  const copy = Buffer.from(h);
  copy.fill(0x20, 148, 156);
  assert.equal(stored, copy.reduce((a, b) => a + b, 0));
  const long = tarHeader({ ...base, path: longName, type: 'file', mode: 0o644, size: 5 });
  assert.equal(long[156], 0x78);
  assert.ok(long.includes(Buffer.concat([Buffer.from(' path='), longName, Buffer.from('\n')])));
});

test('the writer refuses content that does not match the size', async () => {
  const w = new TarWriter();
  await assert.rejects(archive(w, [[{ ...base, path: Buffer.from('f'), type: 'file', mode: 0o644, size: 10 }, Buffer.from('short')]]), /shorter than its size 10/);
});

test('GNU tar extracts everything as written: modes, owners, times, links, long and raw names, xattrs, ACLs', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'custos-tar-'));
  try {
    const file = join(dir, 'a.tar');
    writeFileSync(file, await archive(new TarWriter(), sampleEntries()));
    const out = join(dir, 'out');
    execFileSync('mkdir', [out]);
    const r = spawnSync('tar', ['--xattrs', "--xattrs-include=*", '--acls', '--numeric-owner', '-xpf', file, '-C', out]);
    assert.equal(r.status, 0, r.stderr.toString());
    const at = (p: Buffer | string) => Buffer.concat([Buffer.from(out), Buffer.from('/'), Buffer.from(p)]);
    const st = (p: Buffer | string) => lstatSync(at(p), { bigint: true });
    assert.equal(Number(st('').mode) & 0o7777, 0o755);
    assert.equal(Number(st('d').mode) & 0o7777, 0o750);
    const a = st('d/a.txt');
    assert.equal(Number(a.mode) & 0o7777, 0o640);
    assert.equal([a.uid, a.gid].join(), '1234,2345');
    assert.equal(a.mtimeNs, T);
    assert.equal(readFileSync(at('d/a.txt'), 'utf8'), 'hello, tar\n');
    assert.equal(a.ino, st('d/hard').ino, 'a hard link');
    assert.equal(a.nlink, 2n);
    assert.equal(readFileSync(at(longName)).length, 1000);
    assert.equal(st(longName).mtimeNs, -1_500_000_000n + 10n ** 18n);
    assert.equal(readFileSync(at(rawName), 'utf8'), 'raw name');
    assert.equal(Number(st(rawName).mode) & 0o7777, 0o4755);
    assert.equal(readlinkSync(at('d/link'), 'utf8'), 'a.txt');
    assert.equal(readlinkSync(at('d/longlink'), 'utf8'), 't/'.repeat(80));
    assert.ok(st('fifo').isFIFO());
    assert.equal(st('empty').uid, BigInt(0o7777777 + 5));
    const attr = (p: string, name: string) => execFileSync('getfattr', ['--only-values', '-n', name, at(p).toString()]);
    assert.deepEqual(attr('d/a.txt', 'user.k'), Buffer.from([0, 1, 2, 255]));
    assert.equal(attr('d', 'user.note').toString(), 'dir note');
    assert.match(execFileSync('getfacl', ['-cn', at('d/a.txt').toString()]).toString(), /user:4:r--/);
    // Without --acls, GNU tar sets the ACL from its attribute record.
    const out2 = join(dir, 'out2');
    execFileSync('mkdir', [out2]);
    const r2 = spawnSync('tar', ['--xattrs', '--xattrs-include=*', '-xpf', file, '-C', out2]);
    assert.equal(r2.status, 0, r2.stderr.toString());
    assert.match(execFileSync('getfacl', ['-cn', join(out2, 'd/a.txt')]).toString(), /user:4:r--/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
