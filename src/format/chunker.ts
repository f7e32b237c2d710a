/**
 * Content-defined chunking for the pool format: FastCDC with normalized
 * chunking (level 2), implemented from the published algorithm
 * (W. Xia et al., "FastCDC: a Fast and Efficient Content-Defined Chunking
 * Approach for Data Deduplication", USENIX ATC 2016, and the 2020 TPDS
 * extended version).
 *
 * FORMAT CONSTANTS. Chunk boundaries decide chunk ids, so everything that
 * influences them is part of the on-disk format: the GEAR table, the way the
 * masks are derived from avgSize, the hash recurrence, the cut-point rule and
 * DEFAULT_CHUNKER_PARAMS. Changing any of them makes new backups stop
 * deduplicating against old ones (nothing becomes unreadable, but the next
 * backup stores everything again). src/format/chunker.test.ts pins them with a known-answer vector.
 *
 * The algorithm, for a chunk starting at `start` with n = available bytes:
 *   - if n <= minSize the whole rest is one chunk;
 *   - the first minSize bytes are skipped without hashing (cut-point skipping);
 *   - from minSize to avgSize each byte b updates h = (h << 1) + GEAR[b]
 *     (mod 2^32) and the chunk ends after that byte if (h & MASK_S) == 0;
 *   - from avgSize to maxSize the same, with the easier mask MASK_L;
 *   - otherwise the chunk is maxSize bytes (or n, if fewer are left).
 * The chunk includes the byte whose hash matched, so a chunk is at least
 * minSize + 1 bytes long unless it is the last one.
 *
 * Masks (normalization level 2), with k = log2(avgSize):
 *   MASK_S = the top k+2 bits of a 32-bit word set, the rest clear
 *   MASK_L = the top k-2 bits of a 32-bit word set, the rest clear
 * i.e. mask(bits) = (0xFFFFFFFF << (32 - bits)) >>> 0. The high bits are used
 * because in a Gear hash bit j depends on the last j+1 bytes only, so the top
 * bits see the widest window (32 bytes). A cut needs P = 2^-(k+2) per byte
 * before avgSize and 2^-(k-2) after it, which concentrates chunk sizes around
 * avgSize. With minSize = avgSize/4 and maxSize = 4*avgSize the mean chunk
 * size is about 1.15 * avgSize on random data (about 1.2 * on real data).
 */

export interface ChunkerParams {
  readonly minSize: number;
  readonly avgSize: number;
  readonly maxSize: number;
}

/**
 * Chosen from the measurements in docs/design/chunking-measurements.md
 * (bench/chunker-params.ts). A FORMAT CONSTANT: see the header comment.
 */
export const DEFAULT_CHUNKER_PARAMS: ChunkerParams = Object.freeze({
  minSize: 256 * 1024,
  avgSize: 1024 * 1024,
  maxSize: 4 * 1024 * 1024,
});

/**
 * The 256 Gear values. A FORMAT CONSTANT, generated once and pasted here:
 * GEAR[i] = the first 4 bytes, read big-endian, of
 * SHA-256(UTF-8("custos-gear-v1/" + i)) with i written in decimal (0..255).
 * chunker.test.ts regenerates the table that way and compares it.
 *
 * Typed arrays with elements cannot be Object.freeze()d, so the chunker
 * hashes with a private copy made at load time: writing into this exported
 * array does not change chunk boundaries (and the test would catch it).
 */
const GEAR_VALUES: readonly number[] = Object.freeze([
  0x11a2466c, 0x77c0f901, 0x221a4b6e, 0x72787c3c, 0x0ac3eb04, 0x5a002b73, 0x79b921fa, 0xc6f95e88,
  0x63e7de16, 0x143936cc, 0x86eab339, 0x609da6de, 0xd8774a23, 0xda4f5f05, 0x6c9e34e6, 0x50abf9ad,
  0xfa308be1, 0x4f2fabe4, 0x046cabf7, 0x97592713, 0xd4a46e74, 0x87ef3f59, 0x5cb5f197, 0x313c96f7,
  0x2cfea480, 0x78389ec8, 0x7dbd24a5, 0x80b76e95, 0x9d7a269f, 0x58a554b4, 0xf787291a, 0xe7092f57,
  0xa72de7f1, 0x97a8eb49, 0xe9e63ddb, 0x265f5563, 0x7a3b7d27, 0x363e10d8, 0x11946c32, 0xcc011768,
  0xbd968957, 0xbb93b2f4, 0x47258b22, 0xb0f84382, 0xa5a1ace6, 0x0e890c3e, 0xe90a024d, 0x6f5f7279,
  0xcfd15e1a, 0xace6b74c, 0xde6de076, 0x3d5c59c6, 0x356421b7, 0x983e2f5c, 0x9662135b, 0x693edc6d,
  0x6e515c7e, 0xccf8f10c, 0x2f858674, 0xf172e768, 0xd3cc3250, 0x8c0f4f3d, 0x2a2c5ac6, 0xd417985a,
  0xd4791a77, 0xc980f28f, 0x14387397, 0xe9c2b618, 0x4e5e41fd, 0x6707cbb6, 0x9271e629, 0xa2fe9b97,
  0x46b7a087, 0xbbe1ae7f, 0xbc982d5b, 0x52c31070, 0xf41e21c6, 0xa980e241, 0x5f35e823, 0x74c74c08,
  0x65715e83, 0x3e4fc480, 0xbe3e8332, 0x958030f3, 0x9805f7ca, 0xa69cab2f, 0xb08d9b93, 0x35bc042c,
  0x4ad888f6, 0x9580947c, 0xb676a5de, 0x68e87190, 0xc246dd70, 0xb0a33706, 0xcf0dd6c9, 0x6560d6aa,
  0x2f57a7ef, 0x0fa3c5fb, 0x7f6050fb, 0x7faa18ea, 0x1aff551f, 0x644fa2ed, 0x64f0196b, 0x8b38526f,
  0xa99af03f, 0xf6e0143f, 0x3ad99c15, 0x6003da30, 0xfcc4a181, 0xe06fdc07, 0x365c49d9, 0xf496eaa5,
  0xc76dca6d, 0xbdb3156e, 0x604feaae, 0xfe78cb90, 0xf69deacd, 0x41e4a509, 0x393745f5, 0xaf04d08b,
  0xcfb50d4b, 0xa388238c, 0x882612e5, 0x34e60f78, 0xbad17703, 0x536ba7a1, 0xcc99c08d, 0xfb86aa8a,
  0x14dd4d8f, 0xa131e27e, 0x37e24c32, 0x7b967745, 0xf2713c44, 0xd77b47e3, 0xe6ef36e8, 0x1cdec0c9,
  0x0ff8eb06, 0x65c2cd74, 0xe03aa298, 0x55a1813f, 0x9ab33f4b, 0xa1825c3e, 0x39d3e03e, 0x902b18a1,
  0x90d99abc, 0x003be11c, 0x5cfb1293, 0xbcab5f07, 0xc5354378, 0x75665337, 0x19b3aa1a, 0xa65b109f,
  0xdd0bd113, 0x494c0787, 0xfee77d81, 0xe8df2810, 0x97743d58, 0x7d277a12, 0xcebdc2a7, 0x6a188dd2,
  0xed541858, 0x610a9873, 0x1359d5c5, 0xb2b2c2b1, 0x782c9c05, 0x3f86aea5, 0xa94765b6, 0xd4fb80a7,
  0x14938f62, 0x84e9ce5c, 0x6e92033a, 0xd674060a, 0xe4570bbb, 0x31a6b748, 0xd73b4f26, 0x98e6db27,
  0x07f5b114, 0x5f80a292, 0x7c23bbf9, 0xa134311e, 0xb8b98da0, 0x789a1044, 0xe8341b3b, 0x193b2c44,
  0x289d4eca, 0x198cfcbf, 0xa8f80281, 0x417afc2f, 0xc055325f, 0xbb892846, 0x58472911, 0xd64c4cbf,
  0xfe1bb5b5, 0x77d3bfaa, 0x82188d87, 0x52708860, 0x3342721b, 0xdc63ef08, 0x4a45c20b, 0x7c06072d,
  0xc33fdd87, 0x53b6c364, 0xa94eec46, 0x88676ff8, 0xc3f980cd, 0xd84f81ae, 0xdad14aa1, 0xb93bfc7a,
  0x59e058cb, 0x08694157, 0x77706762, 0xc3e4318f, 0x8b0eac99, 0xafbbb4a9, 0xa04abc5c, 0xdbae1377,
  0x6ea14ac8, 0x776a3cf7, 0x5fc16bc4, 0x6fea9acd, 0xe4cabb43, 0xe50dd18e, 0x7fd53702, 0x0d93f7fb,
  0xdfa9cd9b, 0x0f463819, 0xe254c84a, 0x1672a1e7, 0x3502f2c0, 0xca087233, 0xf4a57b27, 0xb3a4c6b5,
  0xe31dcd4f, 0xe24675cc, 0x3aba5953, 0x75375a18, 0xa3509601, 0xb1d68ddb, 0x92287a2c, 0xa2cde740,
  0x9a9fcabc, 0x2be228fc, 0x988aed3d, 0x4dd2a42a, 0x96997789, 0xd24e8ca2, 0x20b12daf, 0x0ef7d0dd,
  0x7ce13d44, 0x2556fa44, 0xff52a767, 0xbaa4345b, 0x6b8e1cfd, 0x6674b1c3, 0x5926c737, 0x4e29c22b,
]);

export const GEAR: Uint32Array = Uint32Array.from(GEAR_VALUES);

/** Private copy used by the hot loop; int32 so the arithmetic stays in small integers. */
const G: Int32Array = Int32Array.from(GEAR_VALUES);

const MIN_BOUND = 64 * 1024;
const MAX_BOUND = 64 * 1024 * 1024;

function isPowerOfTwo(x: number): boolean {
  return Number.isSafeInteger(x) && x > 0 && (x & (x - 1)) === 0;
}

function describe(p: ChunkerParams): string {
  return `minSize=${String(p?.minSize)}, avgSize=${String(p?.avgSize)}, maxSize=${String(p?.maxSize)}`;
}

/**
 * Throws an Error unless minSize, avgSize and maxSize are powers of two with
 * 64 KiB <= minSize < avgSize < maxSize <= 64 MiB.
 */
export function validateChunkerParams(p: ChunkerParams): void {
  if (p === null || typeof p !== 'object') {
    throw new Error('invalid chunker params: expected an object { minSize, avgSize, maxSize }');
  }
  checkSize(p, 'minSize');
  checkSize(p, 'avgSize');
  checkSize(p, 'maxSize');
  if (p.minSize < MIN_BOUND) {
    throw new Error(`invalid chunker params (${describe(p)}): minSize must be at least 64 KiB (65536)`);
  }
  if (!(p.minSize < p.avgSize && p.avgSize < p.maxSize)) {
    throw new Error(`invalid chunker params (${describe(p)}): need minSize < avgSize < maxSize`);
  }
}

function checkSize(p: ChunkerParams, key: keyof ChunkerParams): void {
  const v: unknown = p[key];
  if (typeof v !== 'number' || !isPowerOfTwo(v) || v > MAX_BOUND) {
    throw new Error(
      `invalid chunker params (${describe(p)}): ${key} must be a power of two between 64 KiB and 64 MiB`,
    );
  }
}

/** mask(bits): the top `bits` bits of a 32-bit word, as an int32 (see header). */
function topBitsMask(bits: number): number {
  return (0xffffffff << (32 - bits)) | 0;
}

/*
 * Scanning. The hash recurrence is the same everywhere; only the way bytes
 * are loaded differs. On little-endian hosts (all Node targets in practice)
 * the bulk of a chunk is read as aligned 32-bit words through an Int32Array
 * view, 8 bytes per loop iteration, which is roughly twice as fast in V8 as
 * one Uint8Array load per byte. Unaligned heads, short tails and big-endian
 * hosts use the byte loop. Both paths visit the same bytes in the same order
 * and give identical results (the tests check all alignments).
 */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([0x01020304]).buffer)[0] === 0x04;

/**
 * Hash state carried between the scan calls of one findCut. findCut is
 * synchronous and each worker thread has its own module instance, so a module
 * variable is safe.
 */
let carry = 0;

/** Hash buf[i..to); return the index just past the first byte whose hash matches, or -1 (state left in carry). */
function scanBytes(buf: Uint8Array, i: number, to: number, mask: number): number {
  const g = G;
  let h = carry;
  for (; i < to; i++) {
    h = ((h << 1) + g[buf[i]]) | 0;
    if ((h & mask) === 0) return i + 1;
  }
  carry = h;
  return -1;
}

/** Same contract as scanBytes, faster for long ranges. */
function scan(buf: Uint8Array, i: number, to: number, mask: number): number {
  if (!LITTLE_ENDIAN || to - i < 64) return scanBytes(buf, i, to, mask);
  const head = (4 - ((buf.byteOffset + i) & 3)) & 3;
  if (head !== 0) {
    const r = scanBytes(buf, i, i + head, mask);
    if (r >= 0) return r;
    i += head;
  }
  const words = ((to - i) >> 3) << 1; // an even number of whole words
  const w = new Int32Array(buf.buffer, buf.byteOffset + i, words);
  const g = G;
  let h = carry;
  for (let j = 0; j < words; j += 2) {
    const x = w[j];
    const y = w[j + 1];
    h = ((h << 1) + g[x & 255]) | 0;
    if ((h & mask) === 0) return i + 4 * j + 1;
    h = ((h << 1) + g[(x >> 8) & 255]) | 0;
    if ((h & mask) === 0) return i + 4 * j + 2;
    h = ((h << 1) + g[(x >> 16) & 255]) | 0;
    if ((h & mask) === 0) return i + 4 * j + 3;
    h = ((h << 1) + g[x >>> 24]) | 0;
    if ((h & mask) === 0) return i + 4 * j + 4;
    h = ((h << 1) + g[y & 255]) | 0;
    if ((h & mask) === 0) return i + 4 * j + 5;
    h = ((h << 1) + g[(y >> 8) & 255]) | 0;
    if ((h & mask) === 0) return i + 4 * j + 6;
    h = ((h << 1) + g[(y >> 16) & 255]) | 0;
    if ((h & mask) === 0) return i + 4 * j + 7;
    h = ((h << 1) + g[y >>> 24]) | 0;
    if ((h & mask) === 0) return i + 4 * j + 8;
  }
  carry = h;
  return scanBytes(buf, i + 4 * words, to, mask);
}

/**
 * Length of the chunk that starts at buf[start]. Looks at most at
 * buf[start .. min(end, start+maxSize)).
 * If end-start <= minSize returns end-start. If no cut point is found returns
 * min(end-start, maxSize).
 * The caller passes at least maxSize bytes unless at end of input, so the
 * result depends only on content.
 */
export function findCut(buf: Uint8Array, start: number, end: number, p: ChunkerParams): number {
  validateChunkerParams(p);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || start > end || end > buf.length) {
    throw new RangeError(
      `findCut: need 0 <= start <= end <= buf.length, got start=${start}, end=${end}, length=${buf.length}`,
    );
  }
  const n = end - start;
  if (n <= p.minSize) return n;
  const limit = n < p.maxSize ? n : p.maxSize;
  const normal = p.avgSize < limit ? p.avgSize : limit;
  const bits = 31 - Math.clz32(p.avgSize); // log2(avgSize), exact for a power of two
  const maskS = topBitsMask(bits + 2);
  const maskL = topBitsMask(bits - 2);

  // Cut-point skipping: the first minSize bytes are not hashed at all.
  carry = 0;
  let cut = scan(buf, start + p.minSize, start + normal, maskS);
  if (cut < 0) cut = scan(buf, start + normal, start + limit, maskL);
  return cut < 0 ? limit : cut - start;
}

/** Convenience for tests/tools: all chunk lengths of a whole buffer. */
export function chunkLengths(buf: Uint8Array, p: ChunkerParams): number[] {
  validateChunkerParams(p);
  const out: number[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const len = findCut(buf, pos, buf.length, p);
    out.push(len);
    pos += len;
  }
  return out;
}
