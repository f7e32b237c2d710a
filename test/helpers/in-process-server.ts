/**
 * A protection server started in the test's own process (src/server), for
 * tests that must reach its services (the job engine, pool maintenance)
 * directly, with real agents and CLI commands as separate processes. It
 * listens on 127.0.0.1 on a free port; `server` is a TestServer facade with
 * what attachAgent and the CLI helpers use (no process: call close()).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server/index.js';
import type { JobRow } from '../../src/catalog/index.js';
import { describeCli, parseJsonOutput, runCli } from './tree.js';
import { waitFor, type ApiPoint, type TestServer } from './server.js';

export interface InProcessServer {
  readonly running: RunningServer;
  readonly server: TestServer;
  close(): Promise<void>;
}

export async function startInProcessServer(dataDir: string, options: Partial<ServerOptions> = {}): Promise<InProcessServer> {
  const running = await startServer({ dataDir, host: '127.0.0.1', port: 0, log: () => undefined, ...options });
  const caPath = join(dataDir, 'ca.pem');
  const adminToken = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  const env = (token = adminToken) => ({ CUSTOS_SERVER: running.url, CUSTOS_TOKEN: token, CUSTOS_CA: caPath, TZ: 'UTC' });
  const cli = (args: readonly string[], opts: { token?: string; timeoutMs?: number } = {}) => runCli(args, { env: env(opts.token), timeoutMs: opts.timeoutMs ?? 120_000 });
  const server = {
    url: running.url,
    port: running.port,
    dataDir,
    caPath,
    adminToken,
    env,
    cli,
    async cliJson<T>(args: readonly string[], opts: { token?: string; timeoutMs?: number } = {}): Promise<T> {
      const r = await cli(args, opts);
      if (r.code !== 0) throw new Error(`command failed:\n${describeCli(args, r)}`);
      return parseJsonOutput<T>(args, r);
    },
  } as unknown as TestServer;
  return { running, server, close: () => running.close() };
}

/** Waits until a job has finished (read from the catalog). */
export function waitJobRow(s: InProcessServer, id: number, timeoutMs = 120_000): Promise<JobRow> {
  return waitFor(`job ${id} to finish`, async () => {
    const j = await s.running.context.catalog.job(id);
    return j && ['succeeded', 'failed', 'cancelled'].includes(j.state) ? j : undefined;
  }, timeoutMs, 200);
}

/** Waits until no job is queued or running. */
export async function waitNoJobs(s: InProcessServer, timeoutMs = 180_000): Promise<void> {
  await waitFor('no queued or running jobs', async () => (await s.running.context.catalog.listJobs({ states: ['queued', 'running'], limit: 10 })).length === 0, timeoutMs, 300);
}

/**
 * Protects `source` with a new protection group (sync once a day, one
 * point time, `extra` options such as `--days`), waits for the initial
 * replica (the first recovery point) and for every job to end; returns that
 * point.
 */
export async function protectAndWaitFirstPoint(s: InProcessServer, group: string, source: string, extra: readonly string[] = []): Promise<ApiPoint> {
  const args = ['group', 'create', group, '--source', source, '--sync', '24h', '--points', '23:00', ...extra, '--json'];
  const g = await s.server.cli(args);
  if (g.code !== 0) throw new Error(`group create failed:\n${describeCli(args, g)}`);
  const [point] = await waitFor('the initial replica', async () => {
    const p = await s.server.cliJson<ApiPoint[]>(['point', 'list', source, '--json']);
    return p.length === 1 ? p : undefined;
  }, 120_000);
  await waitNoJobs(s);
  return point!;
}
