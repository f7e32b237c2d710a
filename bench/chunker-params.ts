/**
 * Measurement behind DEFAULT_CHUNKER_PARAMS (docs/design/chunking-measurements.md).
 *
 *   npx tsc -p . && node dist/bench/chunker-params.js [--tar PATH] [--image-mib N] [--seed N]
 *
 * For each candidate (min = avg/4, max = 4*avg) it reports:
 *   - chunking throughput (findCut only, single thread, best of 5 on 256 MiB of
 *     random data, best of 3 on the tar of /usr/share);
 *   - the mean chunk size;
 *   - dedup after edits: two corpora, a tar of /usr/share (created with
 *     `tar cf` into /tmp if missing) and a synthetic disk image mixing random,
 *     zero, text-like and duplicated extents; each gets 100 random 4 KiB
 *     overwrites and 20 small insertions; "new bytes" is the size of the
 *     distinct chunks of the edited version whose SHA-256 does not occur in the
 *     original, i.e. what a second backup would have to store;
 *   - index metadata per TiB stored: (2^40 / mean chunk size) * 48 bytes
 *     (32-byte id + 16 bytes of location).
 * MB below means 10^6 bytes.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { chunkLengths, findCut, validateChunkerParams, type ChunkerParams } from '../src/format/chunker.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const MB = 1e6;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}
const TAR_PATH = arg('--tar', '/tmp/custos-bench-usr-share.tar');
const IMAGE_MIB = Number(arg('--image-mib', '512'));
const SEED = Number(arg('--seed', '20240601'));

function candidate(avgKiB: number): ChunkerParams {
  const avg = avgKiB * KiB;
  return { minSize: avg / 4, avgSize: avg, maxSize: avg * 4 };
}
const CANDIDATES: ChunkerParams[] = [256, 512, 1024, 2048, 4096].map(candidate);

/** Small seeded PRNG (xorshift32) so edits and the synthetic image are reproducible. */
class Rng {
  private x: number;
  constructor(seed: number) {
    this.x = seed >>> 0 || 1;
  }
  next(): number {
    let x = this.x;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    this.x = x >>> 0;
    return this.x;
  }
  /** Uniform integer in [0, n) for 0 < n <= 2^32. */
  below(n: number): number {
    return Math.floor((this.next() / 0x100000000) * n);
  }
  fill(buf: Uint8Array, start = 0, end = buf.length): void {
    for (let i = start; i < end; ) {
      const x = this.next();
      for (let k = 0; k < 4 && i < end; k++, i++) buf[i] = (x >>> (8 * k)) & 0xff;
    }
  }
}

function loadTar(): Buffer {
  if (!existsSync(TAR_PATH)) {
    console.error(`creating ${TAR_PATH} from /usr/share ...`);
    try {
      execFileSync('tar', ['cf', TAR_PATH, '-C', '/', 'usr/share'], { stdio: ['ignore', 'ignore', 'ignore'] });
    } catch {
      // tar exits non-zero on unreadable or changing files; the archive is still usable.
    }
  }
  const size = statSync(TAR_PATH).size;
  if (size < 500 * MB) throw new Error(`${TAR_PATH} is only ${(size / MB).toFixed(0)} MB; need >= 500 MB`);
  return readFileSync(TAR_PATH);
}

/**
 * A synthetic disk image: 4 KiB-aligned extents of 4 KiB .. 4 MiB, each one of
 * random (compressed/encrypted files), zeros (free space), text-like (logs,
 * configs) or a copy of an earlier extent (duplicated files).
 */
function makeImage(size: number, rng: Rng): Uint8Array {
  const img = new Uint8Array(size);
  const words = ['INFO', 'WARN', 'ERROR', 'user', 'session', 'opened', 'closed', 'for', 'root', 'by', 'uid=0',
    'systemd', 'cron', 'kernel:', 'eth0', 'link', 'up', 'down', 'GET', '/index.html', 'HTTP/1.1', '200', '404',
    'connection', 'from', 'port', 'ssh2', 'Accepted', 'publickey', 'pam_unix', 'disk', 'sda1'].map((w) =>
    new TextEncoder().encode(w));
  let pos = 0;
  while (pos < size) {
    const len = Math.min(size - pos, 4 * KiB * (1 + rng.below(1024)));
    const kind = rng.below(100);
    if (kind < 35) {
      rng.fill(img, pos, pos + len);
    } else if (kind < 55) {
      // zeros: already zero
    } else if (kind < 75 || pos < 64 * MiB) {
      let p = pos;
      const end = pos + len;
      while (p < end) {
        const line = `${1700000000 + rng.below(10000000)} host${rng.below(50)} `;
        for (let i = 0; i < line.length && p < end; i++) img[p++] = line.charCodeAt(i);
        const n = 3 + rng.below(8);
        for (let k = 0; k < n && p < end; k++) {
          const w = words[rng.below(words.length)]!;
          for (let i = 0; i < w.length && p < end; i++) img[p++] = w[i]!;
          if (p < end) img[p++] = 0x20;
        }
        if (p < end) img[p++] = 0x0a;
      }
    } else {
      const from = 4 * KiB * rng.below(Math.floor((pos - len) / (4 * KiB)));
      img.copyWithin(pos, from, from + len);
    }
    pos += len;
  }
  return img;
}

/** 100 random 4 KiB overwrites and 20 insertions of 1..100 bytes, at random places. */
function applyEdits(orig: Uint8Array, rng: Rng): Uint8Array {
  const v2 = Uint8Array.from(orig);
  for (let k = 0; k < 100; k++) {
    const at = rng.below(v2.length - 4 * KiB);
    const patch = new Uint8Array(4 * KiB);
    rng.fill(patch);
    v2.set(patch, at);
  }
  const inserts = Array.from({ length: 20 }, () => ({ at: rng.below(v2.length), len: 1 + rng.below(100) })).sort(
    (a, b) => a.at - b.at,
  );
  const total = inserts.reduce((s, x) => s + x.len, 0);
  const out = new Uint8Array(v2.length + total);
  let src = 0;
  let dst = 0;
  for (const ins of inserts) {
    out.set(v2.subarray(src, ins.at), dst);
    dst += ins.at - src;
    src = ins.at;
    const patch = new Uint8Array(ins.len);
    rng.fill(patch);
    out.set(patch, dst);
    dst += ins.len;
  }
  out.set(v2.subarray(src), dst);
  return out;
}

function chunkIds(buf: Uint8Array, lengths: number[]): Map<string, number> {
  const ids = new Map<string, number>();
  let pos = 0;
  for (const len of lengths) {
    ids.set(createHash('sha256').update(buf.subarray(pos, pos + len)).digest('base64'), len);
    pos += len;
  }
  return ids;
}

interface CorpusResult {
  chunks: number;
  bytes: number;
  uniqueBytes: number; // distinct chunk bytes of the first version (internal dedup)
  newBytes: number; // distinct chunk bytes of the second version absent from the first
  newChunks: number;
}

function dedupAfterEdits(v1: Uint8Array, v2: Uint8Array, p: ChunkerParams): CorpusResult {
  const l1 = chunkLengths(v1, p);
  const ids1 = chunkIds(v1, l1);
  const ids2 = chunkIds(v2, chunkLengths(v2, p));
  let uniqueBytes = 0;
  for (const len of ids1.values()) uniqueBytes += len;
  let newBytes = 0;
  let newChunks = 0;
  for (const [id, len] of ids2) {
    if (!ids1.has(id)) {
      newBytes += len;
      newChunks++;
    }
  }
  return { chunks: l1.length, bytes: v1.length, uniqueBytes, newBytes, newChunks };
}

function throughput(buf: Uint8Array, p: ChunkerParams, runs: number): number {
  let best = Infinity;
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    let pos = 0;
    while (pos < buf.length) pos += findCut(buf, pos, buf.length, p);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return buf.length / best / MB;
}

function fmtSize(bytes: number): string {
  return bytes >= MiB ? `${(bytes / MiB).toFixed(2)} MiB` : `${(bytes / KiB).toFixed(0)} KiB`;
}
function fmtParams(p: ChunkerParams): string {
  const k = (n: number) => (n >= MiB ? `${n / MiB}M` : `${n / KiB}K`);
  return `${k(p.minSize)}/${k(p.avgSize)}/${k(p.maxSize)}`;
}

function main(): void {
  for (const p of CANDIDATES) validateChunkerParams(p);
  const rng = new Rng(SEED);
  const random = new Uint8Array(256 * MiB);
  randomFillSync(random);
  const tar1 = loadTar();
  const tar2 = applyEdits(tar1, rng);
  const img1 = makeImage(IMAGE_MIB * MiB, rng);
  const img2 = applyEdits(img1, rng);
  console.log(
    `${new Date().toISOString()}  node ${process.version}  ${cpus().length} x ${cpus()[0]?.model ?? '?'}  seed ${SEED}`,
  );
  const edited = 100 * 4 * KiB; // plus 20 insertions of <= 100 bytes
  console.log(
    `corpora: tar ${(tar1.length / MB).toFixed(0)} MB (${TAR_PATH}), image ${(img1.length / MB).toFixed(0)} MB; ` +
      `edits per corpus: 100 x 4 KiB overwrites + 20 insertions (${tar2.length - tar1.length} and ` +
      `${img2.length - img1.length} bytes) = ~${(edited / MB).toFixed(2)} MB changed`,
  );

  // Warm up the JIT once so the first candidate is not penalised.
  throughput(random.subarray(0, 64 * MiB), CANDIDATES[0]!, 2);

  const rows: string[] = [];
  for (const p of CANDIDATES) {
    const tpRandom = throughput(random, p, 5);
    const tpTar = throughput(tar1, p, 3);
    const tar = dedupAfterEdits(tar1, tar2, p);
    const img = dedupAfterEdits(img1, img2, p);
    const mean = (tar.bytes + img.bytes) / (tar.chunks + img.chunks);
    const metaMB = ((2 ** 40 / mean) * 48) / MB;
    rows.push(
      `| ${fmtParams(p)} | ${tpRandom.toFixed(0)} | ${tpTar.toFixed(0)} | ${fmtSize(tar.bytes / tar.chunks)} | ` +
        `${fmtSize(img.bytes / img.chunks)} | ${(tar.newBytes / MB).toFixed(1)} (${tar.newChunks}) | ` +
        `${(img.newBytes / MB).toFixed(1)} (${img.newChunks}) | ${(img.uniqueBytes / MB).toFixed(0)} | ${metaMB.toFixed(1)} |`,
    );
    console.error(`done ${fmtParams(p)}`);
  }
  console.log('');
  console.log(
    '| min/avg/max | MB/s random | MB/s tar | mean chunk, tar | mean chunk, image | new MB after edits, tar (chunks) | ' +
      'new MB after edits, image (chunks) | image v1 unique MB | index MB per TiB |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(r);
}

main();
