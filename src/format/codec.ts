/**
 * The blob codec: how one chunk or one pool object (index, point, pack
 * trailer) is laid out on disk. See docs/design/pool-format.md, "Blobs".
 *
 *   header  4 bytes  'C' 'K' version flags      (flags: 1 = zstd, 2 = AES-256-GCM)
 *   body    plain:     payload [+ SHA-256 of header+payload, objects only]
 *           encrypted: nonce(12) ciphertext tag(16); AAD = header + chunk id (chunks)
 *                      or header + object kind (objects)
 *
 * Every decode checks integrity: a chunk is re-hashed against its id, an
 * object against its checksum or tag. Nothing corrupt is ever returned.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { compress, decompress } from 'zstd-napi';
import zstdBinding from 'zstd-napi/binding.js';
import { IntegrityError, type ChunkId, CustosError } from '../base/index.js';
import type { ChunkKeys } from './keys.js';

export const BLOB_MAGIC_0 = 0x43; // 'C'
export const BLOB_MAGIC_1 = 0x4b; // 'K'
export const BLOB_VERSION = 1;
export const FLAG_ZSTD = 1;
export const FLAG_ENCRYPTED = 2;
export const HEADER_SIZE = 4;
export const NONCE_SIZE = 12;
export const TAG_SIZE = 16;
export const CHECKSUM_SIZE = 32;

/** The largest chunk verifyChunk accepts (the chunker's largest is 4 MiB). */
const MAX_VERIFIED_CHUNK = 16 * 1024 * 1024;

/** Compression is kept only when it saves at least 1/32 of the size. */
const MIN_SAVING_SHIFT = 5;

export type ObjectKind = 'index' | 'point' | 'pack-trailer' | 'catalog-backup';

export interface CodecOptions {
  /** A pool's keys; an id key alone (an agent's) makes a codec of transport-form chunks. */
  readonly keys: ChunkKeys | null;
  readonly compressionLevel: number;
}

function header(flags: number): Buffer {
  return Buffer.from([BLOB_MAGIC_0, BLOB_MAGIC_1, BLOB_VERSION, flags]);
}

function parseHeader(blob: Uint8Array, what: string): number {
  if (blob.length < HEADER_SIZE || blob[0] !== BLOB_MAGIC_0 || blob[1] !== BLOB_MAGIC_1) {
    throw new IntegrityError(`${what}: not a Custos blob (bad magic)`);
  }
  if (blob[2] !== BLOB_VERSION) {
    throw new CustosError('format', `${what}: blob version ${blob[2]} is not supported by this Custos (supports ${BLOB_VERSION})`);
  }
  const flags = blob[3]!;
  if (flags & ~(FLAG_ZSTD | FLAG_ENCRYPTED)) throw new IntegrityError(`${what}: unknown blob flags ${flags}`);
  return flags;
}

export class BlobCodec {
  readonly encrypted: boolean;
  private readonly idKey: Uint8Array | null;
  private readonly dataKey: Uint8Array | null;
  private readonly level: number;

  constructor(options: CodecOptions) {
    this.idKey = options.keys?.idKey ?? null;
    this.dataKey = options.keys?.dataKey ?? null;
    this.encrypted = this.dataKey !== null;
    this.level = options.compressionLevel;
  }

  /** SHA-256 of the plaintext, keyed (HMAC) when the pool is encrypted. */
  chunkIdBytes(data: Uint8Array): Buffer {
    return this.idKey ? createHmac('sha256', this.idKey).update(data).digest() : createHash('sha256').update(data).digest();
  }

  chunkId(data: Uint8Array): ChunkId {
    return this.chunkIdBytes(data).toString('hex') as ChunkId;
  }

  /** Compresses when worthwhile, returning the payload and the flag to set. */
  private pack(data: Uint8Array): { payload: Uint8Array; flags: number } {
    if (this.level > 0 && data.length >= 64) {
      const z = compress(data, { compressionLevel: this.level });
      if (z.length <= data.length - (data.length >> MIN_SAVING_SHIFT)) return { payload: z, flags: FLAG_ZSTD };
    }
    return { payload: data, flags: 0 };
  }

  private seal(flags: number, payload: Uint8Array, aadTail: Uint8Array): Buffer {
    const h = header(flags | FLAG_ENCRYPTED);
    const nonce = randomBytes(NONCE_SIZE);
    const cipher = createCipheriv('aes-256-gcm', this.dataKey!, nonce);
    cipher.setAAD(Buffer.concat([h, aadTail]));
    const ct = cipher.update(payload);
    const fin = cipher.final();
    return Buffer.concat([h, nonce, ct, fin, cipher.getAuthTag()]);
  }

  private open(blob: Uint8Array, aadTail: Uint8Array, what: string): Buffer {
    if (!this.dataKey) throw new CustosError('bad-key', `${what} is encrypted; give the pool's --key-file`);
    if (blob.length < HEADER_SIZE + NONCE_SIZE + TAG_SIZE) throw new IntegrityError(`${what}: truncated`);
    const nonce = blob.subarray(HEADER_SIZE, HEADER_SIZE + NONCE_SIZE);
    const tag = blob.subarray(blob.length - TAG_SIZE);
    const decipher = createDecipheriv('aes-256-gcm', this.dataKey, nonce);
    decipher.setAAD(Buffer.concat([blob.subarray(0, HEADER_SIZE), aadTail]));
    decipher.setAuthTag(tag);
    const ct = blob.subarray(HEADER_SIZE + NONCE_SIZE, blob.length - TAG_SIZE);
    try {
      return Buffer.concat([decipher.update(ct), decipher.final()]);
    } catch (err) {
      throw new IntegrityError(`${what}: authentication failed (damaged or tampered with)`, { cause: err });
    }
  }

  private unpack(payload: Uint8Array, flags: number, what: string): Buffer {
    if (!(flags & FLAG_ZSTD)) return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    try {
      return decompress(payload);
    } catch (err) {
      throw new IntegrityError(`${what}: cannot decompress`, { cause: err });
    }
  }

  encodeChunk(id: Uint8Array, data: Uint8Array): Buffer {
    const { payload, flags } = this.pack(data);
    if (this.dataKey) return this.seal(flags, payload, id);
    return Buffer.concat([header(flags), payload]);
  }

  /** Decodes and verifies a chunk; throws IntegrityError unless it hashes to `id`. */
  decodeChunk(id: Uint8Array, blob: Uint8Array): Buffer {
    const { what, flags, payload } = this.openChunk(id, blob);
    const data = this.unpack(payload, flags, what);
    this.checkId(id, data, what);
    return data;
  }

  /** A chunk blob's header checked and its payload decrypted (still compressed when flags say so). */
  private openChunk(id: Uint8Array, blob: Uint8Array): { what: string; flags: number; payload: Uint8Array } {
    const what = `chunk ${Buffer.from(id).toString('hex')}`;
    const flags = parseHeader(blob, what);
    if (!!(flags & FLAG_ENCRYPTED) !== this.encrypted) throw new IntegrityError(`${what}: encryption flag does not match the pool`);
    return { what, flags, payload: flags & FLAG_ENCRYPTED ? this.open(blob, id, what) : blob.subarray(HEADER_SIZE) };
  }

  private checkId(id: Uint8Array, data: Uint8Array, what: string): void {
    if (!this.chunkIdBytes(data).equals(id)) throw new IntegrityError(`${what}: content does not match its id`);
  }

  /**
   * Checks a chunk blob against its id and its claimed raw length without
   * keeping the data: decompresses into a buffer reused from call to call,
   * so checking a stream of chunks allocates almost nothing. Throws
   * IntegrityError like decodeChunk.
   */
  verifyChunk(id: Uint8Array, blob: Uint8Array, rawLength: number): void {
    const { what, flags, payload } = this.openChunk(id, blob);
    this.checkPayload(id, flags, payload, rawLength, what);
  }

  /**
   * decodeChunk for a caller that uses the plaintext at once (the restore's
   * writers): checked the same way, but decompressed into a buffer this
   * codec reuses, so the result is valid only until its next call. A
   * restore then allocates almost nothing per chunk instead of its whole
   * size in garbage.
   */
  decodeChunkShared(id: Uint8Array, blob: Uint8Array, rawLength: number): Buffer {
    const { what, flags, payload } = this.openChunk(id, blob);
    return this.checkPayload(id, flags, payload, rawLength, what);
  }

  /**
   * The server's intake of a chunk an agent sent (agent protocol 2): checks
   * a chunk in transport form (never encrypted) against its id and claimed
   * raw length like verifyChunk, and returns it in this pool's stored form
   * (sealed with the data key, the payload kept as compressed). In an
   * unencrypted pool both forms are the same bytes.
   */
  sealTransport(id: Uint8Array, blob: Uint8Array, rawLength: number): Uint8Array {
    const flags = this.checkTransport(id, blob, rawLength);
    return this.dataKey ? this.seal(flags, blob.subarray(HEADER_SIZE), id) : blob;
  }

  /** The check of sealTransport alone (a chunk the pool already holds); returns the blob's flags. */
  checkTransport(id: Uint8Array, blob: Uint8Array, rawLength: number): number {
    const what = `chunk ${Buffer.from(id).toString('hex')}`;
    const flags = parseHeader(blob, what);
    if (flags & FLAG_ENCRYPTED) throw new IntegrityError(`${what}: a chunk in transport form is never encrypted`);
    this.checkPayload(id, flags, blob.subarray(HEADER_SIZE), rawLength, what);
    return flags;
  }

  /**
   * A stored chunk in transport form, for an agent (agent protocol 2): the
   * blob decrypted (which authenticates it against its id) and sent with its
   * payload as compressed; the agent decompresses and checks the id.
   */
  toTransport(id: Uint8Array, blob: Uint8Array): Buffer {
    const { flags, payload } = this.openChunk(id, blob);
    if (!(flags & FLAG_ENCRYPTED)) return Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
    return Buffer.concat([header(flags & ~FLAG_ENCRYPTED), payload]);
  }

  /** The plaintext (a view into `scratch` when it was compressed, else into `payload`), checked against id and length. */
  private checkPayload(id: Uint8Array, flags: number, payload: Uint8Array, rawLength: number, what: string): Buffer {
    if (!Number.isSafeInteger(rawLength) || rawLength < 0 || rawLength > MAX_VERIFIED_CHUNK) {
      throw new IntegrityError(`${what}: raw length ${rawLength} is out of range`);
    }
    let data = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    if (flags & FLAG_ZSTD) {
      if (this.scratch.length < rawLength) this.scratch = Buffer.allocUnsafe(Math.max(rawLength, 2 * this.scratch.length));
      let n: number;
      try {
        if (zstdBinding.getFrameContentSize(payload) !== rawLength) throw new Error('frame content size differs');
        n = this.dctx.decompress(this.scratch.subarray(0, rawLength), payload);
      } catch (err) {
        throw new IntegrityError(`${what}: cannot decompress to ${rawLength} bytes`, { cause: err });
      }
      data = this.scratch.subarray(0, n);
    }
    if (data.length !== rawLength) throw new IntegrityError(`${what}: length ${data.length} is not the ${rawLength} claimed`);
    this.checkId(id, data, what);
    return data;
  }

  private scratch: Buffer = Buffer.alloc(0);
  private readonly dctx = new zstdBinding.DCtx();

  encodeObject(kind: ObjectKind, data: Uint8Array): Buffer {
    const { payload, flags } = this.pack(data);
    if (this.dataKey) return this.seal(flags, payload, Buffer.from(kind));
    const h = header(flags);
    const sum = createHash('sha256').update(h).update(kind).update(payload).digest();
    return Buffer.concat([h, payload, sum]);
  }

  decodeObject(kind: ObjectKind, blob: Uint8Array, what: string = kind): Buffer {
    const flags = parseHeader(blob, what);
    if (!!(flags & FLAG_ENCRYPTED) !== this.encrypted) {
      if (this.encrypted) throw new IntegrityError(`${what}: stored unencrypted in an encrypted pool`);
      throw new CustosError('bad-key', `${what} is encrypted; give the pool's --key-file`);
    }
    let payload: Uint8Array;
    if (flags & FLAG_ENCRYPTED) {
      payload = this.open(blob, Buffer.from(kind), what);
    } else {
      if (blob.length < HEADER_SIZE + CHECKSUM_SIZE) throw new IntegrityError(`${what}: truncated`);
      payload = blob.subarray(HEADER_SIZE, blob.length - CHECKSUM_SIZE);
      const sum = createHash('sha256').update(blob.subarray(0, HEADER_SIZE)).update(kind).update(payload).digest();
      if (!sum.equals(blob.subarray(blob.length - CHECKSUM_SIZE))) throw new IntegrityError(`${what}: checksum mismatch`);
    }
    return this.unpack(payload, flags, what);
  }
}
