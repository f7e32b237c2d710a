import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { segmentFileName } from '../../../format/postgres/wal-names.js';
import { readLongHeader, walPageProblem, WAL_PAGE_BYTES } from '../../../format/postgres/wal-page.js';
import { readWalTail, type TailOptions } from './wal-tail.js';

const SEG = 1 << 20;
const MAGIC = 0xd110;
const SYSID = 7716592498700678075n;

/** A WAL segment as PostgreSQL writes it: each page's header names its address; the first has the long header. */
function segment(segno: bigint, opts: { timeline?: number; validPages?: number; sysid?: bigint; addressShift?: bigint } = {}): Buffer {
  const buf = Buffer.alloc(SEG);
  const pages = opts.validPages ?? SEG / WAL_PAGE_BYTES;
  for (let p = 0; p < pages; p++) {
    const page = buf.subarray(p * WAL_PAGE_BYTES, (p + 1) * WAL_PAGE_BYTES);
    page.writeUInt16LE(MAGIC, 0);
    page.writeUInt16LE(p === 0 ? 0x0002 : 0, 2);
    page.writeUInt32LE(opts.timeline ?? 1, 4);
    page.writeBigUInt64LE(segno * BigInt(SEG) + BigInt(p * WAL_PAGE_BYTES) + (opts.addressShift ?? 0n), 8);
    if (p === 0) {
      page.writeBigUInt64LE(opts.sysid ?? SYSID, 24);
      page.writeUInt32LE(SEG, 32);
      page.writeUInt32LE(WAL_PAGE_BYTES, 36);
    }
    page.fill(p % 251, 40, WAL_PAGE_BYTES);
  }
  return buf;
}

function withDataDir(fn: (dataDir: string, spool: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'custos-wal-tail-'));
  try {
    mkdirSync(join(dir, 'data', 'pg_wal'), { recursive: true });
    mkdirSync(join(dir, 'spool'));
    fn(join(dir, 'data'), join(dir, 'spool'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const name = (segno: number) => segmentFileName({ timeline: 1, segno: BigInt(segno) }, SEG);
const options = (dataDirectory: string, spoolDir: string, previousEnd: bigint): TailOptions => ({ dataDirectory, systemIdentifier: SYSID.toString(), timeline: 1, segmentBytes: SEG, previousEnd, spoolDir, ownerUid: process.getuid!() });

test('page headers: the long header names the cluster; a page is the log\'s at its address, on its timeline', () => {
  const s = segment(5n);
  assert.deepEqual(readLongHeader(s.subarray(0, WAL_PAGE_BYTES)), { magic: MAGIC, systemIdentifier: SYSID.toString(), segmentBytes: SEG, pageBytes: WAL_PAGE_BYTES });
  assert.equal(readLongHeader(s.subarray(WAL_PAGE_BYTES, 2 * WAL_PAGE_BYTES)), 'the first page has no long header');
  const at = 5n * BigInt(SEG);
  assert.equal(walPageProblem(s.subarray(0, WAL_PAGE_BYTES), { magic: MAGIC, timeline: 1, pageAddress: at }), null);
  assert.equal(walPageProblem(s.subarray(0, WAL_PAGE_BYTES), { magic: MAGIC, timeline: 2, pageAddress: at }), 'timeline 1, not 2');
  assert.match(walPageProblem(s.subarray(0, WAL_PAGE_BYTES), { magic: MAGIC, timeline: 1, pageAddress: at + 8192n }) ?? '', /^page address 0\/500000, not 0\/502000 \(a recycled segment\)$/);
  assert.equal(walPageProblem(Buffer.alloc(WAL_PAGE_BYTES), { magic: MAGIC, timeline: 1, pageAddress: at }), 'magic 0, not d110');
  assert.equal(walPageProblem(Buffer.alloc(100), { magic: MAGIC, timeline: 1, pageAddress: at }), 'a page of 100 bytes');
});

test('the tail: from the segment of the newest point\'s end, page by page, up to a recycled segment', () => {
  withDataDir((data, spool) => {
    writeFileSync(join(data, 'pg_wal', name(3)), segment(3n));
    writeFileSync(join(data, 'pg_wal', name(4)), segment(4n));
    // A recycled segment under a future name: its pages name old addresses.
    writeFileSync(join(data, 'pg_wal', name(5)), segment(5n, { addressShift: -3n * BigInt(SEG) }));
    const t = readWalTail(options(data, spool, 3n * BigInt(SEG) + 100n))!;
    assert.deepEqual(t.segments, [name(3), name(4)]);
    assert.equal(t.walEnd, 5n * BigInt(SEG));
    assert.equal(t.stoppedBecause, 'pg_wal/000000010000000000000005 at 0/500000: page address 0/200000, not 0/500000 (a recycled segment)');
    assert.deepEqual(readFileSync(join(spool, name(3))), segment(3n));
  });
  withDataDir((data, spool) => {
    // The segment being written: its pages after the last written are zeros.
    writeFileSync(join(data, 'pg_wal', name(4)), segment(4n, { validPages: 10 }));
    const t = readWalTail(options(data, spool, 4n * BigInt(SEG) + 100n))!;
    assert.deepEqual(t.segments, [name(4)]);
    assert.equal(t.walEnd, 4n * BigInt(SEG) + 10n * 8192n);
    assert.equal(t.stoppedBecause, 'pg_wal/000000010000000000000004 at 0/414000: magic 0, not d110');
    assert.deepEqual(readFileSync(join(spool, name(4))), segment(4n, { validPages: 10 }).subarray(0, 10 * 8192));
  });
});

test('nothing past the newest point, another cluster, or a link: no tail', () => {
  withDataDir((data, spool) => {
    writeFileSync(join(data, 'pg_wal', name(3)), segment(3n, { validPages: 2 }));
    assert.equal(readWalTail(options(data, spool, 3n * BigInt(SEG) + 2n * 8192n)), null, 'what the point has already');
    assert.deepEqual(readdirSync(spool), [name(3)]);
  });
  withDataDir((data, spool) => {
    writeFileSync(join(data, 'pg_wal', name(3)), segment(3n, { sysid: 1n }));
    assert.equal(readWalTail(options(data, spool, 3n * BigInt(SEG) + 100n)), null);
    assert.deepEqual(readdirSync(spool), []);
  });
  withDataDir((data, spool) => {
    // A segment name that is a link (to what root could read): not followed.
    writeFileSync(join(data, 'target'), segment(3n));
    symlinkSync(join(data, 'target'), join(data, 'pg_wal', name(3)));
    assert.equal(readWalTail(options(data, spool, 3n * BigInt(SEG) + 100n)), null);
  });
  withDataDir((data, spool) => {
    // A segment of another account's is not the cluster's log.
    writeFileSync(join(data, 'pg_wal', name(3)), segment(3n));
    assert.equal(readWalTail({ ...options(data, spool, 3n * BigInt(SEG) + 100n), ownerUid: process.getuid!() + 1 }), null);
  });
});
