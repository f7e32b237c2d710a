/**
 * Long-running Custos processes for the benchmark: a protection server and
 * protection agents on loopback, started through the real CLI
 * (`custos server start`, `custos agent attach`, `custos agent start`), with
 * their peak RSS read from /proc (VmHWM, reset before each step through
 * clear_refs).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type CommandSpec, runChecked } from './exec.js';

export interface Daemon {
  readonly name: string;
  readonly child: ChildProcess;
  /** Output so far (bounded to the last 64 KiB). */
  output(): string;
  /** Resolves with the first line matching `pattern`; rejects when the process exits first or after timeoutMs. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  stop(): Promise<void>;
}

export function startDaemon(name: string, spec: CommandSpec): Daemon {
  const child = spawn(spec.cmd, spec.args as string[], {
    cwd: spec.cwd,
    env: spec.env ? { ...process.env, ...spec.env } : process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  let exited = false;
  const waiters = new Set<() => void>();
  const onData = (d: string) => {
    text = (text + d).slice(-65536);
    for (const w of [...waiters]) w();
  };
  child.stdout!.setEncoding('utf8').on('data', onData);
  child.stderr!.setEncoding('utf8').on('data', onData);
  const closed = new Promise<void>((resolve) => child.on('close', () => {
    exited = true;
    for (const w of [...waiters]) w();
    resolve();
  }));
  return {
    name,
    child,
    output: () => text,
    waitForLine(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`${name}: no line matching ${pattern} within ${timeoutMs} ms:\n${text.slice(-2000)}`)), timeoutMs);
        const finish = (err: Error | null, line?: string) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (err) reject(err);
          else resolve(line!);
        };
        const check = () => {
          const line = text.split('\n').find((l) => pattern.test(l));
          if (line !== undefined) finish(null, line);
          else if (exited) finish(new Error(`${name} exited before printing ${pattern}:\n${text.slice(-2000)}`));
        };
        waiters.add(check);
        check();
      });
    },
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await closed;
      clearTimeout(t);
    },
  };
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Peak resident set size of a process since start or the last resetPeakRss (KiB); 0 when it is gone. */
export function peakRssKiB(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** CPU time (user + system, all threads) a process has used so far, in seconds; 0 when it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces) start at the last ')'.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/**
 * Waits until these processes have used almost no CPU (< 5% of a core each)
 * for 8 s in a row, at most 60 s: a server and an agent between two jobs,
 * having finished what the last one left (a settling collection and trim,
 * src/agent/memory.ts, follows a job by a few seconds).
 */
export async function waitForIdle(pids: readonly number[], quietMs = 8000, maxMs = 60_000): Promise<void> {
  const stepMs = 500;
  const deadline = Date.now() + maxMs;
  let last = pids.map(cpuSeconds);
  let quietFor = 0;
  while (quietFor < quietMs && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, stepMs));
    const now = pids.map(cpuSeconds);
    const busy = now.some((c, i) => c - last[i]! > 0.05 * (stepMs / 1000));
    quietFor = busy ? 0 : quietFor + stepMs;
    last = now;
  }
}

/** Starts a new peak (Linux: "5" in clear_refs resets VmHWM to the current RSS). */
export function resetPeakRss(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // not permitted or gone: the peak then covers the whole life of the process
  }
}

export interface CustosServer {
  readonly daemon: Daemon;
  readonly url: string;
  readonly dataDir: string;
  /** CUSTOS_SERVER, CUSTOS_TOKEN and CUSTOS_CA for CLI commands (plus `extra`). */
  env(extra?: Record<string, string>): Record<string, string>;
}

/** `custos server start` on a free loopback port; resolves once it printed "ready". */
export async function startCustosServer(cli: (args: string[], env?: Record<string, string>) => CommandSpec, dataDir: string): Promise<CustosServer> {
  const port = await freePort();
  const daemon = startDaemon('custos server', cli(['server', 'start', '--data', dataDir, '--listen', `127.0.0.1:${port}`]));
  let url: string;
  try {
    url = (JSON.parse(await daemon.waitForLine(/"msg":"ready"/, 120_000)) as { url: string }).url;
  } catch (err) {
    await daemon.stop();
    throw err;
  }
  const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  return {
    daemon,
    url,
    dataDir,
    env: (extra = {}) => ({ ...extra, CUSTOS_SERVER: url, CUSTOS_TOKEN: token, CUSTOS_CA: join(dataDir, 'ca.pem') }),
  };
}

/** `custos agent token` + `custos agent attach`: an agent directory ready for `agent start`. */
export async function attachCustosAgent(cli: (args: string[], env?: Record<string, string>) => CommandSpec, server: CustosServer, name: string, dataDir: string): Promise<void> {
  const out = await runChecked(cli(['agent', 'token', '--json'], server.env()));
  const { token } = JSON.parse(out.stdout) as { token: string };
  await runChecked(cli(['agent', 'attach', '--server', server.url, '--token', token, '--data', dataDir, '--name', name, '--json']));
}

/** `custos agent start`; resolves once it says it is connected. */
export async function startCustosAgent(cli: (args: string[], env?: Record<string, string>) => CommandSpec, name: string, dataDir: string, extraArgs: readonly string[] = []): Promise<Daemon> {
  const daemon = startDaemon(`custos agent ${name}`, cli(['agent', 'start', '--data', dataDir, '--user-socket', 'off', ...extraArgs]));
  try {
    await daemon.waitForLine(/"msg":"connected to /, 60_000);
  } catch (err) {
    await daemon.stop();
    throw err;
  }
  return daemon;
}
