/**
 * Issue 11's end-to-end figure: one file out of a recovery point of
 * 1,000,000 files recovered through server + agent in < 1 s (the CLI's
 * `recover --item … --wait`, process start included), and `browse` of one
 * directory of that point through the CLI. The tree (1,000 directories of
 * 1,000 files of 64 bytes; --quick: 100,000 files) is made once and kept
 * in the bench cache; it is protected by a real server and agent on
 * loopback (the initial replica is not timed here).
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runChecked, type CommandSpec } from './exec.js';
import type { BenchPaths } from './paths.js';
import { attachCustosAgent, startCustosAgent, startCustosServer } from './services.js';

const AGENT = 'onefile';
const RUNS = 3;

export interface OneFileResult {
  readonly files: number;
  readonly replicaSeconds: number;
  readonly indexSeconds: number;
  readonly recoverSeconds: { readonly median: number; readonly max: number };
  readonly browseSeconds: { readonly median: number; readonly max: number };
}

/** The cached tree of `files` small files (built once, marked complete). */
async function ensureTree(paths: BenchPaths, files: number, log: (m: string) => void): Promise<string> {
  const root = join(paths.root, `files-${files}`);
  if (existsSync(join(root, '.complete'))) return root;
  log(`one file: making a tree of ${files.toLocaleString('en-US')} files (kept in ${root})...`);
  await rm(root, { recursive: true, force: true });
  const dirs = Math.ceil(files / 1000);
  for (let d = 0; d < dirs; d++) {
    const dir = join(root, 'tree', `d${String(d).padStart(4, '0')}`);
    await mkdir(dir, { recursive: true });
    const writes: Promise<void>[] = [];
    for (let f = 0; f < 1000 && d * 1000 + f < files; f++) writes.push(writeFile(join(dir, `file-${String(f).padStart(4, '0')}.dat`), `file ${d}/${f} `.padEnd(64, '.')));
    await Promise.all(writes);
  }
  await writeFile(join(root, '.complete'), new Date().toISOString());
  return root;
}

function stats(xs: number[]): { median: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, max: s.at(-1)! };
}

export async function runOneFileBench(opts: { paths: BenchPaths; repoRoot: string; quick: boolean; log: (m: string) => void }): Promise<OneFileResult> {
  const { paths, log } = opts;
  const files = opts.quick ? 100_000 : 1_000_000;
  const root = await ensureTree(paths, files, log);
  const tree = join(root, 'tree');
  const work = join(paths.work, 'one-file');
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const bin = join(opts.repoRoot, 'bin', 'custos.js');
  let env: Record<string, string> = { HOME: work };
  const cli = (args: string[], extra: Record<string, string> = {}): CommandSpec => ({ cmd: process.execPath, args: [bin, ...args], env: { ...env, ...extra } });
  const server = await startCustosServer((args) => cli(args), join(work, 'server'));
  env = server.env({ HOME: work });
  let agent;
  try {
    await attachCustosAgent(cli, server, AGENT, join(work, 'agent'));
    agent = await startCustosAgent(cli, AGENT, join(work, 'agent'));
    const source = `${AGENT}:fs:${tree}`;
    const t0 = performance.now();
    await runChecked(cli(['group', 'create', 'onefile', '--source', source, '--sync', '24h', '--points', '23:00', '--json']));
    const sync = JSON.parse((await runChecked(cli(['job', 'list', '--kind', 'sync', '--json', '--limit', '1']))).stdout) as Array<{ id: number }>;
    await runChecked(cli(['job', 'wait', String(sync[0]!.id), '--timeout', '2h', '--json']));
    const replicaSeconds = (performance.now() - t0) / 1000;
    log(`one file: initial replica of ${files.toLocaleString('en-US')} files in ${replicaSeconds.toFixed(0)} s`);
    const t1 = performance.now();
    await runChecked(cli(['browse', source, 'd0000', '--limit', '1', '--json'])); // waits for the file index
    const indexSeconds = (performance.now() - t1) / 1000;
    const mid = `d${String(Math.floor(files / 2000)).padStart(4, '0')}`;
    const recoverTimes: number[] = [];
    const browseTimes: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const b0 = performance.now();
      await runChecked(cli(['browse', source, mid, '--json']));
      browseTimes.push((performance.now() - b0) / 1000);
      const target = join(work, `recovered-${i}`);
      const r0 = performance.now();
      await runChecked(cli(['recover', source, '--point', 'latest', '--item', `${mid}/file-0007.dat`, '--to', `${AGENT}:${target}`, '--wait', '--json', '--timeout', '10m']));
      recoverTimes.push((performance.now() - r0) / 1000);
      if (!existsSync(join(target, mid, 'file-0007.dat'))) throw new Error(`one file: ${mid}/file-0007.dat was not recovered into ${target}`);
    }
    return { files, replicaSeconds, indexSeconds, recoverSeconds: stats(recoverTimes), browseSeconds: stats(browseTimes) };
  } finally {
    await agent?.stop();
    await server.daemon.stop();
    await rm(work, { recursive: true, force: true });
  }
}

export function renderOneFile(r: OneFileResult): string {
  const s = (x: { median: number; max: number }) => `${x.median.toFixed(2)} s (max ${x.max.toFixed(2)})`;
  return [
    `one file out of a point of ${r.files.toLocaleString('en-US')} files, server + agent, CLI process included (initial replica ${r.replicaSeconds.toFixed(0)} s, then indexed in ${r.indexSeconds.toFixed(1)} s)`,
    `  recover --item one file --wait   ${s(r.recoverSeconds).padEnd(22)} < 1 s: ${r.recoverSeconds.median < 1 ? 'meets' : 'MISSES'}`,
    `  browse one directory (1,000)     ${s(r.browseSeconds)}`,
  ].join('\n');
}
