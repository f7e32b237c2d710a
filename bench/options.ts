/** Command-line options of `npm run bench` / `node dist/bench/run.js`. */
import { parseArgs } from 'node:util';
import type { DatasetName } from './dataset.js';
import { DEFAULT_ROOT } from './paths.js';
import { ALL_TOOLS, DEFAULT_TOOLS, type ToolName } from './tools.js';

export interface Options {
  readonly quick: boolean;
  readonly datasets: readonly DatasetName[];
  /** The file index run (browse, search, versions: docs/design/file-index.md). */
  readonly fileIndex: boolean;
  /** The load run (server + many agents) with this many agents; 0: not run. */
  readonly loadAgents: number;
  /** In canonical order: restic first (the baseline), then borg, then custos. */
  readonly tools: readonly ToolName[];
  readonly root: string;
  readonly output: string | undefined;
  readonly keepWork: boolean;
  readonly help: boolean;
}

export const USAGE = `usage: npm run bench -- [options]      (or: node dist/bench/run.js [options])

Compares custos (standalone, and server + agent) with restic and borg on the
Linux 6.1 source tree and on a synthetic 2 GiB disk image: initial backup,
unchanged re-backup, re-backup after a 1% change, restore (verified
byte-identical), pool size, peak RSS. Then the file index (50 points of the
Linux tree and one point of 1,000,000 files: browse, search, versions, its
size), and the load run: one server and 50 agents synchronizing small trees
at once.

  --quick              small run: drivers/net + fs of the Linux tree, a 256 MiB image,
                       10 points and 100,000 files for the file index, 10 agents
  --only linux|image|file-index|load   run one part only
  --agents N           agents in the load run (default 50, --quick 10)
  --tools LIST         comma-separated subset of ${ALL_TOOLS.join(',')} (default: all but
                       custos-server-scan, whose agent makes every synchronization a
                       verification scan)
  --root DIR           cache and work root (default ${DEFAULT_ROOT})
  --output FILE        JSON results (default bench/results/latest.json)
  --keep-work          leave every tool's work dir in place (debugging)
  -h, --help           this text`;

export function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      agents: { type: 'string' },
      tools: { type: 'string' },
      root: { type: 'string', default: DEFAULT_ROOT },
      output: { type: 'string' },
      'keep-work': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  let datasets: DatasetName[] = ['linux', 'image'];
  let load = true;
  let fileIndex = true;
  if (values.only !== undefined) {
    const only = values.only;
    if (only !== 'linux' && only !== 'image' && only !== 'load' && only !== 'file-index') throw new Error(`--only must be linux, image, file-index or load, not ${only}`);
    datasets = only === 'linux' || only === 'image' ? [only] : [];
    load = only === 'load';
    fileIndex = only === 'file-index';
  }
  const quick = values.quick ?? false;
  let loadAgents = quick ? 10 : 50;
  if (values.agents !== undefined) {
    loadAgents = Number(values.agents);
    if (!Number.isInteger(loadAgents) || loadAgents < 1 || loadAgents > 500) throw new Error(`--agents must be a whole number from 1 to 500, not ${values.agents}`);
  }
  let tools: ToolName[] = [...DEFAULT_TOOLS];
  if (values.tools !== undefined) {
    const asked = values.tools.split(',').map((t) => t.trim()).filter(Boolean);
    for (const t of asked) {
      if (!(ALL_TOOLS as readonly string[]).includes(t)) throw new Error(`unknown tool ${t} (choose from ${ALL_TOOLS.join(', ')})`);
    }
    tools = ALL_TOOLS.filter((t) => asked.includes(t));
    if (tools.length === 0) throw new Error('--tools is empty');
  }
  return {
    quick,
    datasets,
    loadAgents: load ? loadAgents : 0,
    fileIndex,
    tools,
    root: values.root ?? DEFAULT_ROOT,
    output: values.output,
    keepWork: values['keep-work'] ?? false,
    help: values.help ?? false,
  };
}
