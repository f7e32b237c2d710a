/**
 * The agent's live listing (`list-dir`, src/agent/browse/list-dir.ts) of one
 * directory of 1,000,000 empty files: the time of a first page, of a page
 * in the middle and of the last, and how much the heap grew while each was
 * made (the listing keeps only `limit` names, so it must stay far below
 * what a million names take). Run alone: `node dist/bench/list-dir.js
 * [DIR] [COUNT]` (default: a new directory under /dev/shm, 1,000,000).
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { listDir } from '../src/agent/browse/list-dir.js';

async function main(): Promise<void> {
  const base = process.argv[2] ?? '/dev/shm';
  const count = Number(process.argv[3] ?? 1_000_000);
  const dir = await mkdtemp(join(base, 'custos-bench-list-dir-'));
  try {
    const t0 = performance.now();
    for (let i = 0; i < count; i += 1000) {
      await Promise.all(Array.from({ length: Math.min(1000, count - i) }, async (_, j) => (await open(join(dir, `f${(i + j).toString(36).padStart(5, '0')}`), 'w')).close()));
    }
    console.log(`made ${count.toLocaleString('en-US')} files in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const middle = Buffer.from(`f${Math.floor(count / 2).toString(36).padStart(5, '0')}`).toString('base64');
    const last = Buffer.from(`f${(count - 2).toString(36).padStart(5, '0')}`).toString('base64');
    for (const [what, after] of [['first page', undefined], ['middle page', middle], ['last page', last]] as const) {
      globalThis.gc?.();
      const heap0 = process.memoryUsage().heapUsed;
      let peak = heap0;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 5);
      const t = performance.now();
      const page = await listDir(dir, { limit: 1000, after });
      const ms = performance.now() - t;
      clearInterval(sampler);
      peak = Math.max(peak, process.memoryUsage().heapUsed);
      console.log(`${what}: ${page.entries.length} entries in ${ms.toFixed(0)} ms, heap grew at most ${((peak - heap0) / 1048576).toFixed(1)} MiB`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
