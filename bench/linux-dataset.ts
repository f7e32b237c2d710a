/**
 * The Linux 6.1 source tree (or, with --quick, a copy of its drivers/net and
 * fs subdirectories). The "changed" edit appends one line to a seeded 1% of
 * the files; the undo journal records each file's size and times so the edit
 * can be reverted by truncation.
 */
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, rename, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ChangeInfo, Dataset } from './dataset.js';
import { runChecked } from './exec.js';
import type { BenchPaths } from './paths.js';
import { Rng } from './rng.js';
import { listFiles, treeStats } from './tree-manifest.js';

const SEED = 'custos-bench/linux/v1';
const CHANGE_FRACTION = 0.01;
export const QUICK_SUBDIRS = ['drivers/net', 'fs'] as const;

interface JournalEntry {
  readonly rel: string;
  readonly size: number;
  readonly atimeMs: number;
  readonly mtimeMs: number;
}

/** Copies the quick subset out of the full tree once (built aside, then renamed into place). */
async function ensureQuickTree(paths: BenchPaths): Promise<string> {
  const quick = `${paths.linuxTree}-quick`;
  if (existsSync(quick)) return quick;
  const partial = `${quick}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  for (const sub of QUICK_SUBDIRS) {
    await mkdir(dirname(join(partial, sub)), { recursive: true });
    await runChecked({ cmd: 'cp', args: ['-a', join(paths.linuxTree, sub), join(partial, sub)] });
  }
  await rename(partial, quick);
  return quick;
}

export async function linuxDataset(paths: BenchPaths, quick: boolean): Promise<Dataset> {
  const root = quick ? await ensureQuickTree(paths) : paths.linuxTree;
  const journal = join(paths.state, quick ? 'linux-quick.undo.json' : 'linux.undo.json');
  await mkdir(paths.state, { recursive: true });

  const revert = async (): Promise<void> => {
    if (!existsSync(journal)) return;
    const entries = JSON.parse(await readFile(journal, 'utf8')) as JournalEntry[];
    for (const e of entries) {
      const abs = join(root, e.rel);
      await truncate(abs, e.size);
      await utimes(abs, e.atimeMs / 1000, e.mtimeMs / 1000);
    }
    await rm(journal);
  };
  await revert(); // repair after an interrupted run

  const stats = await treeStats(root);
  const description = quick
    ? `Linux 6.1 source, ${QUICK_SUBDIRS.join(' + ')} only (--quick)`
    : 'Linux 6.1 source tree';

  const change = async (): Promise<ChangeInfo> => {
    const files = await listFiles(root);
    const count = Math.max(1, Math.round(files.length * CHANGE_FRACTION));
    const picked = new Rng(SEED).sampleIndices(files.length, count).map((i) => files[i]!);
    const entries: JournalEntry[] = [];
    for (const f of picked) {
      const st = await stat(join(root, f.rel));
      entries.push({ rel: f.rel, size: st.size, atimeMs: st.atimeMs, mtimeMs: st.mtimeMs });
    }
    await writeFile(journal, JSON.stringify(entries));
    let bytes = 0;
    for (const [i, f] of picked.entries()) {
      const line = `custos-bench edit ${i}\n`;
      await appendFile(join(root, f.rel), line);
      bytes += line.length;
    }
    return {
      description: `appended a line to ${count} of ${files.length} files (${(CHANGE_FRACTION * 100).toFixed(0)}%, seeded)`,
      filesChanged: count,
      bytesChanged: bytes,
    };
  };

  return { name: 'linux', description, root, stats, change, revert };
}
