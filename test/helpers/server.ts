/**
 * End-to-end helpers for server mode: start a real protection server process
 * (`custos server start`) on 127.0.0.1, attach and start protection agents
 * (`custos agent attach|start`), run CLI commands against the server, make
 * raw HTTPS requests, and poll until a condition holds. Every process
 * started here is remembered; stopAllProcesses() (call it in `after`) ends
 * the ones still running, so a failing test leaves nothing behind.
 */
import { readFileSync } from 'node:fs';
import { request as httpsRequestRaw } from 'node:https';
import { join } from 'node:path';
export { freePort } from '../../bench/services.js';
import { describeCli, makeTempDir, parseJsonOutput, runCli, startCli, type CliResult, type StartedCli } from './tree.js';

// ---------------------------------------------------------------------------
// Processes

/** A CLI child process whose stdout and stderr are also kept as text while it runs. */
export interface LiveProcess {
  readonly started: StartedCli;
  readonly pid: number;
  /** Everything written so far (stdout then stderr interleaved in arrival order). */
  output(): string;
  /** Resolves when a line of output matches (rejects after timeoutMs or when the process exits first). */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Whether the process has exited. */
  readonly exited: boolean;
  /** Sends a signal (SIGTERM by default) and waits for the exit (SIGKILL after graceMs). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<CliResult>;
  /** kill -9, and wait for the exit. */
  kill(): Promise<CliResult>;
}

const live = new Set<LiveProcess>();

function spawnLive(args: readonly string[], env: Record<string, string | undefined>): LiveProcess {
  const started = startCli(args, { env });
  let text = '';
  let exited = false;
  const waiters = new Set<() => void>();
  const onData = (b: Buffer) => {
    text += b.toString('utf8');
    for (const w of [...waiters]) w();
  };
  started.child.stdout!.on('data', onData);
  started.child.stderr!.on('data', onData);
  void started.done.then(() => {
    exited = true;
    live.delete(proc);
    for (const w of [...waiters]) w();
  }, () => undefined);
  const proc: LiveProcess = {
    started,
    pid: started.child.pid!,
    output: () => text,
    get exited() {
      return exited;
    },
    waitForOutput(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = text.split('\n').find((l) => pattern.test(l));
          if (line !== undefined) {
            done();
            resolve(line);
          } else if (exited) {
            done();
            reject(new Error(`process ${args.join(' ')} exited before printing ${pattern}; output:\n${text.slice(-3000)}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern} from ${args.join(' ')}; output:\n${text.slice(-3000)}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async stop(signal = 'SIGTERM', graceMs = 10_000) {
      if (!exited) {
        started.child.kill(signal);
        const t = setTimeout(() => started.child.kill('SIGKILL'), graceMs);
        try {
          return await started.done;
        } finally {
          clearTimeout(t);
        }
      }
      return started.done;
    },
    kill() {
      if (!exited) started.child.kill('SIGKILL');
      return started.done;
    },
  };
  live.add(proc);
  return proc;
}

/** Stops every process started by this module that is still running (SIGTERM, then SIGKILL). */
export async function stopAllProcesses(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop('SIGTERM', 5_000).catch(() => undefined)));
}

// ---------------------------------------------------------------------------
// Ports and polling

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Calls `probe` every `intervalMs` until it returns something other than
 * undefined/false, and returns that; throws after `timeoutMs` with `what`
 * and the last value seen (or the last error). An assertion that fails in
 * `probe` is thrown at once.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number, intervalMs = 500): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (err) {
      // A failed assertion in the probe ends the wait at once; other errors (a server restarting) are retried.
      if ((err as { code?: string }).code === 'ERR_ASSERTION') throw err;
      last = err;
    }
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    }
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------
// The server

export interface ServerStartOptions {
  /** Server data directory (a new temporary one when missing). */
  readonly dataDir?: string;
  /** Port on 127.0.0.1 (0, the default: any free port). */
  readonly port?: number;
  /**
   * The server's clock (CUSTOS_TEST_CLOCK): it starts at `start` and runs
   * `speed` times faster than real time (unset: the system clock).
   */
  readonly clock?: { readonly start: Date | string; readonly speed: number };
  /** More `custos server start` options (e.g. --new-catalog). */
  readonly extraArgs?: readonly string[];
}

export interface TestServer {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly caPath: string;
  readonly adminToken: string;
  readonly process: LiveProcess;
  /**
   * The server's clock now, estimated from the spawn time (a little ahead of
   * the real one, by at most the start-up time × speed): what a restart on
   * the same data directory should start its clock at, so time never goes back.
   */
  clockEstimate(): Date;
  /** The server's clock now, exactly (read from the expiry of a new enrollment token; costs one request). */
  clockNow(): Promise<Date>;
  /** Environment for CLI commands against this server (admin token unless another is given). */
  env(token?: string): Record<string, string>;
  /** Runs `custos ...args` against this server. */
  cli(args: readonly string[], opts?: { token?: string; timeoutMs?: number }): Promise<CliResult>;
  /** Runs a CLI command that must succeed (status 0) and parses its stdout as JSON. */
  cliJson<T = unknown>(args: readonly string[], opts?: { token?: string; timeoutMs?: number }): Promise<T>;
  /** A raw HTTPS request to this server (the CA is trusted; no token unless given). */
  request(method: string, path: string, opts?: { token?: string; body?: string | Buffer; headers?: Record<string, string> }): Promise<HttpAnswer>;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  json<T = unknown>(): T;
}

/** Starts `custos server start` on 127.0.0.1 (TZ=UTC) and waits for its "ready" line. */
export async function startServer(options: ServerStartOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? join((await makeTempDir('custos-e2e-server-')).path, 'server');
  const clock = options.clock ? { start: new Date(options.clock.start).getTime(), speed: options.clock.speed } : null;
  const clockEnv = clock ? `${new Date(clock.start).toISOString()}*${clock.speed}` : undefined;
  const env: Record<string, string | undefined> = { TZ: 'UTC', CUSTOS_TEST_CLOCK: clockEnv, CUSTOS_SERVER: undefined, CUSTOS_TOKEN: undefined, CUSTOS_CA: undefined };
  const spawnedAt = Date.now();
  const proc = spawnLive(['server', 'start', '--data', dataDir, '--listen', `127.0.0.1:${options.port ?? 0}`, ...(options.extraArgs ?? [])], env);
  let url: string;
  try {
    const line = await proc.waitForOutput(/"msg":"ready"/, 60_000);
    url = (JSON.parse(line) as { url: string }).url;
  } catch (err) {
    await proc.kill();
    throw err;
  }
  const port = Number(new URL(url).port);
  const caPath = join(dataDir, 'ca.pem');
  const adminToken = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  const ca = readFileSync(caPath, 'utf8');
  const server: TestServer = {
    url,
    port,
    dataDir,
    caPath,
    adminToken,
    process: proc,
    clockEstimate: () => (clock ? new Date(clock.start + (Date.now() - spawnedAt) * clock.speed) : new Date()),
    async clockNow() {
      const before = Date.now();
      const r = await server.request('POST', '/api/agents/enrollment-tokens', { token: adminToken, body: JSON.stringify({ expires: '1h' }) });
      if (r.status !== 200) throw new Error(`enrollment token: ${r.status} ${r.text}`);
      const at = new Date(r.json<{ expiresAt: string }>().expiresAt).getTime() - 3_600_000;
      // Account for the time since the answer was made (about half the round trip).
      return new Date(at + ((Date.now() - before) / 2) * (clock?.speed ?? 1));
    },
    env: (token = adminToken) => ({ CUSTOS_SERVER: url, CUSTOS_TOKEN: token, CUSTOS_CA: caPath, TZ: 'UTC' }),
    cli: (args, opts = {}) => runCli(args, { env: server.env(opts.token), timeoutMs: opts.timeoutMs ?? 120_000 }),
    async cliJson<T>(args: readonly string[], opts: { token?: string; timeoutMs?: number } = {}) {
      const r = await server.cli(args, opts);
      if (r.code !== 0) throw new Error(`command failed:\n${describeCli(args, r)}`);
      return parseJsonOutput<T>(args, r);
    },
    request: (method, path, opts = {}) => httpsRequest(new URL(path, url), method, ca, opts),
  };
  return server;
}

export function httpsRequest(
  url: URL,
  method: string,
  ca: string,
  opts: { token?: string; body?: string | Buffer; headers?: Record<string, string>; cert?: string; key?: string } = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string | number> = { ...(opts.headers ?? {}) };
  if (opts.token !== undefined) headers['authorization'] = `Bearer ${opts.token}`;
  if (opts.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = Buffer.byteLength(opts.body);
  }
  return new Promise((resolve, reject) => {
    const req = httpsRequestRaw(url, { method, ca, servername: '', headers, cert: opts.cert, key: opts.key, timeout: 30_000 }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text,
          json<T>() {
            try {
              return JSON.parse(text) as T;
            } catch {
              throw new Error(`${method} ${url.pathname} answered ${res.statusCode} with non-JSON: ${text.slice(0, 500)}`);
            }
          },
        });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname}: no answer within 30 s`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

// ---------------------------------------------------------------------------
// Agents

export interface TestAgent {
  readonly name: string;
  readonly dataDir: string;
  /** The running `custos agent start` (null until start()). */
  process: LiveProcess | null;
  /** Starts `custos agent start` (with `extra` options) and waits until it says it is connected (unless wait is false). */
  start(wait?: boolean, extra?: readonly string[]): Promise<LiveProcess>;
}

/** Makes an enrollment token and runs `custos agent attach` with it; does not start the agent. */
export async function attachAgent(server: TestServer, name: string, dataDir?: string): Promise<TestAgent> {
  const dir = dataDir ?? join((await makeTempDir(`custos-e2e-agent-${name}-`)).path, 'agent');
  const { token } = await server.cliJson<{ token: string; expiresAt: string }>(['agent', 'token', '--json']);
  const args = ['agent', 'attach', '--server', server.url, '--token', token, '--data', dir, '--name', name, '--json'];
  const r = await runCli(args, { env: { CUSTOS_SERVER: undefined, CUSTOS_TOKEN: undefined, CUSTOS_CA: undefined }, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`attach failed:\n${describeCli(args, r)}`);
  const attached = parseJsonOutput<{ name: string; server: string }>(args, r);
  if (attached.name !== name) throw new Error(`attached as ${attached.name}, expected ${name}`);
  const agent: TestAgent = {
    name,
    dataDir: dir,
    process: null,
    async start(wait = true, extra: readonly string[] = []) {
      // No user socket unless a test asks for one: agents of tests running side by side would contend for /run/custos-agent.sock.
      const socket = extra.includes('--user-socket') ? [] : ['--user-socket', 'off'];
      const p = spawnLive(['agent', 'start', '--data', dir, ...socket, ...extra], { CUSTOS_SERVER: undefined, CUSTOS_TOKEN: undefined, CUSTOS_CA: undefined });
      agent.process = p;
      if (wait) await p.waitForOutput(/"msg":"connected to /, 30_000);
      return p;
    },
  };
  return agent;
}

/** Spawns `custos agent start --data DIR` for an agent directory (e.g. one attached elsewhere). */
export function startAgentProcess(dataDir: string): LiveProcess {
  return spawnLive(['agent', 'start', '--data', dataDir, '--user-socket', 'off'], { CUSTOS_SERVER: undefined, CUSTOS_TOKEN: undefined, CUSTOS_CA: undefined });
}

// ---------------------------------------------------------------------------
// API objects (the fields the tests look at)

export interface ApiJob {
  id: number;
  kind: string;
  state: string;
  source: string | null;
  agent: string | null;
  createdAt: string;
  attempts: number;
  progress: { phase: string; filesDone: number; bytesDone: number; bytesTotal: number | null };
  error: string | null;
  result: Record<string, unknown> | null;
  log?: Array<{ time: string; level: string; message: string }>;
}

export interface ApiPoint {
  id: string;
  time: string;
  source: string;
  partial: boolean;
  files: number;
  logicalBytes: number;
  bytesAdded: number;
}

export interface ApiAgent {
  name: string;
  status: string;
  lastSeen: string | null;
  dataSources: string[];
}

export interface ApiSource {
  id: string;
  agent: string;
  group: string | null;
  replicaState: string;
  newestPoint: string | null;
  recoveryPoints: number;
}

/** The jobs of a server, newest first (up to 1000). */
export function listJobs(server: TestServer, extra: readonly string[] = []): Promise<ApiJob[]> {
  return server.cliJson<ApiJob[]>(['job', 'list', '--json', '--limit', '1000', ...extra]);
}

/** The recovery points of a data source, oldest first. */
export function listPoints(server: TestServer, source: string): Promise<ApiPoint[]> {
  return server.cliJson<ApiPoint[]>(['point', 'list', source, '--json']);
}

/** Waits until no job is queued or running. */
export async function waitIdle(server: TestServer, timeoutMs: number): Promise<ApiJob[]> {
  return waitFor('no queued or running jobs', async () => {
    const jobs = await listJobs(server);
    return jobs.every((j) => j.state !== 'queued' && j.state !== 'running') ? jobs : undefined;
  }, timeoutMs);
}
