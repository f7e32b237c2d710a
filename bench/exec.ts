/** Running external commands: plain, and measured (wall time + peak RSS via GNU time). */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

export const GNU_TIME = '/usr/bin/time';

export interface CommandSpec {
  readonly cmd: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
}

export interface CommandOutput {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

export interface Measurement {
  /** Wall-clock seconds, measured around the child process. */
  readonly seconds: number;
  /** Peak resident set size of the command in KiB (GNU time %M). */
  readonly peakRssKiB: number;
  /** User + system CPU seconds of the command (GNU time %U + %S). */
  readonly cpuSeconds: number;
}

export interface MeasuredOutput extends CommandOutput, Measurement {}

export class CommandError extends Error {
  constructor(
    readonly spec: CommandSpec,
    readonly output: CommandOutput,
  ) {
    const tail = (output.stderr.trim() || output.stdout.trim()).split('\n').slice(-15).join('\n');
    super(`${describe(spec)} exited with ${output.exitCode}\n${tail}`);
    this.name = 'CommandError';
  }
}

export function describe(spec: CommandSpec): string {
  return [spec.cmd, ...spec.args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a}'`)).join(' ');
}

/** Keeps the first `headLimit` and last `tailLimit` characters of a stream. */
class Capture {
  private head = '';
  private tail = '';
  private dropped = false;
  constructor(
    private readonly headLimit: number,
    private readonly tailLimit: number,
  ) {}
  push(chunk: string): void {
    if (this.head.length < this.headLimit) {
      const room = this.headLimit - this.head.length;
      this.head += chunk.slice(0, room);
      chunk = chunk.slice(room);
    }
    if (!chunk) return;
    this.tail += chunk;
    if (this.tail.length > this.tailLimit * 2) {
      this.tail = this.tail.slice(-this.tailLimit);
      this.dropped = true;
    }
  }
  text(): string {
    const tail = this.tail.length > this.tailLimit ? this.tail.slice(-this.tailLimit) : this.tail;
    const gap = this.dropped || this.tail.length > this.tailLimit ? '\n[...]\n' : '';
    return this.head + gap + tail;
  }
}

/** Runs a command, capturing (bounded) stdout and stderr; never throws on exit code. */
export function run(spec: CommandSpec, opts: { inherit?: boolean } = {}): Promise<CommandOutput> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(spec.cmd, spec.args as string[], {
      cwd: spec.cwd,
      env: spec.env ? { ...process.env, ...spec.env } : process.env,
      stdio: opts.inherit ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'],
    });
    const out = new Capture(4 << 20, 1 << 20);
    const err = new Capture(64 << 10, 64 << 10);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => out.push(d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => err.push(d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({
        exitCode: code ?? (signal ? 128 + signalNumber(signal) : 1),
        stdout: out.text(),
        stderr: err.text(),
        seconds: (performance.now() - start) / 1000,
      });
    });
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  const table: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15, SIGSEGV: 11 };
  return table[signal] ?? 0;
}

/** Runs a command and throws CommandError unless it exits 0. */
export async function runChecked(spec: CommandSpec, opts: { inherit?: boolean } = {}): Promise<CommandOutput> {
  const output = await run(spec, opts);
  if (output.exitCode !== 0) throw new CommandError(spec, output);
  return output;
}

/** Milliseconds the busiest block device has spent doing I/O (/proc/diskstats, field 13). */
function ioTicks(): number[] {
  try {
    return readFileSync('/proc/diskstats', 'utf8')
      .split('\n')
      .map((line) => Number(line.trim().split(/\s+/)[12] ?? 0))
      .filter((n) => Number.isFinite(n));
  } catch {
    return [];
  }
}

/**
 * Flushes dirty pages and waits (at most 90 s) until no disk has been busy
 * more than 10% of the time for a second. Deleting the previous tool's
 * gigabytes sets off discards and write-back for many seconds afterwards
 * (this machine's root filesystem is mounted with `discard`); without
 * waiting, whichever tool runs next is billed for them.
 */
export async function settleDisk(): Promise<void> {
  spawnSync('sync');
  const deadline = Date.now() + 90_000;
  let quiet = 0;
  let last = ioTicks();
  while (quiet < 4 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    const now = ioTicks();
    const busiest = Math.max(0, ...now.map((t, i) => t - (last[i] ?? t)));
    quiet = busiest <= 25 ? quiet + 1 : 0;
    last = now;
  }
}

/**
 * Runs a command under GNU time to get its peak RSS, after flushing dirty
 * pages and letting the disk settle (settleDisk) so that write-back left by
 * the previous step is not billed to this one. Throws CommandError unless it exits 0.
 */
export async function runMeasured(spec: CommandSpec): Promise<MeasuredOutput> {
  await settleDisk();
  const dir = mkdtempSync(join(tmpdir(), 'custos-bench-time-'));
  const timeFile = join(dir, 'time.txt');
  try {
    const wrapped: CommandSpec = {
      ...spec,
      cmd: GNU_TIME,
      args: ['-f', '%e %M %U %S', '-o', timeFile, spec.cmd, ...spec.args],
    };
    const output = await run(wrapped);
    if (output.exitCode !== 0) throw new CommandError(spec, output);
    const lines = readFileSync(timeFile, 'utf8').trim().split('\n');
    const [, rss, user, sys] = (lines[lines.length - 1] ?? '').split(' ');
    const peakRssKiB = Number(rss);
    const cpuSeconds = Number(user) + Number(sys);
    if (!Number.isFinite(peakRssKiB) || !Number.isFinite(cpuSeconds)) throw new Error(`cannot parse GNU time output: ${lines.join(' | ')}`);
    return { ...output, peakRssKiB, cpuSeconds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Apparent size in bytes of a directory tree (`du -sb`). */
export async function duBytes(path: string): Promise<number> {
  const out = await runChecked({ cmd: 'du', args: ['-sb', path] });
  const bytes = Number(out.stdout.split(/\s+/)[0]);
  if (!Number.isFinite(bytes)) throw new Error(`cannot parse du output: ${out.stdout}`);
  return bytes;
}

/** True if an executable of that name is on PATH. */
export function onPath(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}
