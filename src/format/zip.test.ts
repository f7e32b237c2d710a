import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ArchiveEntry, ArchiveWriter } from './archive-entry.js';
import { ZipWriter } from './zip.js';

async function archive(writer: ArchiveWriter, list: ReadonlyArray<readonly [ArchiveEntry, Buffer?]>): Promise<Buffer> {
  const out: Buffer[] = [];
  for (const [e, content] of list) {
    for await (const b of writer.entry(e, (async function* () { if (content) yield content; })())) out.push(b);
  }
  return Buffer.concat([...out, ...writer.finish()]);
}

const T = 1_700_000_000_000_000_000n;
const base = { uid: 1234, gid: 2345, mtimeNs: T, size: 0 } as const;
const longName = Buffer.from(`d/${'x'.repeat(140)}/${'y'.repeat(150)}.txt`);
const rawName = Buffer.from([0x66, 0xe9, 0xff, 0x2e, 0x74]);
const big = Buffer.alloc(300_000);
for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;

function entries(): Array<readonly [ArchiveEntry, Buffer?]> {
  const file = (path: Buffer | string, content: Buffer, mode = 0o644) => [{ ...base, path: Buffer.from(path), type: 'file', mode, size: content.length } as ArchiveEntry, content] as const;
  return [
    [{ ...base, path: Buffer.from('d'), type: 'dir', mode: 0o750 }],
    file('d/a.txt', Buffer.from('hello, zip\n'), 0o640),
    file('d/big.bin', big, 0o600),
    file('d/empty', Buffer.alloc(0)),
    file(longName, Buffer.from('long')),
    file(rawName, Buffer.from('raw'), 0o755),
    file('é.txt', Buffer.from('utf8')),
    [{ ...base, path: Buffer.from('d/link'), type: 'symlink', mode: 0o777, target: Buffer.from('a.txt') }],
  ];
}

const python = (script: string, ...args: string[]) => execFileSync('python3', ['-c', script, ...args]).toString();

test('python zipfile reads every entry: names, contents, modes, symlinks in the unix attributes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'custos-zip-'));
  try {
    const file = join(dir, 'a.zip');
    writeFileSync(file, await archive(new ZipWriter(), entries()));
    const listing = JSON.parse(python(`
import json, sys, zipfile, hashlib
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
print(json.dumps([[i.orig_filename.encode('cp437' if not i.flag_bits & 0x800 else 'utf-8', 'surrogateescape').hex(), oct(i.external_attr >> 16), i.file_size, hashlib.sha256(z.read(i)).hexdigest()] for i in z.infolist()]))
`, file)) as Array<[string, string, number, string]>;
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const byName = new Map(listing.map(([n, ...rest]) => [Buffer.from(n, 'hex').toString('latin1'), rest]));
    assert.deepEqual(byName.get('d/'), ['0o40750', 0, sha(Buffer.alloc(0))]);
    assert.deepEqual(byName.get('d/a.txt'), ['0o100640', 11, sha(Buffer.from('hello, zip\n'))]);
    assert.deepEqual(byName.get('d/big.bin'), ['0o100600', big.length, sha(big)]);
    assert.deepEqual(byName.get(longName.toString('latin1')), ['0o100644', 4, sha(Buffer.from('long'))]);
    assert.deepEqual(byName.get(rawName.toString('latin1')), ['0o100755', 3, sha(Buffer.from('raw'))]);
    assert.deepEqual(byName.get(Buffer.from('é.txt').toString('latin1')), ['0o100644', 4, sha(Buffer.from('utf8'))]);
    assert.deepEqual(byName.get('d/link'), ['0o120777', 5, sha(Buffer.from('a.txt'))]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unzip extracts modes, times, owners, symlinks and long names', { skip: spawnSync('unzip', ['-v']).status !== 0 ? 'no unzip' : false }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'custos-zip-'));
  try {
    const file = join(dir, 'a.zip');
    writeFileSync(file, await archive(new ZipWriter(), entries()));
    const out = join(dir, 'out');
    const r = spawnSync('unzip', ['-q', '-X', file, '-d', out]);
    assert.equal(r.status, 0, r.stderr.toString());
    const at = (p: Buffer | string) => Buffer.concat([Buffer.from(out), Buffer.from('/'), Buffer.from(p)]);
    assert.equal(lstatSync(at('d/a.txt')).mode & 0o7777, 0o640, execFileSync('ls', ['-laR', out]).toString('latin1'));
    assert.equal(lstatSync(at('d/a.txt'), { bigint: true }).mtimeNs, T);
    assert.deepEqual(readFileSync(at('d/big.bin')), big);
    assert.equal(readlinkSync(at('d/link'), 'utf8'), 'a.txt');
    assert.equal(readFileSync(at(longName), 'utf8'), 'long');
    assert.equal(lstatSync(at('é.txt')).mode & 0o7777, 0o644);
    // (Debian's unzip drops bytes of a name it cannot map, such as 0xff: raw names are checked with python above.)
    if (process.getuid?.() === 0) assert.equal(`${lstatSync(at('d/a.txt')).uid}:${lstatSync(at('d/a.txt')).gid}`, '1234:2345');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('zip64: more than 65,535 entries get the zip64 end records, and readers still count them all', async () => {
  const w = new ZipWriter();
  const list: Array<readonly [ArchiveEntry]> = [];
  for (let i = 0; i < 70_000; i++) list.push([{ ...base, path: Buffer.from(`f${i}`), type: 'dir', mode: 0o755 }]);
  const dir = mkdtempSync(join(tmpdir(), 'custos-zip-'));
  try {
    const file = join(dir, 'many.zip');
    writeFileSync(file, await archive(w, list));
    assert.equal(python('import sys, zipfile; print(len(zipfile.ZipFile(sys.argv[1]).infolist()), end="")', file), '70000');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('zip64 file entries (sizes in the zip64 fields and the data descriptor) read back with python and unzip', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'custos-zip-'));
  try {
    const file = join(dir, 'z64.zip');
    writeFileSync(file, await archive(new ZipWriter({ zip64From: 1 }), entries()));
    const listing = python('import sys, zipfile, hashlib; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(hashlib.sha256(z.read("d/big.bin")).hexdigest(), end="")', file);
    assert.equal(listing, createHash('sha256').update(big).digest('hex'));
    if (spawnSync('unzip', ['-v']).status === 0) {
      const r = spawnSync('unzip', ['-t', '-q', file]);
      assert.equal(r.status, 0, r.stdout.toString() + r.stderr.toString());
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
