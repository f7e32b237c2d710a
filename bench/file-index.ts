/**
 * The file index (docs/design/file-index.md) against the targets of issue
 * 11: listing one directory of a 1,000,000-file point < 200 ms; `search`
 * over 50 points of the Linux tree < 1 s; `versions` < 200 ms; the index
 * ≤ 5 % of the pool's size.
 *
 * - Linux: 50 real recovery points of the Linux tree in an encrypted pool
 *   (standalone backups; before each of points 2..50 a line is appended to
 *   a seeded 0.1 % of the files, undone at the end through a journal like
 *   the dataset's own edit), indexed, then searched, browsed and asked for
 *   versions.
 * - A million files: one point whose manifest lists 1,000 directories of
 *   1,000 files (written directly as manifest pages: the index never reads
 *   file content), indexed, then directories listed.
 *
 * Every query runs 5 times on the warm index; the report gives the median
 * and the slowest.
 */
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Pool } from '../src/pool/index.js';
import { backupToPool } from '../src/standalone/index.js';
import { ManifestPageBuilder, POINT_VERSION, type ManifestEntry, type ManifestPageRef, type RecoveryPointRecord } from '../src/format/index.js';
import type { ChunkId, RecoveryPointId } from '../src/base/index.js';
import { FileIndex } from '../src/server/file-index/file-index.js';
import type { PointRef } from '../src/server/file-index/types.js';
import type { BenchPaths } from './paths.js';
import { Rng } from './rng.js';
import { listFiles } from './tree-manifest.js';
import { duBytes } from './exec.js';

const SEED = 'custos-bench/file-index/v1';
const RUNS = 5;

export const FILE_INDEX_TARGETS = {
  listMillisecondsMax: 200,
  searchMillisecondsMax: 1000,
  versionsMillisecondsMax: 200,
  indexShareOfPoolMax: 0.05,
} as const;

export interface Timing {
  readonly what: string;
  readonly medianMs: number;
  readonly maxMs: number;
  readonly answer: string;
  readonly targetMs: number;
}

export interface FileIndexBenchResult {
  readonly linux: {
    readonly points: number;
    readonly filesPerPoint: number;
    readonly backupSeconds: number;
    readonly indexSeconds: number;
    readonly poolBytes: number;
    readonly indexBytes: number;
    readonly indexShareOfPool: number;
    readonly items: number;
    readonly timings: Timing[];
  };
  readonly million: {
    readonly files: number;
    readonly indexSeconds: number;
    readonly indexBytes: number;
    readonly timings: Timing[];
  };
}

interface UndoEntry { readonly size: number; readonly atimeMs: number; readonly mtimeMs: number }

async function time<T>(what: string, targetMs: number, fn: () => Promise<T>, show: (t: T) => string): Promise<Timing> {
  const ms: number[] = [];
  let last!: T;
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    last = await fn();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { what, medianMs: ms[Math.floor(ms.length / 2)]!, maxMs: ms.at(-1)!, answer: show(last), targetMs };
}

/** The undo journal of the appends (first size and times of every file touched), so an interrupted run can be repaired. */
function undoJournal(paths: BenchPaths): { file: string; revert: (root: string) => Promise<void> } {
  const file = join(paths.state, 'file-index.undo.json');
  return {
    file,
    revert: async (root) => {
      if (!existsSync(file)) return;
      const entries = JSON.parse(await readFile(file, 'utf8')) as Record<string, UndoEntry>;
      for (const [rel, e] of Object.entries(entries)) {
        await truncate(join(root, rel), e.size);
        await utimes(join(root, rel), e.atimeMs / 1000, e.mtimeMs / 1000);
      }
      await rm(file);
    },
  };
}

export async function runFileIndexBench(opts: { paths: BenchPaths; linuxRoot: string; quick: boolean; log: (m: string) => void }): Promise<FileIndexBenchResult> {
  const { paths, log } = opts;
  const work = join(paths.work, 'file-index');
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  try {
    const linux = await linuxPart(opts, work);
    const million = await millionPart(opts.quick ? 100_000 : 1_000_000, work, log);
    return { linux, million };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function linuxPart(opts: { paths: BenchPaths; linuxRoot: string; quick: boolean; log: (m: string) => void }, work: string): Promise<FileIndexBenchResult['linux']> {
  const { paths, linuxRoot: root, log } = opts;
  const points = opts.quick ? 10 : 50;
  const poolDir = join(work, 'pool');
  const keyFile = join(work, 'pool.key');
  await Pool.init(poolDir, { keyFile });
  const undo = undoJournal(paths);
  await mkdir(paths.state, { recursive: true });
  await undo.revert(root); // repair an interrupted run
  const files = await listFiles(root);
  const journal: Record<string, UndoEntry> = {};
  let backupSeconds = 0;
  const edited: string[] = [];
  try {
    for (let i = 0; i < points; i++) {
      if (i > 0) {
        const picked = new Rng(`${SEED}/${i}`).sampleIndices(files.length, Math.max(1, Math.round(files.length * 0.001))).map((k) => files[k]!.rel);
        for (const rel of picked) {
          if (!journal[rel]) {
            const st = await stat(join(root, rel));
            journal[rel] = { size: st.size, atimeMs: st.atimeMs, mtimeMs: st.mtimeMs };
          }
        }
        await writeFile(undo.file, JSON.stringify(journal));
        for (const rel of picked) await appendFile(join(root, rel), `custos-bench file-index edit ${i}\n`);
        edited.push(...picked);
      }
      const t0 = performance.now();
      await backupToPool(root, { pool: poolDir, keyFile });
      backupSeconds += (performance.now() - t0) / 1000;
      if ((i + 1) % 10 === 0 || i === 0) log(`file index: ${i + 1} of ${points} recovery points of the Linux tree made`);
    }
  } finally {
    await undo.revert(root);
  }

  const pool = await Pool.open(poolDir, { keyFile });
  await pool.loadIndex();
  const records = await pool.listPoints();
  const index = FileIndex.open(join(work, 'file-index.sqlite'), {
    loadPoint: (id) => pool.loadPoint(id as RecoveryPointId),
    readPage: (id) => pool.readChunk(id as ChunkId),
    pointsOf: async () => records.map((r) => ({ id: r.id, time: r.time })),
  });
  try {
    const t0 = performance.now();
    await index.syncSource('bench');
    const indexSeconds = (performance.now() - t0) / 1000;
    log(`file index: ${records.length} points indexed in ${indexSeconds.toFixed(1)} s`);
    const refs: PointRef[] = records.map((r) => ({ id: r.id, time: r.time, source: 'bench' }));
    const newest = refs.at(-1)!;
    const mostEdited = mostFrequent(edited);
    const bigDir = opts.quick ? 'drivers/net/ethernet' : 'include/linux';
    const t = FILE_INDEX_TARGETS;
    const timings = [
      await time(`search '*.rst' over ${refs.length} points`, t.searchMillisecondsMax, () => index.search(refs, '*.rst', 1000), (r) => `${r.hits.length}${r.truncated ? '+' : ''} paths`),
      await time(`search '**/Makefile' over ${refs.length} points`, t.searchMillisecondsMax, () => index.search(refs, '**/Makefile', 10_000), (r) => `${r.hits.length}${r.truncated ? '+' : ''} paths`),
      await time(`search 'drivers/net/**/*.h' over ${refs.length} points`, t.searchMillisecondsMax, () => index.search(refs, 'drivers/net/**/*.h', 10_000), (r) => `${r.hits.length}${r.truncated ? '+' : ''} paths`),
      await time(`versions of ${mostEdited} (edited most)`, t.versionsMillisecondsMax, () => index.versions(refs, Buffer.from(mostEdited)), (r) => `${r.length} versions`),
      await time('versions of an unchanged file (COPYING)', t.versionsMillisecondsMax, () => index.versions(refs, Buffer.from('COPYING')), (r) => `${r.length} version(s)`),
      await time(`list ${bigDir} (newest point)`, t.listMillisecondsMax, () => index.list(newest, Buffer.from(bigDir), { limit: 1000 }), (r) => `${r.items.length} items${r.next ? ', more' : ''}`),
    ];
    const stats = index.stats();
    const indexBytes = stats.bytes;
    const poolBytes = await duBytes(poolDir);
    return {
      points: records.length, filesPerPoint: files.length, backupSeconds, indexSeconds, poolBytes, indexBytes,
      indexShareOfPool: indexBytes / poolBytes, items: stats.items, timings,
    };
  } finally {
    await index.close();
  }
}

function mostFrequent(items: readonly string[]): string {
  const n = new Map<string, number>();
  for (const i of items) n.set(i, (n.get(i) ?? 0) + 1);
  return [...n.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0] ?? 'Makefile';
}

/** One point of `files` files in 1,000-file directories, its manifest written straight into a pool. */
async function millionPart(files: number, work: string, log: (m: string) => void): Promise<FileIndexBenchResult['million']> {
  const poolDir = join(work, 'million-pool');
  await Pool.init(poolDir, {});
  const pool = await Pool.open(poolDir, {});
  await pool.loadIndex();
  const writer = pool.chunkWriter();
  const manifest: ManifestPageRef[] = [];
  const builder = new ManifestPageBuilder();
  const store = (page: { page: Buffer; entries: number } | null) => {
    if (!page) return;
    const id = pool.codec.chunkIdBytes(page.page);
    writer.add(id, pool.codec.encodeChunk(id, page.page), page.page.length);
    manifest.push({ id: id.toString('hex') as ChunkId, length: page.page.length, entries: page.entries });
  };
  const perDir = 1000;
  const dirs = Math.ceil(files / perDir);
  const base = { mode: 0o644, uid: 1000, gid: 1000, user: 'ann', group: 'staff', mtimeNs: 1_700_000_000_000_000_000n, ctimeNs: 0n, ino: 1n };
  const fakeChunk = (n: number) => ({ id: Buffer.from(randomBytesFor(n)), length: 4096 });
  store(builder.add({ ...base, path: Buffer.alloc(0), type: 'dir', mode: 0o755, size: 0 } as ManifestEntry));
  for (let d = 0; d < dirs; d++) {
    const dir = `d${String(d).padStart(4, '0')}`;
    store(builder.add({ ...base, path: Buffer.from(dir), type: 'dir', mode: 0o755, size: 0 }));
    for (let f = 0; f < perDir && d * perDir + f < files; f++) {
      store(builder.add({ ...base, path: Buffer.from(`${dir}/file-${String(f).padStart(4, '0')}.dat`), type: 'file', size: 4096, chunks: [fakeChunk(d * perDir + f)] }));
    }
    await writer.backpressure();
  }
  store(builder.finish());
  await writer.flush();
  writer.close();
  const point: RecoveryPointRecord = {
    version: POINT_VERSION, id: randomBytes(16).toString('hex') as RecoveryPointId, time: new Date().toISOString(),
    source: { host: 'bench', path: '/million' }, parent: null, manifest,
    summary: { filesNew: files, filesChanged: 0, filesUnchanged: 0, dirs, others: 0, errors: 0, changedDuringRead: 0, bytesRead: 0, bytesAdded: 0, logicalBytes: files * 4096, durationMs: 0 },
    partial: false, excludes: [],
  };
  await pool.savePoint(point);
  log(`file index: a point of ${files.toLocaleString('en-US')} files written (${manifest.length} manifest pages)`);

  const index = FileIndex.open(join(work, 'million-index.sqlite'), {
    loadPoint: (id) => pool.loadPoint(id as RecoveryPointId),
    readPage: (id) => pool.readChunk(id as ChunkId),
    pointsOf: async () => [{ id: point.id, time: point.time }],
  });
  try {
    const t0 = performance.now();
    await index.syncSource('million');
    const indexSeconds = (performance.now() - t0) / 1000;
    log(`file index: ${files.toLocaleString('en-US')} files indexed in ${indexSeconds.toFixed(1)} s`);
    const target = FILE_INDEX_TARGETS.listMillisecondsMax;
    const mid = `d${String(Math.floor(dirs / 2)).padStart(4, '0')}`;
    const last = `d${String(dirs - 1).padStart(4, '0')}`;
    const ref = { id: point.id, time: point.time, source: 'million' };
    const refs = [ref];
    const timings = [
      await time(`list / (${dirs.toLocaleString('en-US')} directories)`, target, () => index.list(ref, Buffer.alloc(0), { limit: 1000 }), (r) => `${r.items.length} items${r.next ? ', more' : ''}`),
      await time(`list ${mid} (1,000 files)`, target, () => index.list(ref, Buffer.from(mid), { limit: 1000 }), (r) => `${r.items.length} items`),
      await time(`list ${last}, the page after file-0500.dat`, target, () => index.list(ref, Buffer.from(last), { limit: 100, after: Buffer.from('file-0500.dat') }), (r) => `${r.items.length} items`),
      await time(`versions of ${mid}/file-0007.dat`, FILE_INDEX_TARGETS.versionsMillisecondsMax, () => index.versions(refs, Buffer.from(`${mid}/file-0007.dat`)), (r) => `${r.length} version(s)`),
    ];
    return { files, indexSeconds, indexBytes: index.stats().bytes, timings };
  } finally {
    await index.close();
  }
}

/** 32 pseudo-random bytes per file number (distinct chunk ids; nothing is stored for them). */
function randomBytesFor(n: number): Uint8Array {
  const b = Buffer.alloc(32);
  b.writeUInt32LE(n, 0);
  b.writeUInt32LE(Math.imul(n, 0x9e3779b1) >>> 0, 4);
  return b;
}

export function renderFileIndex(r: FileIndexBenchResult): string {
  const ms = (t: Timing) => `${t.medianMs.toFixed(1)} ms (max ${t.maxMs.toFixed(1)})`;
  const mark = (ok: boolean) => (ok ? 'meets' : 'MISSES');
  const rows = (ts: readonly Timing[]) => ts.map((t) => `  ${t.what.padEnd(58)} ${ms(t).padEnd(24)} ${t.answer.padEnd(18)} < ${t.targetMs} ms: ${mark(t.medianMs < t.targetMs)}`);
  const l = r.linux;
  return [
    `file index — Linux tree, ${l.points} recovery points of ${l.filesPerPoint.toLocaleString('en-US')} files (backups ${l.backupSeconds.toFixed(0)} s; indexing ${l.indexSeconds.toFixed(1)} s, ${l.items.toLocaleString('en-US')} rows)`,
    ...rows(l.timings),
    `  index ${(l.indexBytes / 1048576).toFixed(1)} MiB / pool ${(l.poolBytes / 1048576).toFixed(1)} MiB = ${(l.indexShareOfPool * 100).toFixed(2)} %  (≤ ${FILE_INDEX_TARGETS.indexShareOfPoolMax * 100} %: ${mark(l.indexShareOfPool <= FILE_INDEX_TARGETS.indexShareOfPoolMax)})`,
    `file index — one point of ${r.million.files.toLocaleString('en-US')} files (indexing ${r.million.indexSeconds.toFixed(1)} s, ${(r.million.indexBytes / 1048576).toFixed(1)} MiB)`,
    ...rows(r.million.timings),
  ].join('\n');
}
