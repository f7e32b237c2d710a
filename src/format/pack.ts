/**
 * Pack files and index objects. A pack holds many encoded chunks back to back,
 * then a trailer naming them, so a lost index can be rebuilt from the packs:
 *
 *   blob* trailer-object u32le(trailer length) "CKPK"
 *
 * An index object lists, for several packs, where each chunk lives. Both use
 * the same 44-byte entry: id(32) offset(u32) length(u32) rawLength(u32).
 */
import { IntegrityError, type PackId } from '../base/index.js';
import { ByteReader, ByteWriter } from './binary.js';
import type { BlobCodec } from './codec.js';

export const PACK_MAGIC = Buffer.from('CKPK');
export const INDEX_VERSION = 1;
export const ENTRY_SIZE = 44;

export interface PackEntry {
  /** 32-byte chunk id. */
  readonly id: Buffer;
  readonly offset: number;
  /** Encoded length in the pack. */
  readonly length: number;
  /** Plaintext length. */
  readonly rawLength: number;
}

export interface PackEntries {
  readonly packId: PackId;
  readonly entries: readonly PackEntry[];
}

function writeEntries(w: ByteWriter, entries: readonly PackEntry[]): void {
  w.varint(entries.length);
  for (const e of entries) w.raw(e.id).u32(e.offset).u32(e.length).u32(e.rawLength);
}

function readEntries(r: ByteReader): PackEntry[] {
  const n = r.varint();
  const out: PackEntry[] = new Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = { id: Buffer.from(r.raw(32)), offset: r.u32(), length: r.u32(), rawLength: r.u32() };
  }
  return out;
}

/** The bytes that end a pack whose blobs occupy [0, blobsLength). */
export function encodePackTrailer(codec: BlobCodec, entries: readonly PackEntry[]): Buffer {
  const w = new ByteWriter(entries.length * ENTRY_SIZE + 16);
  writeEntries(w, entries);
  const obj = codec.encodeObject('pack-trailer', w.finish());
  const tail = Buffer.alloc(8);
  tail.writeUInt32LE(obj.length, 0);
  PACK_MAGIC.copy(tail, 4);
  return Buffer.concat([obj, tail]);
}

/** Reads a whole pack's trailer back (used by index rebuild and verify). */
export function decodePackTrailer(codec: BlobCodec, pack: Buffer, what: string): PackEntry[] {
  if (pack.length < 8 || !pack.subarray(pack.length - 4).equals(PACK_MAGIC)) throw new IntegrityError(`${what}: no pack trailer`);
  const len = pack.readUInt32LE(pack.length - 8);
  if (len > pack.length - 8) throw new IntegrityError(`${what}: bad trailer length`);
  const obj = pack.subarray(pack.length - 8 - len, pack.length - 8);
  return readEntries(new ByteReader(codec.decodeObject('pack-trailer', obj, `${what} trailer`), 0, `${what} trailer`));
}

export function encodeIndex(codec: BlobCodec, packs: readonly PackEntries[]): Buffer {
  const w = new ByteWriter(64 * 1024);
  w.u8(INDEX_VERSION).varint(packs.length);
  for (const p of packs) {
    w.raw(Buffer.from(p.packId, 'hex'));
    writeEntries(w, p.entries);
  }
  return codec.encodeObject('index', w.finish());
}

export function decodeIndex(codec: BlobCodec, blob: Buffer, what: string): PackEntries[] {
  const r = new ByteReader(codec.decodeObject('index', blob, what), 0, what);
  const v = r.u8();
  if (v !== INDEX_VERSION) throw new IntegrityError(`${what}: index version ${v} is not supported`);
  const n = r.varint();
  const out: PackEntries[] = [];
  for (let i = 0; i < n; i++) {
    const packId = r.raw(16).toString('hex') as PackId;
    out.push({ packId, entries: readEntries(r) });
  }
  return out;
}
