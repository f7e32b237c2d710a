/**
 * A streaming writer of zip archives (PKWARE APPNOTE 6.3): files are
 * deflated (or stored when empty) as they stream, their CRC-32 and sizes
 * follow in a data descriptor, so nothing is read twice or buffered whole.
 * Unix metadata rides where Info-ZIP puts it: the mode (file type included,
 * so symlinks are symlinks, their target as content) in the high half of the
 * external attributes, the mtime in an extended-timestamp field (0x5455),
 * uid and gid in a 0x7875 field. Zip64 fields are written where a size, an
 * offset or the number of entries needs them. A name is flagged UTF-8 when it
 * is; other names are stored as their raw bytes.
 *
 * The central directory (about 80 bytes plus the name per entry) is kept
 * until the end of the archive: that is the one cost that grows with the
 * number of items (tar has none). It goes to a CentralDirectoryStore: in
 * memory by default; the server gives one that moves it to an unnamed file
 * past a few MiB. Hard links, fifos and devices have no zip form: the caller
 * writes a hard link as a copy and leaves the others out.
 */
import { crc32, createDeflateRaw, type DeflateRaw } from 'node:zlib';
import { archiveName, exactly, type ArchiveEntry, type ArchiveEntryType, type ArchiveWriter } from './archive-entry.js';

const SIG_LOCAL = 0x04034b50;
const SIG_DESCRIPTOR = 0x08074b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_ZIP64_END = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_END = 0x06054b50;

const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;
const FLAG_DESCRIPTOR = 0x0008;
const FLAG_UTF8 = 0x0800;
/** Made by: Unix (3), spec 6.3. */
const MADE_BY = (3 << 8) | 63;
const NEEDS = 20;
const NEEDS_ZIP64 = 45;
const MAX32 = 0xffffffff;
/**
 * A file this large gets zip64 sizes from its local header on: its
 * compressed size is known only afterwards and may exceed its size a little
 * (deflate's stored blocks), so the margin is generous.
 */
const ZIP64_FILE = 0xf0000000;

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

export interface ZipOptions {
  /** zlib level (0–9); 1, the default, trades a little size for a lot of speed. */
  readonly level?: number;
  /** Where the central directory waits for the end of the archive (default: memory). */
  readonly central?: CentralDirectoryStore;
  /** Files of at least this size get zip64 sizes (default: 3.75 GiB; tests lower it to check that form without writing gigabytes). */
  readonly zip64From?: number;
}

/** Keeps the central directory's records, in order, until the archive ends. */
export interface CentralDirectoryStore {
  append(record: Buffer): void;
  /** The records appended, in order (in pieces of any size), once. */
  read(): Iterable<Buffer>;
  /** Frees what the store holds (after read, or when the archive is abandoned). */
  close(): void;
}

/** A CentralDirectoryStore in memory. */
export class MemoryCentralDirectory implements CentralDirectoryStore {
  private records: Buffer[] = [];
  append(record: Buffer): void {
    this.records.push(record);
  }
  read(): Iterable<Buffer> {
    return this.records;
  }
  close(): void {
    this.records = [];
  }
}

export class ZipWriter implements ArchiveWriter {
  readonly unsupported: ReadonlySet<ArchiveEntryType> = new Set(['hardlink', 'fifo', 'char', 'block']);
  private offset = 0;
  private readonly central: CentralDirectoryStore;
  private centralCount = 0;
  private centralBytes = 0;
  private readonly level: number;
  private readonly zip64From: number;

  constructor(options: ZipOptions = {}) {
    this.level = options.level ?? 1;
    this.zip64From = options.zip64From ?? ZIP64_FILE;
    this.central = options.central ?? new MemoryCentralDirectory();
  }

  close(): void {
    this.central.close();
  }

  async *entry(e: ArchiveEntry, content?: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    if (this.unsupported.has(e.type)) throw new Error(`a zip archive cannot hold a ${e.type}`);
    const name = archiveName(e);
    const start = this.offset;
    const emit = (b: Buffer): Buffer => {
      this.offset += b.length;
      return b;
    };
    if (e.type !== 'file') {
      // A directory or a symlink: everything is known before the entry is written.
      const data = e.type === 'symlink' ? (e.target ?? Buffer.alloc(0)) : Buffer.alloc(0);
      const sizes = { crc: crc32(data), compressed: data.length, size: data.length };
      yield emit(localHeader(e, name, METHOD_STORED, 0, sizes, false));
      if (data.length > 0) yield emit(data);
      this.addCentral(e, name, METHOD_STORED, 0, sizes, start, false);
      return;
    }
    const zip64 = e.size >= this.zip64From;
    const method = e.size > 0 ? METHOD_DEFLATE : METHOD_STORED;
    yield emit(localHeader(e, name, method, FLAG_DESCRIPTOR, { crc: 0, compressed: 0, size: 0 }, zip64));
    let crc = 0;
    let size = 0;
    let compressed = 0;
    const counted = async function* (): AsyncGenerator<Buffer> {
      for await (const b of exactly(content, e.size, JSON.stringify(e.path.toString('utf8')))) {
        crc = crc32(b, crc);
        size += b.length;
        yield b;
      }
    };
    const out = method === METHOD_DEFLATE ? deflated(counted(), this.level) : counted();
    for await (const b of out) {
      compressed += b.length;
      yield emit(b);
    }
    const sizes = { crc, compressed, size };
    yield emit(dataDescriptor(sizes, zip64));
    this.addCentral(e, name, method, FLAG_DESCRIPTOR, sizes, start, zip64);
  }

  *finish(): Generator<Buffer> {
    const cdOffset = this.offset;
    yield* this.central.read();
    this.central.close();
    const count = this.centralCount;
    const cdSize = this.centralBytes;
    const needs64 = count >= 0xffff || cdOffset >= MAX32 || cdSize >= MAX32;
    if (needs64) {
      const end64 = Buffer.alloc(56);
      end64.writeUInt32LE(SIG_ZIP64_END, 0);
      end64.writeBigUInt64LE(44n, 4);
      end64.writeUInt16LE(MADE_BY, 12);
      end64.writeUInt16LE(NEEDS_ZIP64, 14);
      end64.writeBigUInt64LE(BigInt(count), 24);
      end64.writeBigUInt64LE(BigInt(count), 32);
      end64.writeBigUInt64LE(BigInt(cdSize), 40);
      end64.writeBigUInt64LE(BigInt(cdOffset), 48);
      const locator = Buffer.alloc(20);
      locator.writeUInt32LE(SIG_ZIP64_LOCATOR, 0);
      locator.writeBigUInt64LE(BigInt(cdOffset + cdSize), 8);
      locator.writeUInt32LE(1, 16);
      yield end64;
      yield locator;
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(SIG_END, 0);
    end.writeUInt16LE(Math.min(count, 0xffff), 8);
    end.writeUInt16LE(Math.min(count, 0xffff), 10);
    end.writeUInt32LE(Math.min(cdSize, MAX32), 12);
    end.writeUInt32LE(Math.min(cdOffset, MAX32), 16);
    yield end;
  }

  private addCentral(e: ArchiveEntry, name: Buffer, method: number, flags: number, s: Sizes, offset: number, zip64File: boolean): void {
    const big64: bigint[] = [];
    const bigSize = zip64File || s.size >= MAX32;
    const bigCompressed = zip64File || s.compressed >= MAX32;
    const bigOffset = offset >= MAX32;
    if (bigSize) big64.push(BigInt(s.size));
    if (bigCompressed) big64.push(BigInt(s.compressed));
    if (bigOffset) big64.push(BigInt(offset));
    const extra = Buffer.concat([...(big64.length > 0 ? [zip64Extra(big64)] : []), timeExtra(e.mtimeNs), ownerExtra(e)]);
    const h = Buffer.alloc(46);
    h.writeUInt32LE(SIG_CENTRAL, 0);
    h.writeUInt16LE(MADE_BY, 4);
    h.writeUInt16LE(big64.length > 0 ? NEEDS_ZIP64 : NEEDS, 6);
    h.writeUInt16LE(flags | nameFlag(name), 8);
    h.writeUInt16LE(method, 10);
    writeDosTime(h, 12, e.mtimeNs);
    h.writeUInt32LE(s.crc >>> 0, 16);
    h.writeUInt32LE(bigCompressed ? MAX32 : s.compressed, 20);
    h.writeUInt32LE(bigSize ? MAX32 : s.size, 24);
    h.writeUInt16LE(name.length, 28);
    h.writeUInt16LE(extra.length, 30);
    h.writeUInt32LE(externalAttributes(e), 38);
    h.writeUInt32LE(bigOffset ? MAX32 : offset, 42);
    const record = Buffer.concat([h, name, extra]);
    this.central.append(record);
    this.centralCount++;
    this.centralBytes += record.length;
  }
}

interface Sizes {
  readonly crc: number;
  readonly compressed: number;
  readonly size: number;
}

function localHeader(e: ArchiveEntry, name: Buffer, method: number, flags: number, s: Sizes, zip64: boolean): Buffer {
  const extra = Buffer.concat([...(zip64 ? [zip64Extra([0n, 0n])] : []), timeExtra(e.mtimeNs), ownerExtra(e)]);
  const h = Buffer.alloc(30);
  h.writeUInt32LE(SIG_LOCAL, 0);
  h.writeUInt16LE(zip64 ? NEEDS_ZIP64 : NEEDS, 4);
  h.writeUInt16LE(flags | nameFlag(name), 6);
  h.writeUInt16LE(method, 8);
  writeDosTime(h, 10, e.mtimeNs);
  h.writeUInt32LE(s.crc >>> 0, 14);
  h.writeUInt32LE(zip64 ? MAX32 : s.compressed, 18);
  h.writeUInt32LE(zip64 ? MAX32 : s.size, 22);
  h.writeUInt16LE(name.length, 26);
  h.writeUInt16LE(extra.length, 28);
  return Buffer.concat([h, name, extra]);
}

function dataDescriptor(s: Sizes, zip64: boolean): Buffer {
  const d = Buffer.alloc(zip64 ? 24 : 16);
  d.writeUInt32LE(SIG_DESCRIPTOR, 0);
  d.writeUInt32LE(s.crc >>> 0, 4);
  if (zip64) {
    d.writeBigUInt64LE(BigInt(s.compressed), 8);
    d.writeBigUInt64LE(BigInt(s.size), 16);
  } else {
    d.writeUInt32LE(s.compressed, 8);
    d.writeUInt32LE(s.size, 12);
  }
  return d;
}

function zip64Extra(values: readonly bigint[]): Buffer {
  const b = Buffer.alloc(4 + 8 * values.length);
  b.writeUInt16LE(0x0001, 0);
  b.writeUInt16LE(8 * values.length, 2);
  values.forEach((v, i) => b.writeBigUInt64LE(v, 4 + 8 * i));
  return b;
}

/** Info-ZIP's extended timestamp: the mtime in whole seconds (when it fits a signed 32-bit field). */
function timeExtra(mtimeNs: bigint): Buffer {
  const s = Number(mtimeNs / 1_000_000_000n);
  if (s < -0x80000000 || s > 0x7fffffff) return Buffer.alloc(0);
  const b = Buffer.alloc(9);
  b.writeUInt16LE(0x5455, 0);
  b.writeUInt16LE(5, 2);
  b.writeUInt8(1, 4);
  b.writeInt32LE(s, 5);
  return b;
}

/** Info-ZIP's "ux" field, version 1: uid and gid, 4 bytes each. */
function ownerExtra(e: ArchiveEntry): Buffer {
  const b = Buffer.alloc(15);
  b.writeUInt16LE(0x7875, 0);
  b.writeUInt16LE(11, 2);
  b.writeUInt8(1, 4);
  b.writeUInt8(4, 5);
  b.writeUInt32LE(e.uid >>> 0, 6);
  b.writeUInt8(4, 10);
  b.writeUInt32LE(e.gid >>> 0, 11);
  return b;
}

function externalAttributes(e: ArchiveEntry): number {
  const type = e.type === 'dir' ? S_IFDIR : e.type === 'symlink' ? S_IFLNK : S_IFREG;
  const mode = e.type === 'symlink' ? 0o777 : e.mode & 0o7777;
  return (((type | mode) << 16) >>> 0) + (e.type === 'dir' ? 0x10 : 0);
}

function nameFlag(name: Buffer): number {
  const ascii = name.every((b) => b < 0x80);
  return !ascii && Buffer.from(name.toString('utf8'), 'utf8').equals(name) ? FLAG_UTF8 : 0;
}

/** MS-DOS time and date (local time, 2-second steps, 1980–2107) at `at` in a header. */
function writeDosTime(h: Buffer, at: number, mtimeNs: bigint): void {
  const d = new Date(Number(mtimeNs / 1_000_000n));
  let year = d.getFullYear();
  if (Number.isNaN(year) || year < 1980) {
    h.writeUInt16LE(0, at);
    h.writeUInt16LE((1 << 5) | 1, at + 2); // 1980-01-01 00:00
    return;
  }
  year = Math.min(year, 2107);
  h.writeUInt16LE((d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1), at);
  h.writeUInt16LE(((year - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(), at + 2);
}

/**
 * Deflates a stream of buffers, with backpressure both ways. A consumer that
 * stops early destroys the deflater, which ends the feeding loop too.
 */
async function* deflated(input: AsyncIterable<Buffer>, level: number): AsyncGenerator<Buffer> {
  const z: DeflateRaw = createDeflateRaw({ level });
  const closed = new Promise<void>((r) => z.once('close', r));
  void (async () => {
    for await (const b of input) {
      if (z.destroyed) return;
      if (!z.write(b)) await Promise.race([new Promise((r) => z.once('drain', r)), closed]);
    }
    if (!z.destroyed) z.end();
  })().catch((err: unknown) => z.destroy(err instanceof Error ? err : new Error(String(err))));
  try {
    for await (const out of z) yield out as Buffer;
  } finally {
    z.destroy();
  }
}
