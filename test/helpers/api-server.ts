/**
 * A protection server started in the test's process on loopback, with a
 * fake clock whose ticks never come on their own (tickMs one hour), for
 * tests of REST routes through the whole HTTP pipeline (server.inject).
 * Closed and its data directory removed when the test ends.
 */
import type { TestContext } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAdminToken, startServer, type RunningServer } from '../../src/server/server.js';
import { FakeClock } from './fake-clock.js';

export interface ApiServer {
  readonly server: RunningServer;
  readonly dir: string;
  readonly clock: FakeClock;
  /** The admin token. */
  readonly token: string;
}

export async function startApiServer(t: TestContext, prefix: string, now: string): Promise<ApiServer> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const clock = new FakeClock(new Date(now));
  const server = await startServer({ dataDir: dir, host: '127.0.0.1', port: 0, clock, tickMs: 3_600_000, log: () => undefined });
  t.after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { server, dir, clock, token: await readAdminToken(dir) };
}
