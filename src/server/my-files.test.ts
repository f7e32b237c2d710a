/**
 * Who a console user is on a protected computer (My files), against a real
 * catalog and a stand-in hub: API tokens and unlinked users have no
 * account; a fresh answer is used as stored; an old one is asked again of a
 * connected agent and stored; an account the agent says is gone is refused;
 * an agent away or failing leaves the stored answer standing; a new link
 * needs a known, connected agent.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustosError, ManualClock } from '../base/index.js';
import { Catalog, userLinkOf, type UserLink } from '../catalog/index.js';
import type { AccountAnswer, Question } from '../protocol/index.js';
import type { AgentHub } from './agent-hub.js';
import { MyFilesAccess, REFRESH_MS, RETRY_AFTER_FAILURE_MS } from './my-files.js';
import type { Principal, UserPrincipal } from './principal.js';
import { refusal } from '../../test/helpers/refusal.js';

const T0 = new Date('2026-12-01T08:00:00.000Z');
const STORED = { uid: 1000, gid: 1000, groups: [1000] };

/** A hub that knows which agents are connected and answers account questions as told. */
class StandInHub {
  readonly online = new Set<string>();
  readonly asked: Array<{ agent: string; question: Question; timeout: number }> = [];
  answer: (agent: string, q: Question) => Promise<AccountAnswer> = async (_agent, q) => {
    assert.equal(q.kind, 'account');
    return { kind: 'account', name: q.kind === 'account' ? q.name : '', uid: 1000, gid: 1000, groups: [27, 1000, 2000] };
  };

  connected(): Set<string> {
    return new Set(this.online);
  }

  ask(agent: string, question: Question, timeout: number): Promise<AccountAnswer> {
    this.asked.push({ agent, question, timeout });
    return this.answer(agent, question);
  }
}


describe('My files: who a linked console user is on its computer', () => {
  let dir: string;
  let catalog: Catalog;
  let hub: StandInHub;
  let clock: ManualClock;
  let access: MyFilesAccess;
  let n = 0;

  const principal = (name: string, userId: number): UserPrincipal =>
    ({ kind: 'user', name, role: 'end-user', scopes: [], expiresAt: '2026-12-31T00:00:00.000Z', userId, sessionId: 1, csrf: 'x' });
  const user = async (name: string): Promise<UserPrincipal> => principal(name, (await catalog.userByName(name))!.id);
  /** A new user linked to pc1:alice, its identity as stored `age` ms before now. */
  const linked = async (age: number, account = 'alice'): Promise<{ name: string; p: Principal }> => {
    const name = `u${++n}`;
    const link: UserLink = { agent: 'pc1', account, identity: STORED, checkedAt: new Date(clock.now().getTime() - age).toISOString() };
    await catalog.addUser({ name, role: 'end-user', scopes: [], passwordHash: 'x', now: clock.now().toISOString(), link });
    return { name, p: await user(name) };
  };
  const storedLink = async (name: string) => userLinkOf((await catalog.userByName(name))!);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'custos-my-files-'));
    catalog = await Catalog.openSqlite(join(dir, 'catalog.sqlite'));
    for (const name of ['pc1', 'pc2']) {
      await catalog.insertAgent({ name, cert_serial: name, cert_fingerprint: name, hostname: name, attached_at: T0.toISOString(), last_seen: null, version: null, revoked_at: null });
    }
  });

  beforeEach(() => {
    clock = new ManualClock(T0);
    hub = new StandInHub();
    hub.online.add('pc1');
    access = new MyFilesAccess({ catalog, hub: hub as unknown as AgentHub, clock });
  });

  after(async () => {
    await catalog.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('an API token has no account: not-found, naming the token', async () => {
    const token: Principal = { kind: 'token', name: 'ci-token', role: 'admin', scopes: [], expiresAt: null, tokenId: 7 };
    const err = await refusal(access.who(token));
    assert.equal(err.code, 'not-found');
    assert.match(err.message, /made with the API token ci-token/);
    assert.equal(hub.asked.length, 0);
  });

  test('an unlinked user (and a user that is gone) is not-found, saying how an admin links it', async () => {
    await catalog.addUser({ name: 'plain', role: 'viewer', scopes: [], passwordHash: 'x', now: T0.toISOString() });
    const err = await refusal(access.who(await user('plain')));
    assert.equal(err.code, 'not-found');
    assert.match(err.message, /user plain is not linked/);
    assert.match(err.message, /custos user update plain --link AGENT:ACCOUNT/);
    const gone = await refusal(access.who(principal('ghost', 999_999)));
    assert.equal(gone.code, 'not-found');
    assert.match(gone.message, /custos user update ghost --link/);
    assert.equal(hub.asked.length, 0);
  });

  test('a stored answer younger than REFRESH_MS is used as it is: no question to the agent', async () => {
    const { p } = await linked(REFRESH_MS - 1);
    const me = await access.who(p);
    assert.deepEqual(me, { agent: 'pc1', account: 'alice', user: STORED, connected: true, checkedAt: new Date(T0.getTime() - REFRESH_MS + 1).toISOString() });
    assert.equal(hub.asked.length, 0);
  });

  test('an older one is asked again of the connected agent; the new groups are used and stored, and then fresh', async () => {
    const { name, p } = await linked(REFRESH_MS);
    const me = await access.who(p);
    assert.deepEqual(hub.asked.map((a) => [a.agent, a.question]), [['pc1', { kind: 'account', name: 'alice' }]]);
    assert.ok(hub.asked[0]!.timeout > 0);
    assert.deepEqual(me, { agent: 'pc1', account: 'alice', user: { uid: 1000, gid: 1000, groups: [27, 1000, 2000] }, connected: true, checkedAt: T0.toISOString() });
    assert.deepEqual(await storedLink(name), { agent: 'pc1', account: 'alice', identity: { uid: 1000, gid: 1000, groups: [27, 1000, 2000] }, checkedAt: T0.toISOString() });

    clock.advance(REFRESH_MS - 1);
    assert.deepEqual((await access.who(p)).user.groups, [27, 1000, 2000]);
    assert.equal(hub.asked.length, 1, 'fresh again: not asked');
    clock.advance(1);
    hub.answer = async () => ({ kind: 'account', name: 'alice', uid: 1000, gid: 1000, groups: [1000] });
    assert.deepEqual((await access.who(p)).user.groups, [1000], 'a group taken away is gone at the next refresh');
    assert.equal(hub.asked.length, 2);
    assert.deepEqual((await storedLink(name))?.identity.groups, [1000]);
  });

  test('an account the agent says no longer exists is denied at once, the stored answer kept', async () => {
    const { name, p } = await linked(REFRESH_MS * 10);
    hub.answer = async () => {
      throw new CustosError('not-found', 'agent pc1: no account alice on this computer');
    };
    const err = await refusal(access.who(p));
    assert.equal(err.code, 'denied');
    assert.match(err.message, /account alice no longer exists on pc1: ask an admin to link user u\d+ again/);
    assert.equal(hub.asked.length, 1);
    assert.deepEqual((await storedLink(name))?.identity, STORED);
  });

  test('while the agent is not connected the stored answer stands, however old, and nothing is asked', async () => {
    const { name, p } = await linked(REFRESH_MS * 1000);
    hub.online.clear();
    const me = await access.who(p);
    assert.equal(me.connected, false);
    assert.deepEqual(me.user, STORED);
    assert.equal(me.checkedAt, new Date(T0.getTime() - REFRESH_MS * 1000).toISOString());
    assert.equal(hub.asked.length, 0);
    assert.deepEqual(await storedLink(name), { agent: 'pc1', account: 'alice', identity: STORED, checkedAt: me.checkedAt });
  });

  test('an agent that cannot answer (unreachable, its own error) leaves the stored answer standing', async () => {
    const { name, p } = await linked(REFRESH_MS);
    for (const e of [new CustosError('unreachable', 'agent pc1 did not answer within 10000 ms', { transient: true }), new CustosError('io', 'agent pc1: could not look up account alice')]) {
      hub.answer = async () => {
        throw e;
      };
      const me = await access.who(p);
      assert.deepEqual(me.user, STORED, e.code);
      assert.equal(me.checkedAt, new Date(T0.getTime() - REFRESH_MS).toISOString());
      assert.equal(me.connected, true);
      const asked = hub.asked.length;
      await access.who(p);
      assert.equal(hub.asked.length, asked, 'after a failed refresh, not asked again for a while: a mute agent slows one call a minute');
      clock.advance(RETRY_AFTER_FAILURE_MS);
    }
    assert.equal(hub.asked.length, 2, 'asked again once the minute had passed');
    assert.deepEqual(await storedLink(name), { agent: 'pc1', account: 'alice', identity: STORED, checkedAt: new Date(T0.getTime() - REFRESH_MS).toISOString() });
  });

  test('a new link needs an agent the catalog knows, connected; it carries the answer and the time', async () => {
    const unknown = await refusal(access.link('nosuch', 'alice'));
    assert.equal(unknown.code, 'not-found');
    assert.match(unknown.message, /no agent named nosuch/);
    const away = await refusal(access.link('pc2', 'alice'));
    assert.equal(away.code, 'unreachable');
    assert.equal(away.transient, true);
    assert.match(away.message, /agent pc2 is not connected/);
    assert.equal(hub.asked.length, 0, 'neither asked anything');

    hub.online.add('nosuch');
    assert.equal((await refusal(access.link('nosuch', 'alice'))).code, 'not-found', 'connected is not enough: the catalog must know it');

    clock.advance(1234);
    const link = await access.link('pc1', 'bob');
    assert.deepEqual(hub.asked.map((a) => [a.agent, a.question]), [['pc1', { kind: 'account', name: 'bob' }]]);
    assert.deepEqual(link, { agent: 'pc1', account: 'bob', identity: { uid: 1000, gid: 1000, groups: [27, 1000, 2000] }, checkedAt: new Date(T0.getTime() + 1234).toISOString() });

    hub.answer = async () => {
      throw new CustosError('not-found', 'agent pc1: no account carol on this computer');
    };
    assert.match((await refusal(access.link('pc1', 'carol'))).message, /no account carol/);
  });
});
