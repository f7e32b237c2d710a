/**
 * How each tool is driven. Every tool gets a fresh repository, its own HOME
 * (so restic's and borg's caches live in the work dir and are wiped with it),
 * and is asked to back up the same absolute path.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type CommandSpec, onPath, run } from './exec.js';

export type ToolName = 'restic' | 'borg' | 'custos';
export const ALL_TOOLS: readonly ToolName[] = ['restic', 'borg', 'custos'];

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

/** Custos is driven through its CLI, `node bin/custos.js`, which needs dist/src/cli/main.js. */
export function custos(repoRoot: string): Tool {
  const bin = join(repoRoot, 'bin', 'custos.js');
  const main = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
  const cli = (ctx: ToolContext, args: string[]): CommandSpec => ({
    cmd: process.execPath,
    args: [bin, ...args],
    env: homeEnv(ctx),
  });
  const keyFile = (ctx: ToolContext): string => join(ctx.work, 'custos.key');
  return {
    name: 'custos',
    config: 'custos, encrypted pool (pool init --encrypt, random key file)',
    unavailable: async () => {
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
    },
    version: async () => {
      const out = await run({ cmd: process.execPath, args: [bin, '--version'] });
      return out.exitCode === 0 ? out.stdout.trim() : 'unknown';
    },
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
