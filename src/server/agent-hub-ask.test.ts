/**
 * The hub's questions to an agent (ask / answer): the answer reaches the
 * asker; an answer to a question never asked, answered already, or timed
 * out is ignored and logged; an agent that ignores questions (one older
 * than `ask`) makes the question fail at its timeout with a message saying
 * so; a refused or mismatched answer fails the question at once; a lost
 * connection fails every question; the number waiting is bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { cursorOf, PROTOCOL_VERSION, type Answer, type Question } from '../protocol/index.js';
import { AgentHub, answerMismatch, MAX_PENDING_ASKS, type HubListeners } from './agent-hub.js';
import { refusal as rejection } from '../../test/helpers/refusal.js';

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
  asks(): Array<{ req: number; body: Question }> {
    return this.sent.filter((m) => m['t'] === 'ask') as unknown as Array<{ req: number; body: Question }>;
  }
}

const listeners: HubListeners = { connected: () => undefined, disconnected: () => undefined, journalLost: () => undefined };
const hello = { t: 'hello', protocol: PROTOCOL_VERSION, version: '0.1.0', hostname: 'pc1' };

function connected(): { hub: AgentHub; ws: FakeSocket; warnings: string[] } {
  const hub = new AgentHub(listeners);
  const ws = new FakeSocket();
  const warnings: string[] = [];
  hub.attach('pc1', ws as unknown as WebSocket, (m) => warnings.push(m));
  ws.say(hello);
  return { hub, ws, warnings };
}

const listing = (path: string, names: string[], next: string | null = null) => ({
  kind: 'list-dir', path, entries: names.map((name) => ({ name, type: 'dir', size: 0 })), next,
});


test('a question goes out as ask, its answer comes back; answers to questions not asked, answered already or timed out are ignored and logged', async () => {
  const { hub, ws, warnings } = connected();
  const asked = hub.ask('pc1', { kind: 'list-dir', path: '/home', limit: 2 }, 5_000);
  const [q] = ws.asks();
  assert.deepEqual(q, { t: 'ask', req: q!.req, body: { kind: 'list-dir', path: '/home', limit: 2 } });
  ws.say({ t: 'answer', req: q!.req + 100, ok: true, body: listing('/home', ['evil']) });
  assert.match(warnings.at(-1)!, /agent pc1: answer \d+ ignored: it answers no question asked/);
  ws.say({ t: 'answer', req: q!.req, ok: true, body: listing('/home', ['a', 'b'], cursorOf(Buffer.from('b'))) });
  assert.deepEqual(await asked, listing('/home', ['a', 'b'], cursorOf(Buffer.from('b'))));
  ws.say({ t: 'answer', req: q!.req, ok: true, body: listing('/home', ['c']) });
  assert.match(warnings.at(-1)!, /answer \d+ ignored: it answers a question answered already/);

  const late = hub.ask('pc1', { kind: 'list-dir', path: '/srv', limit: 10 }, 30);
  const timedOut = await rejection(late);
  assert.equal(timedOut.code, 'unreachable');
  ws.say({ t: 'answer', req: ws.asks().at(-1)!.req, ok: true, body: listing('/srv', []) });
  assert.match(warnings.at(-1)!, /ignored: it came after its question timed out/);
});

test('an agent that does not know ask (older than it) is not disturbed: the question times out saying it cannot browse', async () => {
  const { hub, ws } = connected();
  const t0 = Date.now();
  const err = await rejection(hub.ask('pc1', { kind: 'list-dir', path: '/', limit: 10 }, 200));
  assert.ok(Date.now() - t0 >= 190, 'gave up before its timeout');
  assert.equal(err.code, 'unreachable');
  assert.match(err.message, /agent pc1 did not answer within 200 ms: .*older than this server and unable to browse its computer \(update the agent\), so type the path instead/);
  assert.ok(hub.get('pc1'), 'the connection is still there');
  assert.equal(ws.listenerCount('message'), 1);
});

test("the agent's own error comes back naming the agent; a refused or mismatched answer fails its question at once", async () => {
  const { hub, ws, warnings } = connected();
  const e1 = hub.ask('pc1', { kind: 'list-dir', path: '/nope', limit: 10 }, 5_000);
  ws.say({ t: 'answer', req: ws.asks().at(-1)!.req, ok: false, error: { code: 'not-found', message: 'no such directory: /nope', transient: false } });
  const notFound = await rejection(e1);
  assert.equal(notFound.code, 'not-found');
  assert.equal(notFound.message, 'agent pc1: no such directory: /nope');

  // Fails the validator (out of order): the question fails with the reason, not at its timeout.
  const e2 = hub.ask('pc1', { kind: 'list-dir', path: '/a', limit: 10 }, 60_000);
  ws.say({ t: 'answer', req: ws.asks().at(-1)!.req, ok: true, body: listing('/a', ['b', 'a']) });
  const refused = await rejection(e2);
  assert.equal(refused.code, 'io');
  assert.match(refused.message, /agent pc1 sent an answer the server refuses \(invalid agent message: answer\.body\.entries\[1\] is not after the entry before it in name order\)/);

  // Valid, but not an answer to that question.
  const cases: Array<[Question, unknown, RegExp]> = [
    [{ kind: 'list-dir', path: '/a', limit: 10 }, listing('/etc', ['shadow']), /another directory/],
    [{ kind: 'list-dir', path: '/a', limit: 1 }, listing('/a', ['x', 'y']), /2 entries, more than the 1 asked for/],
    [{ kind: 'list-dir', path: '/a', limit: 5, after: cursorOf(Buffer.from('m')) }, listing('/a', ['b', 'z']), /does not start after the cursor/],
  ];
  for (const [question, body, why] of cases) {
    const p = hub.ask('pc1', question, 60_000);
    ws.say({ t: 'answer', req: ws.asks().at(-1)!.req, ok: true, body });
    const err = await rejection(p);
    assert.match(err.message, why);
    assert.match(warnings.at(-1)!, why);
  }
  assert.ok(hub.get('pc1'), 'the agent stays connected');
});

test('questions need a connected agent past hello; a lost connection fails them; at most a few wait at once', async () => {
  const hub = new AgentHub(listeners);
  assert.match((await rejection(hub.ask('nobody', { kind: 'list-dir', path: '/', limit: 1 }, 1000))).message, /^agent nobody is not connected$/);
  const ws = new FakeSocket();
  hub.attach('pc1', ws as unknown as WebSocket, () => undefined);
  assert.equal((await rejection(hub.ask('pc1', { kind: 'list-dir', path: '/', limit: 1 }, 1000))).code, 'unreachable', 'before hello');
  assert.equal(ws.asks().length, 0);
  ws.say(hello);

  const waiting = Array.from({ length: MAX_PENDING_ASKS }, () => hub.ask('pc1', { kind: 'list-dir', path: '/', limit: 1 }, 60_000));
  const busy = await rejection(hub.ask('pc1', { kind: 'list-dir', path: '/', limit: 1 }, 60_000));
  assert.match(busy.message, /still answering 8 other questions/);
  assert.equal(new Set(ws.asks().map((a) => a.req)).size, MAX_PENDING_ASKS, 'each question has its own number');
  ws.close();
  for (const p of waiting) assert.match((await rejection(p)).message, /^agent pc1 disconnected before it answered$/);
});

test('an account answer answers only the account question of its name; account and listing answers never stand for each other', async () => {
  const alice: Question = { kind: 'account', name: 'alice' };
  const aliceAnswer: Answer = { kind: 'account', name: 'alice', uid: 1000, gid: 1000, groups: [1000] };
  const bobAnswer: Answer = { kind: 'account', name: 'bob', uid: 0, gid: 0, groups: [0] };
  const listDir: Question = { kind: 'list-dir', path: '/home', limit: 10 };
  const listing: Answer = { kind: 'list-dir', path: '/home', entries: [], next: null };
  assert.equal(answerMismatch(alice, aliceAnswer), null);
  assert.equal(answerMismatch(listDir, listing), null);
  assert.equal(answerMismatch(alice, bobAnswer), 'the answer is about another account');
  assert.equal(answerMismatch({ kind: 'account', name: 'Alice' }, aliceAnswer), 'the answer is about another account', 'names are compared exactly');
  assert.equal(answerMismatch(listDir, aliceAnswer), 'a account answer to a list-dir question');
  assert.equal(answerMismatch(alice, listing), 'a list-dir answer to a account question');

  // The same through the hub: the asker of alice is refused bob's identity at once, and gets alice's.
  const { hub, ws, warnings } = connected();
  const wrong = hub.ask('pc1', alice, 60_000);
  ws.say({ t: 'answer', req: ws.asks().at(-1)!.req, ok: true, body: bobAnswer });
  const err = await rejection(wrong);
  assert.equal(err.code, 'io');
  assert.match(err.message, /another account/);
  assert.match(warnings.at(-1)!, /another account/);
  const right = hub.ask('pc1', alice, 60_000);
  assert.deepEqual(ws.asks().at(-1)!.body, alice);
  ws.say({ t: 'answer', req: ws.asks().at(-1)!.req, ok: true, body: aliceAnswer });
  assert.deepEqual(await right, aliceAnswer);
});
