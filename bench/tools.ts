/**
 * How each tool is driven. Every tool gets a fresh repository, its own HOME
 * (so restic's and borg's caches live in the work dir and are wiped with it),
 * and is asked to back up the same absolute path.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type CommandSpec, onPath, run } from './exec.js';
import { attachCustosAgent, cpuSeconds, peakRssKiB, resetPeakRss, startCustosAgent, startCustosServer, waitForIdle } from './services.js';

export type ToolName = 'restic' | 'borg' | 'custos' | 'custos-server' | 'custos-server-scan';
export const ALL_TOOLS: readonly ToolName[] = ['restic', 'borg', 'custos', 'custos-server', 'custos-server-scan'];
/** What runs without --tools: custos-server-scan only when asked for. */
export const DEFAULT_TOOLS: readonly ToolName[] = ['restic', 'borg', 'custos', 'custos-server'];

export interface ToolContext {
  /** Scratch dir for this tool and dataset; wiped before and after. */
  readonly work: string;
  /** Repository / pool directory (inside work). */
  readonly repo: string;
  /** HOME for the tool's processes (caches, config). */
  readonly home: string;
  /** The directory being backed up. */
  readonly source: string;
}

export interface Tool {
  readonly name: ToolName;
  /** One line describing the configuration, for the report. */
  readonly config: string;
  /** Null when the tool can run, else why it is skipped. */
  unavailable(): Promise<string | null>;
  version(): Promise<string>;
  init(ctx: ToolContext): CommandSpec;
  /** `label` is one of initial / unchanged / changed. */
  backup(ctx: ToolContext, label: string): CommandSpec;
  /** Restores the latest backup into `target` (an empty directory). */
  restore(ctx: ToolContext, target: string): CommandSpec;
  /** Picks the interesting part of a backup command's stdout. */
  backupSummary(stdout: string): unknown;
  /** Optional extra information gathered after the run (not timed). */
  extra?(ctx: ToolContext): Promise<Record<string, unknown>>;
  /** Processes the steps talk to: started before init, stopped after the run (neither timed). */
  services?(ctx: ToolContext): Promise<Services>;
}

export interface Services {
  /** Waits until the processes are idle, as they are between jobs (before a step). */
  idle(): Promise<void>;
  /** Resets the processes' peak RSS (before a step). */
  resetPeak(): void;
  /** Sum of the processes' peak RSS since resetPeak (KiB), each one's, and the CPU seconds each used since. */
  peak(): { readonly totalKiB: number; readonly each: Record<string, number>; readonly cpuSeconds: Record<string, number> };
  stop(): Promise<void>;
}

function homeEnv(ctx: ToolContext): Record<string, string> {
  return { HOME: ctx.home, XDG_CACHE_HOME: join(ctx.home, '.cache'), XDG_CONFIG_HOME: join(ctx.home, '.config') };
}

function lastJsonLine(stdout: string, accept: (v: Record<string, unknown>) => boolean): unknown {
  const lines = stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('{'));
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const v = JSON.parse(lines[i]!) as Record<string, unknown>;
      if (accept(v)) return v;
    } catch {
      // progress noise; keep looking
    }
  }
  return null;
}

function parseJson(stdout: string): unknown {
  try {
    return JSON.parse(stdout);
  } catch {
    return lastJsonLine(stdout, () => true);
  }
}

async function firstLine(spec: CommandSpec): Promise<string> {
  const out = await run(spec);
  return (out.stdout || out.stderr).trim().split('\n')[0] ?? 'unknown';
}

const RESTIC_PASSWORD = 'custos-bench-restic';
const BORG_PASSPHRASE = 'custos-bench-borg';

export const restic: Tool = {
  name: 'restic',
  config: 'restic, repository v2, default compression (auto), default cache',
  unavailable: async () => (onPath('restic') ? null : 'restic is not installed'),
  version: () => firstLine({ cmd: 'restic', args: ['version'] }),
  init: (ctx) => ({ cmd: 'restic', args: ['init'], env: resticEnv(ctx) }),
  backup: (ctx) => ({ cmd: 'restic', args: ['backup', '--json', ctx.source], env: resticEnv(ctx) }),
  restore: (ctx, target) => ({ cmd: 'restic', args: ['restore', 'latest', '--target', target], env: resticEnv(ctx) }),
  backupSummary: (stdout) => lastJsonLine(stdout, (v) => v['message_type'] === 'summary'),
};

function resticEnv(ctx: ToolContext): Record<string, string> {
  return { ...homeEnv(ctx), RESTIC_REPOSITORY: ctx.repo, RESTIC_PASSWORD, RESTIC_PROGRESS_FPS: '0.016' };
}

export const borg: Tool = {
  name: 'borg',
  config: 'borg, --encryption=repokey, --compression zstd,3, default files cache',
  unavailable: async () => (onPath('borg') ? null : 'borg is not installed'),
  version: () => firstLine({ cmd: 'borg', args: ['--version'] }),
  init: (ctx) => ({ cmd: 'borg', args: ['init', '--encryption=repokey', ctx.repo], env: borgEnv(ctx) }),
  backup: (ctx, label) => ({
    cmd: 'borg',
    args: ['create', '--json', '--compression', 'zstd,3', `${ctx.repo}::${label}`, ctx.source],
    env: borgEnv(ctx),
  }),
  // borg extracts into the current directory; the latest archive is always "changed".
  restore: (ctx, target) => ({ cmd: 'borg', args: ['extract', `${ctx.repo}::changed`], cwd: target, env: borgEnv(ctx) }),
  backupSummary: (stdout) => {
    const v = parseJson(stdout) as { archive?: { stats?: unknown; duration?: unknown } } | null;
    return v?.archive ? { duration: v.archive.duration, stats: v.archive.stats } : v;
  },
};

function borgEnv(ctx: ToolContext): Record<string, string> {
  return {
    ...homeEnv(ctx),
    BORG_BASE_DIR: ctx.home,
    BORG_PASSPHRASE,
    BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
    BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
  };
}

/** Null when the Custos CLI (`node bin/custos.js`, needing dist/src/cli/main.js) loads, else why not. */
async function custosUnavailable(repoRoot: string): Promise<string | null> {
  const bin = join(repoRoot, 'bin', 'custos.js');
  const main = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
  if (!existsSync(bin) || !existsSync(main)) {
    return `the Custos CLI is not built yet (${existsSync(bin) ? main : bin} is missing); skipping custos`;
  }
  // A half-written CLI can be compiled yet fail to load; probe it once.
  const probe = await run({ cmd: process.execPath, args: [bin, '--help'] });
  const loadError = /ERR_MODULE_NOT_FOUND|SyntaxError|ERR_IMPORT|does not provide an export/.exec(probe.stderr);
  if (probe.exitCode !== 0 && loadError) {
    const line = /^\w*Error\b.*$/m.exec(probe.stderr)?.[0] ?? loadError[0];
    return `the Custos CLI does not load (${line.trim()}); skipping custos`;
  }
  return null;
}

async function custosVersion(repoRoot: string): Promise<string> {
  const out = await run({ cmd: process.execPath, args: [join(repoRoot, 'bin', 'custos.js'), '--version'] });
  return out.exitCode === 0 ? out.stdout.trim() : 'unknown';
}

/** Custos standalone: `custos backup` into a local pool. */
export function custos(repoRoot: string): Tool {
  const bin = join(repoRoot, 'bin', 'custos.js');
  const cli = (ctx: ToolContext, args: string[]): CommandSpec => ({
    cmd: process.execPath,
    args: [bin, ...args],
    env: homeEnv(ctx),
  });
  const keyFile = (ctx: ToolContext): string => join(ctx.work, 'custos.key');
  return {
    name: 'custos',
    config: 'custos, encrypted pool (pool init --encrypt, random key file)',
    unavailable: () => custosUnavailable(repoRoot),
    version: () => custosVersion(repoRoot),
    init: (ctx) => cli(ctx, ['pool', 'init', ctx.repo, '--encrypt', '--key-file', keyFile(ctx)]),
    backup: (ctx) => cli(ctx, ['backup', ctx.source, '--pool', ctx.repo, '--key-file', keyFile(ctx), '--json']),
    restore: (ctx, target) => cli(ctx, ['restore', 'latest', target, '--pool', ctx.repo, '--key-file', keyFile(ctx)]),
    backupSummary: parseJson,
    extra: async (ctx) => {
      const result: Record<string, unknown> = {};
      for (const [name, args] of [
        ['points', ['points', '--pool', ctx.repo, '--key-file', keyFile(ctx), '--json']],
        ['poolStats', ['pool', 'stats', ctx.repo, '--key-file', keyFile(ctx), '--json']],
      ] as const) {
        const out = await run(cli(ctx, [...args]));
        result[name] = out.exitCode === 0 ? parseJson(out.stdout) : { error: out.stderr.trim().split('\n').slice(-5).join('\n') };
      }
      return result;
    },
  };
}

/**
 * Custos in server mode: a protection server (data directory = the
 * repository) and one protection agent on loopback, both real processes;
 * the steps are CLI commands that wait for their job. The initial backup and
 * the one after the change are recovery points (`point create`), the
 * unchanged one a synchronization guided by the agent's change journal
 * (`sync`); the restore is `recover --point latest` through the agent.
 *
 * `scanEverySync` (tool custos-server-scan): the agent runs with
 * `--journal-scan-every 0s`, so every synchronization is the periodic
 * metadata scan that also verifies the change journal — its unchanged
 * synchronization is what a verification costs, to compare with the
 * standalone unchanged backup of the same run.
 */
export function custosServer(repoRoot: string, scanEverySync = false): Tool {
  const bin = join(repoRoot, 'bin', 'custos.js');
  const AGENT = 'bench';
  let env: Record<string, string> | null = null;
  const cli = (args: string[], extra: Record<string, string> = {}): CommandSpec => ({ cmd: process.execPath, args: [bin, ...args], env: { ...(env ?? {}), ...extra } });
  const sourceId = (ctx: ToolContext): string => `${AGENT}:fs:${ctx.source}`;
  const waitArgs = ['--wait', '--json', '--timeout', '2h'];
  return {
    name: scanEverySync ? 'custos-server-scan' : 'custos-server',
    config: `custos server + agent on loopback (mutual TLS), encrypted pool; peak RSS is server + agent, each step started once both are idle (as between jobs)${scanEverySync ? '; agent --journal-scan-every 0s (every synchronization a verification scan)' : ''}`,
    unavailable: () => custosUnavailable(repoRoot),
    version: () => custosVersion(repoRoot),
    async services(ctx) {
      const base = homeEnv(ctx);
      const server = await startCustosServer((args) => cli(args, base), ctx.repo);
      env = server.env(base);
      const agentDir = join(ctx.work, 'agent');
      const agent = await attachCustosAgent(cli, server, AGENT, agentDir)
        .then(() => startCustosAgent(cli, AGENT, agentDir, scanEverySync ? ['--journal-scan-every', '0s'] : []))
        .catch(async (err: unknown) => {
          await server.daemon.stop();
          throw err;
        });
      const pids = { server: server.daemon.child.pid!, agent: agent.child.pid! };
      let cpuAtReset = { server: 0, agent: 0 };
      return {
        idle: () => waitForIdle(Object.values(pids)),
        resetPeak: () => {
          resetPeakRss(pids.server);
          resetPeakRss(pids.agent);
          cpuAtReset = { server: cpuSeconds(pids.server), agent: cpuSeconds(pids.agent) };
        },
        peak: () => {
          const each = { server: peakRssKiB(pids.server), agent: peakRssKiB(pids.agent) };
          const cpu = { server: cpuSeconds(pids.server) - cpuAtReset.server, agent: cpuSeconds(pids.agent) - cpuAtReset.agent };
          return { totalKiB: each.server + each.agent, each, cpuSeconds: cpu };
        },
        async stop() {
          await agent.stop();
          await server.daemon.stop();
          env = null;
        },
      };
    },
    // The scheduled work of the group stays out of the way: the replica is made on demand, the one recovery point time is 12 h away.
    init: (ctx) => {
      const at = new Date(Date.now() + 12 * 3_600_000);
      const hhmm = `${String(at.getHours()).padStart(2, '0')}:${String(at.getMinutes()).padStart(2, '0')}`;
      return cli(['group', 'create', 'bench', '--source', sourceId(ctx), '--replica', 'manual', '--sync', '24h', '--points', hhmm, '--json']);
    },
    backup: (ctx, label) => cli(label === 'unchanged' ? ['sync', sourceId(ctx), ...waitArgs] : ['point', 'create', sourceId(ctx), ...waitArgs]),
    restore: (ctx, target) => cli(['recover', sourceId(ctx), '--point', 'latest', '--to', `${AGENT}:${target}`, ...waitArgs]),
    backupSummary: (stdout) => {
      const job = parseJson(stdout) as { id?: number; startedAt?: string; finishedAt?: string; result?: Record<string, unknown> } | null;
      return job ? { job: job.id, startedAt: job.startedAt, finishedAt: job.finishedAt, result: job.result } : null;
    },
    extra: async () => {
      const out = await run(cli(['job', 'list', '--json']));
      return { jobs: out.exitCode === 0 ? parseJson(out.stdout) : { error: out.stderr.trim() } };
    },
  };
}
