/**
 * A protection server started inside the test process (data in memory) (loopback, a free
 * port, a temporary data directory) with a clock the test moves by hand,
 * and raw HTTPS requests whose path is sent exactly as written (no
 * normalisation of dot segments, slashes, case or percent-encoding).
 */
import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent, request } from 'node:https';
import { join } from 'node:path';
import { ManualClock } from '../../src/base/index.js';

export { ManualClock };
import { readAdminToken, startServer, type RunningServer } from '../../src/server/index.js';
import { makeTempDir, memoryTmpBase } from './tree.js';

export interface RawAnswer {
  readonly status: number;
  readonly text: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

export interface RawOptions {
  readonly token?: string;
  readonly authorization?: string;
  readonly body?: string;
  /** More request headers (a cookie, a CSRF token, another content type). */
  readonly headers?: Record<string, string>;
}

export interface InProcessServer {
  readonly server: RunningServer;
  readonly clock: ManualClock;
  readonly dataDir: string;
  readonly adminToken: string;
  /** Resolves once no job is queued or running (jobs on agents stay queued: use it where none are). */
  waitIdle(): Promise<void>;
  /** One HTTPS request; `path` goes on the wire as it is. */
  raw(method: string, path: string, opts?: RawOptions): Promise<RawAnswer>;
  close(): Promise<void>;
}

export async function startInProcessServer(options: { log?: (line: string) => void } = {}): Promise<InProcessServer> {
  // In memory: every refused request writes its audit entry with an fsync, which a disk makes the slowest part of these tests.
  const dataDir = join((await makeTempDir('custos-raw-', { base: memoryTmpBase() })).path, 'server');
  const clock = new ManualClock(new Date('2026-03-02T09:00:00Z'));
  const server = await startServer({ dataDir, host: '127.0.0.1', port: 0, clock, tickMs: 3_600_000, log: options.log ?? (() => undefined) });
  const adminToken = await readAdminToken(dataDir);
  const waitIdle = async () => {
    for (let i = 0; (await server.context.catalog.listJobs({ states: ['queued', 'running'], limit: 10 })).length > 0; i++) {
      if (i > 600) throw new Error('the server did not become idle within 30 s');
      server.context.engine.kick();
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  // The first scheduler tick queues the day's work (a catalog backup, pool maintenance): let it finish, so the tests alone change the catalog.
  await waitIdle();
  const ca = readFileSync(join(dataDir, 'ca.pem'), 'utf8');
  const agent = new HttpsAgent({ ca, keepAlive: true, maxSockets: 4 });
  const raw = (method: string, path: string, opts: RawOptions = {}) =>
    new Promise<RawAnswer>((resolve, reject) => {
      const headers: Record<string, string | number> = { ...(opts.headers ?? {}) };
      const auth = opts.authorization ?? (opts.token !== undefined ? `Bearer ${opts.token}` : undefined);
      if (auth !== undefined) headers['authorization'] = auth;
      if (opts.body !== undefined) {
        headers['content-type'] ??= 'application/json';
        headers['content-length'] = Buffer.byteLength(opts.body);
      }
      const req = request({ host: '127.0.0.1', port: server.port, method, path, agent, headers, servername: '' }, (res) => {
        const parts: Buffer[] = [];
        if (String(res.headers['content-type']).startsWith('text/event-stream')) {
          // An event stream never ends: its first bytes are the answer.
          res.once('data', (d: Buffer) => {
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text: d.toString('utf8') });
            res.destroy();
          });
          res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: '' })); // HEAD: no body
          return;
        }
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8'), headers: res.headers }));
        res.on('error', (err) => reject(new Error(`${method} ${path}: ${err.message}`)));
      });
      req.on('error', (err) => reject(new Error(`${method} ${path}: ${err.message}`)));
      req.end(opts.body);
    });
  return {
    server,
    clock,
    dataDir,
    adminToken,
    waitIdle,
    raw,
    close: async () => {
      agent.destroy();
      await server.close();
    },
  };
}
