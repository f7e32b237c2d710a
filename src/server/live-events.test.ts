import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { cleanupTempDirs } from '../../test/helpers/tree.js';
import { startInProcessServer, type InProcessServer } from '../../test/helpers/raw-server.js';

/** An open GET /api/events: the events received so far, and a wait for the next ones. */
interface Stream {
  readonly status: number;
  readonly events: string[];
  next(count: number): Promise<string[]>;
  ended: Promise<void>;
  close(): void;
}

function open(s: InProcessServer, headers: Record<string, string>): Promise<Stream> {
  const ca = readFileSync(join(s.dataDir, 'ca.pem'), 'utf8');
  const options: RequestOptions = { host: '127.0.0.1', port: s.server.port, path: '/api/events', ca, headers, servername: '' };
  return new Promise((resolve, reject) => {
    const req = request(options, (res: IncomingMessage) => {
      const events: string[] = [];
      let text = '';
      let wake = () => {};
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
        for (let i = text.indexOf('\n\n'); i >= 0; i = text.indexOf('\n\n')) {
          const block = text.slice(0, i);
          text = text.slice(i + 2);
          for (const line of block.split('\n')) if (line.startsWith('data: ')) events.push(line.slice(6));
        }
        wake();
      });
      const ended = new Promise<void>((r) => res.once('close', r));
      resolve({
        status: res.statusCode ?? 0,
        events,
        ended,
        next: async (count) => {
          const deadline = Date.now() + 5000;
          while (events.length < count) {
            if (Date.now() > deadline) throw new Error(`waited for ${count} events, got ${JSON.stringify(events)}`);
            await new Promise<void>((r) => {
              wake = r;
              setTimeout(r, 100);
            });
          }
          return events.splice(0, count);
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('GET /api/events', () => {
  let s: InProcessServer;
  before(async () => {
    s = await startInProcessServer();
  });
  after(async () => {
    await s?.close();
    await cleanupTempDirs();
  });

  test('says which list changed, once for a burst of changes', async () => {
    const stream = await open(s, { authorization: `Bearer ${s.adminToken}` });
    assert.equal(stream.status, 200);
    const c = s.server.context.catalog;
    const now = s.clock.now().toISOString();
    for (let i = 0; i < 20; i++) await c.raiseAlert({ kind: 'agent-disconnected', subject: `a${i % 2}`, severity: 'warning', message: 'm', recommendedAction: 'r', now });
    assert.deepEqual(await stream.next(1), ['{"changed":"alerts"}']);
    const gc = await s.raw('POST', '/api/pool/gc', { token: s.adminToken });
    assert.equal(gc.status, 202, gc.text);
    assert.deepEqual(await stream.next(1), ['{"changed":"jobs"}']);
    await s.waitIdle();
    await new Promise((r) => setTimeout(r, 400));
    stream.events.length = 0;
    await c.resolveAlerts('agent-disconnected', 'a0', now);
    assert.deepEqual(await stream.next(1), ['{"changed":"alerts"}']);
    await c.insertAgent({ name: 'pc9', cert_serial: '09', cert_fingerprint: 'ff', hostname: 'pc9', attached_at: now, last_seen: null, version: null, revoked_at: null });
    assert.deepEqual(await stream.next(1), ['{"changed":"agents"}'], 'an agent attached');
    await c.agentsSeen(['pc9'], now);
    await c.updateAgent('pc9', { last_seen: now });
    assert.deepEqual(await stream.next(1), ['{"changed":"agents"}'], 'it connected (the heartbeat said nothing)');
    assert.equal(s.server.context.events.followers, 1);
    stream.close();
    await stream.ended;
    for (let i = 0; i < 50 && s.server.context.events.followers > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(s.server.context.events.followers, 0, 'a caller that left is forgotten');
  });

  test('refuses a caller without a valid token', async () => {
    for (const headers of [{}, { authorization: 'Bearer nope' }] as Record<string, string>[]) {
      const stream = await open(s, headers);
      assert.equal(stream.status, 401);
      stream.close();
    }
  });
});
