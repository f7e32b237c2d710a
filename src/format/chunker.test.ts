import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  DEFAULT_CHUNKER_PARAMS,
  GEAR,
  chunkLengths,
  findCut,
  validateChunkerParams,
  type ChunkerParams,
} from './chunker.js';

const KiB = 1024;
const MiB = 1024 * 1024;

/** Deterministic bytes: xorshift32 (13, 17, 5), each state word written little-endian. */
function xorshiftBytes(seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  let i = 0;
  while (i < length) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    for (let k = 0; k < 4 && i < length; k++, i++) out[i] = (x >>> (8 * k)) & 0xff;
  }
  return out;
}

/** GEAR as documented in chunker.ts: first 4 bytes (big-endian) of SHA-256("custos-gear-v1/" + i). */
function regenerateGear(): number[] {
  const out: number[] = [];
  for (let i = 0; i < 256; i++) {
    out.push(createHash('sha256').update(`custos-gear-v1/${i}`, 'utf8').digest().readUInt32BE(0));
  }
  return out;
}
const REF_GEAR = regenerateGear();

/**
 * Reference model: FastCDC with normalized chunking level 2, written as
 * plainly as possible in unsigned Number arithmetic, independent of the
 * optimized implementation. "Top b bits of h are zero" is "h < 2^(32-b)".
 */
function refCut(buf: Uint8Array, start: number, end: number, p: ChunkerParams): number {
  const n = end - start;
  if (n <= p.minSize) return n;
  const limit = Math.min(n, p.maxSize);
  const normal = Math.min(p.avgSize, limit);
  const k = Math.log2(p.avgSize);
  const belowS = 2 ** (32 - (k + 2));
  const belowL = 2 ** (32 - (k - 2));
  let h = 0;
  for (let i = p.minSize; i < limit; i++) {
    h = (h * 2 + REF_GEAR[buf[start + i]!]!) % 2 ** 32;
    if (h < (i < normal ? belowS : belowL)) return i + 1;
  }
  return limit;
}
function refLengths(buf: Uint8Array, p: ChunkerParams): number[] {
  const out: number[] = [];
  for (let pos = 0; pos < buf.length; ) {
    const len = refCut(buf, pos, buf.length, p);
    out.push(len);
    pos += len;
  }
  return out;
}

function params(minSize: number, avgSize: number, maxSize: number): ChunkerParams {
  return { minSize, avgSize, maxSize };
}
const SMALLEST = params(64 * KiB, 128 * KiB, 256 * KiB);
const PARAM_CHOICES: ChunkerParams[] = [
  SMALLEST,
  params(64 * KiB, 256 * KiB, 1 * MiB),
  params(128 * KiB, 512 * KiB, 2 * MiB),
  DEFAULT_CHUNKER_PARAMS,
];

type Mode = 'random' | 'zeros' | 'lowEntropy' | 'mixed';
function makeData(mode: Mode, seed: number, length: number): Uint8Array {
  const r = xorshiftBytes(seed, length);
  switch (mode) {
    case 'random':
      return r;
    case 'zeros':
      return new Uint8Array(length);
    case 'lowEntropy': // text-like: 4 symbols
      for (let i = 0; i < length; i++) r[i] = 0x61 + (r[i]! & 3);
      return r;
    case 'mixed': // 64 KiB blocks: random, zero, or a copy of an earlier block
      for (let b = 64 * KiB; b < length; b += 64 * KiB) {
        const kind = r[b]! % 3;
        const end = Math.min(b + 64 * KiB, length);
        if (kind === 0) r.fill(0, b, end);
        else if (kind === 1) r.copyWithin(b, b - 64 * KiB, end - 64 * KiB);
      }
      return r;
  }
}

function boundaries(lengths: number[]): number[] {
  const out: number[] = [];
  let pos = 0;
  for (const l of lengths) out.push((pos += l));
  return out;
}

test('GEAR matches its documented derivation (SHA-256 of "custos-gear-v1/" + i)', () => {
  assert.equal(GEAR.length, 256);
  assert.deepEqual(Array.from(GEAR), REF_GEAR);
  assert.equal(new Set(REF_GEAR).size, 256, 'entries are distinct');
});

test('writing into the exported GEAR does not change chunking', () => {
  const data = xorshiftBytes(7, 3 * MiB);
  const before = chunkLengths(data, SMALLEST);
  const saved = Array.from(GEAR);
  try {
    for (let i = 0; i < 256; i++) GEAR[i] = 0;
    assert.deepEqual(chunkLengths(data, SMALLEST), before);
  } finally {
    GEAR.set(saved);
  }
  assert.deepEqual(Array.from(GEAR), REF_GEAR);
});

test('optimized findCut equals the plain reference model, at every alignment', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 0xffffffff }),
      fc.oneof(
        fc.integer({ min: 0, max: 2 * MiB + 12345 }),
        fc.constantFrom(0, 1, 64 * KiB, 64 * KiB + 1, 128 * KiB, 128 * KiB + 1, 256 * KiB, 256 * KiB + 7),
      ),
      fc.constantFrom(...PARAM_CHOICES.slice(0, 3)),
      fc.constantFrom<Mode>('random', 'zeros', 'lowEntropy', 'mixed'),
      fc.integer({ min: 0, max: 7 }),
      (seed, length, p, mode, misalign) => {
        const data = makeData(mode, seed, length);
        // Same bytes placed at an arbitrary byte offset inside a larger buffer.
        const host = new Uint8Array(length + misalign + 5);
        host.set(data, misalign);
        const view = host.subarray(misalign, misalign + length);
        const expected = refLengths(data, p);
        assert.deepEqual(chunkLengths(view, p), expected);
        let pos = misalign;
        for (const len of expected) {
          assert.equal(findCut(host, pos, misalign + length, p), len);
          pos += len;
        }
      },
    ),
    { numRuns: 30 },
  );
});

test('chunk-size invariants, determinism, and content-only dependence (property)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 0xffffffff }),
      fc.integer({ min: 0, max: 6 * MiB }),
      fc.constantFrom(...PARAM_CHOICES),
      fc.constantFrom<Mode>('random', 'zeros', 'lowEntropy', 'mixed'),
      (seed, length, p, mode) => {
        const data = makeData(mode, seed, length);
        const lengths = chunkLengths(data, p);
        assert.equal(lengths.reduce((a, b) => a + b, 0), length, 'lengths sum to input');
        if (length === 0) assert.deepEqual(lengths, []);
        lengths.forEach((l, i) => {
          assert.ok(l <= p.maxSize, `chunk ${i} is ${l} > maxSize`);
          if (i < lengths.length - 1) assert.ok(l > p.minSize, `chunk ${i} is ${l} <= minSize`);
          else assert.ok(l > 0);
        });
        assert.deepEqual(chunkLengths(data.slice(), p), lengths, 'deterministic');
        // A streaming caller that holds only min(maxSize, rest) bytes, copied
        // to a fresh buffer at an odd offset, finds the same cuts.
        let pos = 0;
        for (const len of lengths) {
          const n = Math.min(p.maxSize, length - pos);
          const win = new Uint8Array(n + 3);
          win.set(data.subarray(pos, pos + n), 3);
          assert.equal(findCut(win, 3, 3 + n, p), len);
          pos += len;
        }
      },
    ),
    { numRuns: 25 },
  );
});

test('small inputs, zeros, and the lookahead limit', () => {
  const p = DEFAULT_CHUNKER_PARAMS;
  assert.deepEqual(chunkLengths(new Uint8Array(0), p), []);
  assert.deepEqual(chunkLengths(new Uint8Array(5), p), [5]);
  assert.deepEqual(chunkLengths(new Uint8Array(p.minSize), p), [p.minSize]);
  assert.equal(findCut(new Uint8Array(10), 3, 3, p), 0);
  // Zeros never match the mask: every chunk is maxSize.
  assert.deepEqual(chunkLengths(new Uint8Array(2 * p.maxSize + 100), p), [p.maxSize, p.maxSize, 100]);
  // Bytes at or beyond start + maxSize never influence the result.
  const data = xorshiftBytes(99, 3 * p.maxSize);
  const a = findCut(data, 1000, data.length, p);
  const other = data.slice();
  other.fill(0xab, 1000 + p.maxSize);
  assert.equal(findCut(other, 1000, other.length, p), a);
  assert.throws(() => findCut(data, -1, 10, p), RangeError);
  assert.throws(() => findCut(data, 10, 5, p), RangeError);
  assert.throws(() => findCut(data, 0, data.length + 1, p), RangeError);
  assert.throws(() => findCut(data, 0.5, 10, p), RangeError);
});

/**
 * Byte sequences that, hashed from h = 0, first reach a hash whose top 22 bits
 * (hence also top 19 bits) are zero at their last byte: s bytes 0x55 then three
 * bytes found by exhaustive search. SEQS[s] has length s + 3, so together they
 * put a cut at every position of the 8-byte unrolled loop.
 */
const CUT_SEQS: number[][] = [
  [12, 37, 173],
  [85, 14, 59, 87],
  [85, 85, 102, 251, 190],
  [85, 85, 85, 26, 183, 101],
  [85, 85, 85, 85, 147, 114, 196],
  [85, 85, 85, 85, 85, 227, 118, 39],
  [85, 85, 85, 85, 85, 85, 32, 33, 58],
  [85, 85, 85, 85, 85, 85, 85, 78, 226, 27],
];

test('cut-point skipping: the hash starts from zero at start + minSize; cuts at every loop position', () => {
  // Check the sequences against the documented rule, independently of the chunker.
  for (const seq of CUT_SEQS) {
    let h = 0;
    seq.forEach((b, i) => {
      h = (h * 2 + REF_GEAR[b]!) % 2 ** 32;
      assert.equal(h < 2 ** 10, i === seq.length - 1, `sequence ${seq.join(',')} at ${i}`);
    });
  }
  for (const p of [SMALLEST, DEFAULT_CHUNKER_PARAMS]) {
    for (let misalign = 0; misalign < 4; misalign++) {
      const base = xorshiftBytes(1000 + misalign, misalign + p.maxSize + 100);
      for (const seq of CUT_SEQS) {
        const host = base.slice();
        host.set(seq, misalign + p.minSize);
        const what = `seq length ${seq.length}, misalign ${misalign}, avg ${p.avgSize}`;
        assert.equal(refCut(host, misalign, host.length, p), p.minSize + seq.length, what);
        assert.equal(findCut(host, misalign, host.length, p), p.minSize + seq.length, what);
        // The skipped prefix never influences the cut.
        host.fill(misalign * 31 + seq.length, misalign, misalign + p.minSize);
        assert.equal(findCut(host, misalign, host.length, p), p.minSize + seq.length, `${what}, prefix changed`);
      }
    }
  }
});

test('shift resistance: a small insertion near the start leaves later boundaries in place', () => {
  const p = DEFAULT_CHUNKER_PARAMS;
  const original = xorshiftBytes(0xc0ffee, 32 * MiB);
  const at = 12345;
  const inserted = new Uint8Array([1, 2, 3, 4, 5, 6, 7]);
  const edited = new Uint8Array(original.length + inserted.length);
  edited.set(original.subarray(0, at), 0);
  edited.set(inserted, at);
  edited.set(original.subarray(at), at + inserted.length);

  const before = boundaries(chunkLengths(original, p)).filter((b) => b > at);
  const after = new Set(boundaries(chunkLengths(edited, p)).map((b) => b - inserted.length));
  assert.ok(before.length >= 20, `expected many chunks, got ${before.length}`);
  const kept = before.filter((b) => after.has(b)).length;
  // Content-defined boundaries resynchronize within a chunk or two.
  assert.ok(kept >= before.length - 2, `only ${kept} of ${before.length} boundaries survived the insertion`);

  // A fixed-size chunker would lose every boundary: make sure the test can tell.
  const fixed = (n: number) => Array.from({ length: Math.floor(n / p.avgSize) }, (_, i) => (i + 1) * p.avgSize);
  const fixedAfter = new Set(fixed(edited.length).map((b) => b - inserted.length));
  assert.equal(fixed(original.length).filter((b) => b > at && fixedAfter.has(b)).length, 0);
});

/**
 * FORMAT FIXTURE. Chunk lengths of xorshiftBytes(0x5eed1234, 24 MiB) with
 * DEFAULT_CHUNKER_PARAMS. If this fails, chunk boundaries changed: new
 * backups would no longer deduplicate against existing pools. Do not update
 * the numbers unless the format version changes on purpose. (These values
 * were cross-checked against an independent Python implementation.)
 */
const KAT_DEFAULT: number[] = [
  1236067, 2138655, 1311708, 1780263, 1750247, 1220575, 507447, 1074691, 1442019, 1387378,
  1174397, 367565, 1357053, 1143554, 1178731, 1362972, 1275075, 1423227, 1050130, 984070,
];

/** Second fixture with the smallest legal params, pinning the mask derivation for another avgSize. */
const KAT_SMALLEST: number[] = [
  193482, 159867, 146444, 140512, 159389, 134515, 156313, 145545, 139124, 166122, 142862, 211874, 171326, 74909,
  143762, 138901, 132006, 141595, 219252, 246219, 156564, 158572, 145093, 176249, 178350, 160589, 54868,
];

/** SHA-256 prefix of the fixture input, pinning the generator. */
const KAT_DATA_SHA256_PREFIX = '29a325cca6d23ec1';

test('known-answer vector (format fixture)', () => {
  const data = xorshiftBytes(0x5eed1234, 24 * MiB);
  // Pin the generator too, so a PRNG mistake is not mistaken for a chunker change.
  assert.equal(
    createHash('sha256').update(data).digest('hex').slice(0, 16),
    KAT_DATA_SHA256_PREFIX,
  );
  assert.deepEqual(chunkLengths(data, DEFAULT_CHUNKER_PARAMS), KAT_DEFAULT);
  assert.deepEqual(chunkLengths(data.subarray(0, 4 * MiB), SMALLEST), KAT_SMALLEST);
});

test('validateChunkerParams accepts legal params and rejects bad ones', () => {
  validateChunkerParams(DEFAULT_CHUNKER_PARAMS);
  validateChunkerParams(SMALLEST);
  validateChunkerParams(params(16 * MiB, 32 * MiB, 64 * MiB));
  const bad: Array<[unknown, RegExp]> = [
    [params(100_000, 1 * MiB, 4 * MiB), /minSize must be a power of two/],
    [params(256 * KiB, 1_000_000, 4 * MiB), /avgSize must be a power of two/],
    [params(256 * KiB, 1 * MiB, 3 * MiB), /maxSize must be a power of two/],
    [params(32 * KiB, 128 * KiB, 512 * KiB), /minSize must be at least 64 KiB/],
    [params(16 * MiB, 32 * MiB, 128 * MiB), /maxSize must be a power of two between 64 KiB and 64 MiB/],
    [params(1 * MiB, 1 * MiB, 4 * MiB), /minSize < avgSize < maxSize/],
    [params(256 * KiB, 4 * MiB, 4 * MiB), /minSize < avgSize < maxSize/],
    [params(1 * MiB, 256 * KiB, 4 * MiB), /minSize < avgSize < maxSize/],
    [params(256 * KiB, 1 * MiB, 512 * KiB), /minSize < avgSize < maxSize/],
    [params(65536.5, 1 * MiB, 4 * MiB), /minSize must be a power of two/],
    [params(Number.NaN, 1 * MiB, 4 * MiB), /minSize must be a power of two/],
    [params(256 * KiB, Infinity, 4 * MiB), /avgSize must be a power of two/],
    [params(-65536, 1 * MiB, 4 * MiB), /minSize must be a power of two/],
    [params(0, 1 * MiB, 4 * MiB), /minSize must be a power of two/],
    [params(256 * KiB, 1 * MiB, 2 ** 32), /maxSize must be a power of two/],
    [{ minSize: '262144', avgSize: 1 * MiB, maxSize: 4 * MiB }, /minSize must be a power of two/],
    [{ avgSize: 1 * MiB, maxSize: 4 * MiB }, /minSize must be a power of two/],
    [null, /expected an object/],
    [undefined, /expected an object/],
  ];
  for (const [p, message] of bad) {
    assert.throws(() => validateChunkerParams(p as ChunkerParams), message, JSON.stringify(p));
    assert.throws(() => findCut(new Uint8Array(10), 0, 10, p as ChunkerParams), message);
    assert.throws(() => chunkLengths(new Uint8Array(10), p as ChunkerParams), message);
  }
});
