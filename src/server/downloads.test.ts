import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { IntegrityError } from '../base/index.js';
import { ZipWriter, type ManifestEntry, type RecoveryPointRecord } from '../format/index.js';
import type { Pool } from '../pool/index.js';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ItemSelection, SpillingCentralDirectory, startDownload } from './downloads.js';

const MiB = 1024 * 1024;
const meta = { mode: 0o644, uid: 0, gid: 0, mtimeNs: 1_700_000_000_000_000_000n, ctimeNs: 0n, ino: 0n } as const;
const id = (n: number) => Buffer.alloc(32, n);

/** A pool that serves a made-up manifest and chunk contents, and counts what is read. */
function fakePool(entries: ManifestEntry[], opts: { bad?: number; damagedManifestAfter?: number } = {}) {
  const state = { chunkBytesRead: 0, pinned: 0 };
  const pool = {
    async *manifest() {
      let n = 0;
      for (const e of entries) {
        if (opts.damagedManifestAfter !== undefined && n++ === opts.damagedManifestAfter) throw new IntegrityError('manifest page: authentication failed');
        yield e;
      }
    },
    async readChunk(chunk: Buffer) {
      if (chunk[0] === opts.bad) throw new IntegrityError(`chunk ${chunk.toString('hex').slice(0, 8)}: content does not match its id`);
      state.chunkBytesRead += MiB;
      return Buffer.alloc(MiB, chunk[0]!);
    },
    activity: { pin: () => (state.pinned++, () => void state.pinned--) },
  };
  return { pool: pool as unknown as Pool, state };
}

const point = { id: 'p1', manifest: [] } as unknown as RecoveryPointRecord;
const dir = (path: string): ManifestEntry => ({ ...meta, path: Buffer.from(path), type: 'dir', mode: 0o755, size: 0 });
const file = (path: string, chunks: number[]): ManifestEntry => ({ ...meta, path: Buffer.from(path), type: 'file', size: chunks.length * MiB, chunks: chunks.map((c) => ({ id: id(c), length: MiB })) });

async function readAll(body: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of body) parts.push(b as Buffer);
  return Buffer.concat(parts);
}

test('the archive is produced as it is read: a client that stops reading stops the pool reads (bounded memory)', async () => {
  const { pool, state } = fakePool([dir(''), file('big', Array.from({ length: 512 }, (_, i) => i % 200))]); // a 512 MiB file
  const d = startDownload({ pool, point, items: [], format: 'tar' });
  let received = 0;
  for await (const b of d.body) {
    received += (b as Buffer).length;
    if (received >= 8 * MiB) break; // the client goes away (or just waits)
  }
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(state.chunkBytesRead < received + 16 * MiB, `read ${state.chunkBytesRead / MiB} MiB for ${received / MiB} MiB sent`);
  assert.equal(state.pinned, 0, 'the point is unpinned when the stream closes');
  assert.equal(d.summary().complete, false);
});

test('a damaged chunk zero-fills its file and is listed; the archive stays whole', { skip: spawnSync('tar', ['--version']).status !== 0 && 'no tar' }, async () => {
  const { pool } = fakePool([dir(''), file('a', [1, 2]), file('b', [3, 99, 4])], { bad: 99 });
  const d = startDownload({ pool, point, items: [], format: 'tar' });
  const tar = await readAll(d.body);
  const s = d.summary();
  assert.equal(s.complete, true);
  assert.equal(s.files, 2);
  assert.equal(s.errorCount, 1);
  assert.equal(s.errors[0]!.path, 'b');
  assert.match(s.errors[0]!.message, /does not match its id; the rest of the file is zeros/);
  const listing = spawnSync('tar', ['-tvf', '-'], { input: tar });
  assert.equal(listing.status, 0, listing.stderr.toString());
  assert.match(listing.stdout.toString(), /3145728 .* b\n/);
  const b = spawnSync('tar', ['-xOf', '-', 'b'], { input: tar, maxBuffer: 8 * MiB }).stdout;
  assert.equal(b.length, 3 * MiB);
  assert.equal(b[0], 3);
  assert.equal(b[MiB], 0, 'the unreadable chunk and what follows are zeros');
  assert.equal(b[3 * MiB - 1], 0);
});

test('a damaged manifest ends the archive early and the summary says it is not complete', async () => {
  const { pool } = fakePool([dir(''), file('a', [1]), file('b', [2]), file('c', [3])], { damagedManifestAfter: 2 });
  const d = startDownload({ pool, point, items: [], format: 'zip', spillDir: tmpdir() });
  const zip = await readAll(d.body);
  const s = d.summary();
  assert.equal(s.complete, false);
  assert.match(s.error ?? '', /authentication failed/);
  assert.equal(zip.readUInt32LE(0), 0x04034b50, 'what was read before the damage was sent');
  assert.notEqual(zip.subarray(-22).readUInt32LE(0), 0x06054b50, 'no end of central directory: no reader takes it for a whole archive');
});

test('a hard link whose first path is not downloaded becomes a copy of that file; in zip, every hard link does', async () => {
  const link = { ...meta, path: Buffer.from('sel/link'), type: 'hardlink', size: 0, target: Buffer.from('other/f') } as ManifestEntry;
  const entries = [dir(''), dir('other'), file('other/f', [7]), dir('sel'), link];
  for (const format of ['tar', 'zip'] as const) {
    const { pool } = fakePool(entries);
    const d = startDownload({ pool, point, items: [Buffer.from('sel')], format, spillDir: tmpdir() });
    const bytes = await readAll(d.body);
    const s = d.summary();
    assert.equal(s.complete, true, format);
    assert.equal(s.files, 1, `${format}: the link is written as a file`);
    assert.equal(s.dirs, 1, `${format}: sel only`);
    assert.ok(bytes.includes(Buffer.from('sel/link')));
    assert.ok(!bytes.includes(Buffer.from('other/f')), `${format}: the unselected file itself is not in the archive`);
  }
});

test('item selection: the items, what is under them, and their parent directories', () => {
  const s = new ItemSelection([Buffer.from('a/b'), Buffer.from('c')]);
  assert.equal(s.wanted(Buffer.from('')), 'ancestor');
  assert.equal(s.wanted(Buffer.from('a')), 'ancestor');
  assert.equal(s.wanted(Buffer.from('a/b')), 'yes');
  assert.equal(s.wanted(Buffer.from('a/b/x')), 'yes');
  assert.equal(s.wanted(Buffer.from('a/bb')), 'no');
  assert.equal(s.wanted(Buffer.from('c')), 'yes');
  assert.equal(s.wanted(Buffer.from('d')), 'no');
  assert.equal(new ItemSelection([]).wanted(Buffer.from('anything')), 'yes');
});

test('a zip central directory past its memory share moves to an unnamed file and reads back in order', () => {
  const dir = mkdtempSync(join(tmpdir(), 'custos-central-'));
  try {
    const store = new SpillingCentralDirectory(dir, 1000);
    const records = Array.from({ length: 500 }, (_, i) => Buffer.from(`record ${i};`));
    for (const r of records) store.append(r);
    assert.deepEqual(readdirSync(dir), [], 'the spill file has no name');
    assert.deepEqual(Buffer.concat([...store.read()]), Buffer.concat(records));
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a zip whose central directory went to the file reads back whole (python zipfile)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'custos-central-'));
  try {
    const w = new ZipWriter({ central: new SpillingCentralDirectory(dir, 4096) });
    const parts: Buffer[] = [];
    for (let i = 0; i < 300; i++) for await (const b of w.entry({ ...meta, path: Buffer.from(`dir-${i}`), type: 'dir', size: 0 })) parts.push(b);
    parts.push(...w.finish());
    const file = join(dir, 'a.zip');
    writeFileSync(file, Buffer.concat(parts));
    const n = spawnSync('python3', ['-c', 'import sys, zipfile; print(len(zipfile.ZipFile(sys.argv[1]).namelist()), end="")', file]).stdout.toString();
    assert.equal(n, '300');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
