/**
 * A synthetic disk-image-like file, generated deterministically from a seed:
 * extents of zeros, compressible text-like blocks, repetitive sector patterns,
 * random data, and duplicates of earlier random extents (as copied files
 * would be). The "changed" edit overwrites 200 seeded 4 KiB blocks; the
 * original blocks are journalled so the edit can be reverted.
 */
import { type Cipher, createCipheriv, createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChangeInfo, Dataset } from './dataset.js';
import type { BenchPaths } from './paths.js';
import { Rng } from './rng.js';
import { treeStats } from './tree-manifest.js';

const GENERATOR_VERSION = 1;
const SEED = 'custos-bench/image/v1';
const BLOCK = 4096;
const EDIT_COUNT = 200;
const FILE_NAME = 'disk.img';
const CHUNK = 4 << 20;

export const FULL_IMAGE_BYTES = 2 * 1024 ** 3;
export const QUICK_IMAGE_BYTES = 256 * 1024 ** 2;

type ExtentKind = 'zero' | 'text' | 'pattern' | 'random' | 'duplicate';
const KINDS: readonly ExtentKind[] = ['zero', 'text', 'pattern', 'random', 'duplicate'];
const WEIGHTS: readonly number[] = [0.22, 0.28, 0.08, 0.28, 0.14];

function key(label: string): Buffer {
  return createHash('sha256').update(`${SEED}/${label}`).digest().subarray(0, 16);
}

/** Deterministic pseudo-random bytes: AES-128-CTR keystream for (label, stream). */
class Keystream {
  private readonly cipher: Cipher;
  constructor(label: string, stream: number) {
    const iv = Buffer.alloc(16);
    iv.writeUInt32BE(stream, 0); // counter runs in the low bytes, streams never overlap
    this.cipher = createCipheriv('aes-128-ctr', key(label), iv);
  }
  next(zeros: Buffer, n: number): Buffer {
    return this.cipher.update(zeros.subarray(0, n));
  }
}

/** ~1 MiB of word salad from a small vocabulary: compresses well, dedups poorly once stamped. */
function makeCorpus(rng: Rng): Buffer {
  const letters = 'etaoinshrdlcumwfgypbvkjxqz';
  const vocab: string[] = [];
  for (let i = 0; i < 600; i++) {
    let w = '';
    const len = 2 + rng.int(9);
    for (let j = 0; j < len; j++) w += letters[Math.min(letters.length - 1, Math.floor(rng.float() ** 2 * letters.length))];
    vocab.push(w);
  }
  const parts: string[] = [];
  let size = 0;
  while (size < 1 << 20) {
    const n = 6 + rng.int(10);
    const line = Array.from({ length: n }, () => vocab[Math.floor(rng.float() ** 1.5 * vocab.length)]).join(' ') + '\n';
    parts.push(line);
    size += line.length;
  }
  return Buffer.from(parts.join(''), 'latin1');
}

async function generateImage(path: string, size: number): Promise<void> {
  const rng = new Rng(`${SEED}/layout/${size}`);
  const corpus = makeCorpus(new Rng(`${SEED}/corpus`));
  const zeros = Buffer.alloc(CHUNK);
  const buf = Buffer.alloc(CHUNK);
  const randomExtents: { stream: number; blocks: number }[] = [];
  const fh = await open(path, 'w');
  try {
    let block = 0;
    const totalBlocks = size / BLOCK;
    let extent = 0;
    while (block < totalBlocks) {
      // extent length: log-uniform between 64 KiB and 16 MiB
      let blocks = Math.round(Math.exp(Math.log(16) + rng.float() * (Math.log(4096) - Math.log(16))));
      let kind = KINDS[rng.weighted(WEIGHTS)]!;
      let stream = extent;
      if (kind === 'duplicate') {
        if (randomExtents.length === 0) kind = 'random';
        else {
          const src = randomExtents[rng.int(randomExtents.length)]!;
          stream = src.stream;
          blocks = Math.min(blocks, src.blocks);
        }
      }
      blocks = Math.min(blocks, totalBlocks - block);
      if (kind === 'random') randomExtents.push({ stream, blocks });
      const keystream = kind === 'random' || kind === 'duplicate' ? new Keystream('data', stream) : undefined;
      const patternSeed = rng.u32();
      let left = blocks;
      while (left > 0) {
        const n = Math.min(left, CHUNK / BLOCK);
        let out: Buffer;
        if (kind === 'zero') out = zeros.subarray(0, n * BLOCK);
        else if (keystream) out = keystream.next(zeros, n * BLOCK);
        else {
          for (let i = 0; i < n; i++) {
            const b = buf.subarray(i * BLOCK, (i + 1) * BLOCK);
            if (kind === 'text') {
              const from = rng.int(corpus.length - BLOCK);
              corpus.copy(b, 0, from, from + BLOCK);
              b.write(`blk ${block + blocks - left + i}`.padEnd(24, ' '), 0, 'latin1');
            } else {
              // a 512-byte "sector" structure repeated, with a per-sector counter
              for (let s = 0; s < BLOCK / 512; s++) {
                const sector = b.subarray(s * 512, (s + 1) * 512);
                sector.fill(patternSeed & 0xff);
                sector.writeUInt32LE(patternSeed, 0);
                sector.writeUInt32LE((block + blocks - left + i) * 8 + s, 4);
                sector.write('CUSTOSFS', 16, 'latin1');
              }
            }
          }
          out = buf.subarray(0, n * BLOCK);
        }
        await fh.write(out, 0, out.length, null);
        left -= n;
      }
      block += blocks;
      extent++;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
}

interface ImageParams {
  readonly generator: number;
  readonly seed: string;
  readonly size: number;
}

interface EditJournal {
  readonly offsets: readonly number[];
  readonly atimeMs: number;
  readonly mtimeMs: number;
}

export async function imageDataset(
  paths: BenchPaths,
  quick: boolean,
  log: (m: string) => void,
): Promise<Dataset> {
  const size = quick ? QUICK_IMAGE_BYTES : FULL_IMAGE_BYTES;
  const tag = quick ? 'image-256m' : 'image-2g';
  const root = join(paths.root, tag);
  const paramsFile = `${root}.params.json`;
  const file = join(root, FILE_NAME);
  const journalFile = join(paths.state, `${tag}.undo.json`);
  const journalData = join(paths.state, `${tag}.undo.bin`);
  const params: ImageParams = { generator: GENERATOR_VERSION, seed: SEED, size };
  await mkdir(paths.state, { recursive: true });

  const current = existsSync(paramsFile) && existsSync(file) ? (await readFile(paramsFile, 'utf8')) : '';
  if (current !== JSON.stringify(params)) {
    await rm(journalFile, { force: true });
    await rm(journalData, { force: true });
    const partial = `${root}.partial-${process.pid}`;
    await rm(partial, { recursive: true, force: true });
    await rm(root, { recursive: true, force: true });
    await mkdir(partial, { recursive: true });
    log(`generating ${tag} (${size} bytes, seeded)`);
    const start = Date.now();
    await generateImage(join(partial, FILE_NAME), size);
    await rename(partial, root);
    await writeFile(paramsFile, JSON.stringify(params));
    log(`generated in ${((Date.now() - start) / 1000).toFixed(1)} s`);
  }

  const revert = async (): Promise<void> => {
    if (!existsSync(journalFile)) return;
    const journal = JSON.parse(await readFile(journalFile, 'utf8')) as EditJournal;
    const original = await readFile(journalData);
    const fh = await open(file, 'r+');
    try {
      for (const [i, off] of journal.offsets.entries()) {
        await fh.write(original, i * BLOCK, BLOCK, off);
      }
    } finally {
      await fh.close();
    }
    await utimes(file, journal.atimeMs / 1000, journal.mtimeMs / 1000);
    await rm(journalFile);
    await rm(journalData, { force: true });
  };
  await revert();

  const change = async (): Promise<ChangeInfo> => {
    const offsets = new Rng(`${SEED}/edits/${size}`).sampleIndices(size / BLOCK, EDIT_COUNT).map((b) => b * BLOCK);
    const st = await stat(file);
    const original = Buffer.alloc(offsets.length * BLOCK);
    const fh = await open(file, 'r+');
    try {
      for (const [i, off] of offsets.entries()) await fh.read(original, i * BLOCK, BLOCK, off);
      await writeFile(journalData, original);
      const journal: EditJournal = { offsets, atimeMs: st.atimeMs, mtimeMs: st.mtimeMs };
      await writeFile(journalFile, JSON.stringify(journal));
      const fresh = new Keystream('edits', size / BLOCK).next(Buffer.alloc(offsets.length * BLOCK), offsets.length * BLOCK);
      for (const [i, off] of offsets.entries()) await fh.write(fresh, i * BLOCK, BLOCK, off);
    } finally {
      await fh.close();
    }
    return {
      description: `${EDIT_COUNT} random 4 KiB overwrites at seeded offsets`,
      filesChanged: 1,
      bytesChanged: EDIT_COUNT * BLOCK,
    };
  };

  const mib = size / 1024 ** 2;
  return {
    name: 'image',
    description: `synthetic ${mib >= 1024 ? `${mib / 1024} GiB` : `${mib} MiB`} disk image (zeros, text, patterns, random, duplicates)${quick ? ' (--quick)' : ''}`,
    root,
    stats: await treeStats(root),
    change,
    revert,
  };
}
