/**
 * `npm run bench`: Custos against restic and borg, same machine, same run,
 * same warm data. See docs/bench.md.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import type { ChangeInfo, Dataset, DatasetName } from './dataset.js';
import { type CommandSpec, duBytes, runMeasured, settleDisk } from './exec.js';
import { imageDataset } from './image-dataset.js';
import { type LoadResult, renderLoad, runLoad } from './load.js';
import { type FileIndexBenchResult, renderFileIndex, runFileIndexBench } from './file-index.js';
import { type OneFileResult, renderOneFile, runOneFileBench } from './one-file.js';
import { linuxDataset } from './linux-dataset.js';
import { type Options, parseOptions, USAGE } from './options.js';
import { type BenchPaths, benchPaths, repoRoot } from './paths.js';
import { ensureLinuxTree, ensurePackages, PREREQS, type Prerequisite, type UnpackInfo } from './prereqs.js';
import {
  computeRatios,
  type DatasetResult,
  formatBytes,
  MEASURED_STEPS,
  renderDataset,
  type StepResult,
  TARGETS,
  type ToolRun,
} from './report.js';
import { checkRestore } from './restore-check.js';
import { borg, custos, custosServer, restic, type Services, type Tool, type ToolContext, type ToolName } from './tools.js';
import { buildManifest, type Manifest, manifestDigest } from './tree-manifest.js';

const WARM_NOTE =
  'Page caches are not dropped (not reliably possible here): each dataset is read once before the first tool, ' +
  'and every tool then runs against the same warm data. Before each timed step the disk is synced and left to settle; ' +
  "before each restore the kernel's caches are dropped (as root): every tool restores from a cold repository, and " +
  "creating files does not pay for earlier runs' deletions (ext4 skips inodes deleted recently, looking each up in a " +
  'buffer cache of millions of blocks: cp -a of the Linux tree took 35 s of system time before a drop, 7 s after).';

/** Drops the kernel's page, dentry and inode caches (after sync); nothing when not root. */
function dropCaches(): void {
  try {
    spawnSync('sync');
    writeFileSync('/proc/sys/vm/drop_caches', '3');
  } catch {
    // not root, or not Linux: the restore runs with whatever is cached
  }
}

const log = (message: string): void => console.log(`[bench] ${message}`);

let interrupted = false;

function toolsFor(names: readonly ToolName[], root: string): Tool[] {
  const all: Record<ToolName, Tool> = { restic, borg, custos: custos(root), 'custos-server': custosServer(root), 'custos-server-scan': custosServer(root, true) };
  return names.map((n) => all[n]);
}

async function freshDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function runTool(tool: Tool, dataset: Dataset, expected: Manifest, paths: BenchPaths): Promise<ToolRun> {
  const result: ToolRun = { tool: tool.name, config: tool.config, status: 'ok', steps: {} };
  const skip = await tool.unavailable();
  if (skip) {
    log(`${tool.name}: SKIPPED: ${skip}`);
    result.status = 'skipped';
    result.reason = skip;
    return result;
  }
  result.version = await tool.version();
  const work = join(paths.work, tool.name);
  await freshDir(work);
  const ctx: ToolContext = { work, repo: join(work, 'repo'), home: join(work, 'home'), source: dataset.root };
  const target = join(work, 'restore');
  await mkdir(ctx.home, { recursive: true });
  await mkdir(target, { recursive: true });

  let services: Services | null = null;
  const step = async (name: 'init' | 'initial' | 'unchanged' | 'changed' | 'restore', spec: CommandSpec): Promise<void> => {
    log(`${tool.name} ${dataset.name}: ${name}...`);
    if (services) {
      await services.idle();
      await settleDisk();
    }
    if (name === 'restore') dropCaches();
    services?.resetPeak();
    const out = await runMeasured(spec);
    const isBackup = name === 'initial' || name === 'unchanged' || name === 'changed';
    const peak = services?.peak();
    const stepResult: StepResult = {
      seconds: out.seconds,
      // With services the command is only a client: the work (and the memory) is theirs.
      peakRssKiB: peak ? peak.totalKiB : out.peakRssKiB,
      cpuSeconds: peak ? Object.values(peak.cpuSeconds).reduce((a, b) => a + b, 0) : out.cpuSeconds,
      ...(peak ? { peakRssKiBEach: peak.each, cpuSecondsEach: peak.cpuSeconds } : {}),
      ...(isBackup ? { summary: tool.backupSummary(out.stdout) } : {}),
    };
    result.steps[name] = stepResult;
    const each = peak ? ` (${Object.entries(peak.each).map(([k, v]) => `${k} ${formatBytes(v * 1024)}, ${peak.cpuSeconds[k]!.toFixed(1)} CPU-s`).join('; ')})` : '';
    log(`${tool.name} ${dataset.name}: ${name} ${out.seconds.toFixed(2)} s, ${stepResult.cpuSeconds.toFixed(1)} CPU-s, peak RSS ${formatBytes(stepResult.peakRssKiB * 1024)}${each}`);
  };

  try {
    if (tool.services) {
      log(`${tool.name} ${dataset.name}: starting its processes (not timed)...`);
      services = await tool.services(ctx);
    }
    await step('init', tool.init(ctx));
    await step('initial', tool.backup(ctx, 'initial'));
    await step('unchanged', tool.backup(ctx, 'unchanged'));
    await dataset.change();
    try {
      await step('changed', tool.backup(ctx, 'changed'));
    } finally {
      await dataset.revert();
    }
    await step('restore', tool.restore(ctx, target));
    log(`${tool.name} ${dataset.name}: checking the restore against the expected tree...`);
    const check = await checkRestore(target, dataset.root, expected);
    result.restoreCheck = check;
    if (!check.ok) {
      console.error(
        [
          '',
          '!'.repeat(78),
          `!!! RESTORE MISMATCH: ${tool.name} on ${dataset.name}: ${check.mismatchCount} of ${check.entries} entries differ`,
          ...check.mismatches.map((m) => `!!!   ${m}`),
          '!'.repeat(78),
          '',
        ].join('\n'),
      );
    } else {
      log(`${tool.name} ${dataset.name}: restore is identical (${check.entries} entries)`);
    }
    result.poolBytes = await duBytes(ctx.repo);
    result.cacheBytes = await duBytes(ctx.home);
    result.peakRssKiB = Math.max(...MEASURED_STEPS.map((s) => result.steps[s]?.peakRssKiB ?? 0));
    if (tool.extra) result.extra = await tool.extra(ctx);
  } catch (e) {
    result.status = 'failed';
    result.reason = interrupted ? 'interrupted' : errorText(e);
    console.error(`[bench] ${tool.name} ${dataset.name}: FAILED: ${result.reason}`);
  } finally {
    await services?.stop().catch((e: unknown) => console.error(`[bench] ${tool.name}: stopping its processes: ${errorText(e)}`));
    // The work dir stays until every tool has run on this dataset: deleting a
    // tool's gigabytes slows the disk for many seconds afterwards, and the
    // next tool would be billed for it (the last tool most of all).
    await dataset.revert();
  }
  return result;
}

/** One benchmark at a time per root: they share the work dir and the datasets' undo journals. */
function takeLock(paths: BenchPaths): string | null {
  const file = join(paths.root, 'lock');
  try {
    const pid = Number(readFileSync(file, 'utf8'));
    if (pid && pid !== process.pid) {
      process.kill(pid, 0); // throws if no such process
      return `another benchmark (pid ${pid}) is using ${paths.root}; wait for it or remove ${file}`;
    }
  } catch {
    // no lock file, or its owner is gone
  }
  writeFileSync(file, String(process.pid));
  process.on('exit', () => {
    try {
      if (readFileSync(file, 'utf8') === String(process.pid)) unlinkSync(file);
    } catch {
      // already gone
    }
  });
  return null;
}

async function openDataset(name: DatasetName, paths: BenchPaths, quick: boolean): Promise<Dataset> {
  return name === 'linux' ? linuxDataset(paths, quick) : imageDataset(paths, quick, log);
}

interface Report {
  readonly benchmark: 'custos-bench';
  readonly version: 1;
  readonly startedAt: string;
  finishedAt?: string;
  readonly options: Omit<Options, 'help'>;
  readonly host: { cpus: number; cpuModel: string; memoryBytes: number; kernel: string; node: string; loadAvgAtStart: number[] };
  readonly note: string;
  readonly targets: typeof TARGETS;
  linuxUnpack?: UnpackInfo;
  readonly datasets: DatasetResult[];
  fileIndex?: FileIndexBenchResult;
  oneFile?: OneFileResult;
  load?: LoadResult;
}

async function main(argv: readonly string[]): Promise<number> {
  let opts: Options;
  try {
    opts = parseOptions(argv);
  } catch (e) {
    console.error(`${errorText(e)}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  const root = repoRoot();
  const paths = benchPaths(opts.root);
  const tools = toolsFor(opts.tools, root);
  const output = opts.output ?? join(root, 'bench', 'results', 'latest.json');
  const { help: _help, ...shownOptions } = opts;
  const report: Report = {
    benchmark: 'custos-bench',
    version: 1,
    startedAt: new Date().toISOString(),
    options: shownOptions,
    host: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryBytes: totalmem(),
      kernel: release(),
      node: process.version,
      loadAvgAtStart: loadavg(),
    },
    note: WARM_NOTE,
    targets: TARGETS,
    datasets: [],
  };

  log(`${opts.quick ? 'quick' : 'full'} run; datasets ${opts.datasets.join(', ') || 'none'}; tools ${opts.tools.join(', ')}; load run ${opts.loadAgents ? `${opts.loadAgents} agents` : 'no'}`);
  const load = loadavg()[0] ?? 0;
  if (load > cpus().length * 0.5) {
    log(`WARNING: load average is ${load.toFixed(1)} on ${cpus().length} CPUs; other work will make the timings noisy`);
  }
  if (!opts.tools.includes('restic')) log('restic is not among --tools: no ratios can be computed');

  const needed: Prerequisite[] = [PREREQS.time];
  if (opts.tools.includes('restic')) needed.push(PREREQS.restic);
  if (opts.tools.includes('borg')) needed.push(PREREQS.borg);
  if (opts.datasets.includes('linux') || opts.fileIndex) needed.push(PREREQS.linuxSource);
  await ensurePackages(needed, log);
  await mkdir(paths.root, { recursive: true });
  const lock = takeLock(paths);
  if (lock) {
    console.error(`[bench] ${lock}`);
    return 2;
  }
  if (opts.datasets.includes('linux') || opts.fileIndex) {
    report.linuxUnpack = await ensureLinuxTree(paths, log);
    const u = report.linuxUnpack;
    log(
      `Linux tree: ${u.files.toLocaleString('en-US')} files, ${formatBytes(u.bytes)}; ` +
        (u.thisRun ? `unpacked in ${u.seconds.toFixed(1)} s` : `reused (unpacked ${u.unpackedAt} in ${u.seconds.toFixed(1)} s)`),
    );
  }
  log(WARM_NOTE);

  for (const name of opts.datasets) {
    if (interrupted) break;
    const dataset = await openDataset(name, paths, opts.quick);
    const result: DatasetResult = {
      name,
      description: dataset.description,
      root: dataset.root,
      files: dataset.stats.files,
      bytes: dataset.stats.bytes,
      runs: [],
      ratios: {},
    };
    report.datasets.push(result);
    log(`${name}: hashing the expected post-change tree (this also warms the page cache)...`);
    let change: ChangeInfo;
    let expected: Manifest;
    try {
      change = await dataset.change();
      expected = await buildManifest(dataset.root);
    } finally {
      await dataset.revert();
    }
    result.change = change;
    result.expectedDigest = manifestDigest(expected);
    await freshDir(paths.work);
    for (const tool of tools) {
      if (interrupted) break;
      result.runs.push(await runTool(tool, dataset, expected, paths));
    }
    if (!opts.keepWork) await rm(paths.work, { recursive: true, force: true });
    computeRatios(result);
    console.log('\n' + renderDataset(result) + '\n');
  }

  if (opts.fileIndex && !interrupted) {
    await freshDir(paths.work);
    const linuxRoot = (await openDataset('linux', paths, opts.quick)).root;
    report.fileIndex = await runFileIndexBench({ paths, linuxRoot, quick: opts.quick, log });
    console.log('\n' + renderFileIndex(report.fileIndex) + '\n');
    report.oneFile = await runOneFileBench({ paths, repoRoot: root, quick: opts.quick, log });
    if (!opts.keepWork) await rm(paths.work, { recursive: true, force: true });
    console.log('\n' + renderOneFile(report.oneFile) + '\n');
  }

  if (opts.loadAgents > 0 && !interrupted) {
    await freshDir(paths.work);
    report.load = await runLoad({ agents: opts.loadAgents, files: 200, work: join(paths.work, 'load'), repoRoot: root, log });
    if (!opts.keepWork) await rm(paths.work, { recursive: true, force: true });
    console.log('\n' + renderLoad(report.load) + '\n');
  }

  report.finishedAt = new Date().toISOString();
  mkdirSync(dirname(output), { recursive: true });
  writeFileSync(output, JSON.stringify(report, null, 2) + '\n');
  log(`results written to ${output}`);

  const failures = report.datasets.flatMap((d) =>
    d.runs.filter((r) => r.status === 'failed' || r.restoreCheck?.ok === false).map((r) => `${r.tool} on ${d.name}`),
  );
  if (report.load && !report.load.ok) failures.push('the load run');
  if (failures.length) console.error(`[bench] FAILED or MISMATCHED: ${failures.join(', ')}`);
  if (interrupted) return 130;
  return failures.length ? 1 : 0;
}

// If our output pipe closes (`... | head`), keep going quietly so dataset edits still get reverted.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
  });
}

process.on('SIGINT', () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  console.error('[bench] interrupted: finishing the current step and reverting dataset edits (Ctrl-C again to quit now)');
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(`[bench] ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = 2;
  },
);
