/**
 * The hub's part in end-user recovery: a valid `user-request` reaches the
 * listener with the agent's name (the certificate's, never the message's),
 * a refused one is still answered, none is served before hello, and a
 * server without end-user recovery says so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { PROTOCOL_VERSION, type UserRequestMessage } from '../protocol/index.js';
import { AgentHub, type HubListeners } from './agent-hub.js';

class FakeSocket extends EventEmitter {
  bufferedAmount = 0;
  readonly sent: Array<Record<string, unknown>> = [];
  send(data: string): void {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close(): void {
    this.emit('close');
  }
  terminate(): void {
    this.emit('close');
  }
  say(m: unknown): void {
    this.emit('message', Buffer.from(typeof m === 'string' ? m : JSON.stringify(m)), false);
  }
  async reply(req: number): Promise<Record<string, unknown>> {
    for (let i = 0; i < 100; i++) {
      const r = this.sent.find((m) => m['t'] === 'reply' && m['req'] === req);
      if (r) return r;
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.fail(`no reply to ${req}`);
  }
}

const base: HubListeners = { connected: () => undefined, disconnected: () => undefined, journalLost: () => undefined };
const hello = { t: 'hello', protocol: PROTOCOL_VERSION, version: '0.1.0', hostname: 'pc1' };
const request = (req: number, path = '/home/a/x') => ({ t: 'user-request', req, user: { uid: 1000, gid: 1000, groups: [27] }, body: { op: 'versions', path } });

test('user requests go to the listener with the connection’s agent name, and the answer comes back', async () => {
  const seen: Array<[string, UserRequestMessage]> = [];
  const hub = new AgentHub({ ...base, userRequest: async (name, m) => { seen.push([name, m]); return { versions: [] }; } });
  const ws = new FakeSocket();
  hub.attach('pc1', ws as unknown as WebSocket, () => undefined);
  ws.say(request(1));
  assert.equal((await ws.reply(1))['ok'], false, 'before hello: refused');
  assert.equal(seen.length, 0);
  ws.say(hello);
  ws.say(request(2));
  assert.deepEqual(await ws.reply(2), { t: 'reply', req: 2, ok: true, body: { versions: [] } });
  assert.equal(seen[0]![0], 'pc1');
  assert.deepEqual(seen[0]![1].user, { uid: 1000, gid: 1000, groups: [27] });
});

test('a refused user request is answered usage; a server without end-user recovery answers denied', async () => {
  const hub = new AgentHub(base);
  const ws = new FakeSocket();
  hub.attach('pc1', ws as unknown as WebSocket, () => undefined);
  ws.say(hello);
  ws.say(request(3, '/home/../etc/shadow'));
  const refused = await ws.reply(3);
  assert.equal(refused['ok'], false);
  assert.equal((refused['error'] as { code: string }).code, 'usage');
  ws.say(request(4));
  const off = await ws.reply(4);
  assert.equal((off['error'] as { code: string; message: string }).code, 'denied');
  assert.match((off['error'] as { message: string }).message, /does not offer end-user recovery/);
});
