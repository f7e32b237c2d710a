/**
 * Who a console user is on a protected computer, for My files
 * (docs/design/security.md, "My files"). An admin links a console user to
 * an account on a computer (`custos user add|update NAME --link
 * AGENT:ACCOUNT`); the server asks that computer's agent who the account is
 * (uid, primary group, every group of the group database) when the link is
 * made, and again before a My files call when the answer is older than
 * REFRESH_MS and the agent is connected. What the user then sees is decided
 * by src/server/end-user.ts, the same rules as `custos my` on the computer.
 *
 * While the agent is not connected the last answer is used (the points are
 * on the server; the account's groups as they were when last asked). An
 * account the agent says no longer exists is refused at once.
 */
import { CustosError, type Clock } from '../base/index.js';
import { userLinkOf, type Catalog, type UserLink } from '../catalog/index.js';
import type { LocalUser } from '../protocol/index.js';
import type { AgentHub } from './agent-hub.js';
import type { Principal } from './principal.js';

/** How old an account's answer may be before My files asks the agent again. */
export const REFRESH_MS = 5 * 60_000;
/** After a refresh that got no answer, how long My files uses the stored answer without asking again (so a mute agent slows one call a minute, not every call). */
export const RETRY_AFTER_FAILURE_MS = 60_000;
const ASK_TIMEOUT_MS = 10_000;
/** A refresh waits less than a link does: the stored answer is there to fall back on. */
const REFRESH_TIMEOUT_MS = 3_000;

export interface MyIdentity {
  readonly agent: string;
  readonly account: string;
  readonly user: LocalUser;
  readonly connected: boolean;
  readonly checkedAt: string;
}

export class MyFilesAccess {
  /** When a refresh of a user's account last failed (by user id), in memory: a restart asks again. */
  private readonly failedAt = new Map<number, number>();

  constructor(private readonly d: { catalog: Catalog; hub: AgentHub; clock: Clock }) {}

  /** Asks `agent` who `account` is, for a new link (the agent must be connected). */
  async link(agent: string, account: string): Promise<UserLink> {
    if (!(await this.d.catalog.agent(agent))) throw new CustosError('not-found', `no agent named ${agent} (see custos agent list)`);
    if (!this.d.hub.connected().has(agent)) {
      throw new CustosError('unreachable', `agent ${agent} is not connected: an account can be linked only while its computer's agent answers`, { transient: true });
    }
    return this.ask(agent, account, ASK_TIMEOUT_MS);
  }

  private async ask(agent: string, account: string, timeoutMs: number): Promise<UserLink> {
    const a = await this.d.hub.ask(agent, { kind: 'account', name: account }, timeoutMs);
    return { agent, account, identity: { uid: a.uid, gid: a.gid, groups: a.groups }, checkedAt: this.d.clock.now().toISOString() };
  }

  /** The account the caller is linked to, asked again of its agent when the last answer is old. */
  async who(p: Principal): Promise<MyIdentity> {
    // 404, not 403: the call is allowed to every role; what is missing is the account (the same for a token).
    if (p.kind !== 'user') throw new CustosError('not-found', `My files is for console users linked to an account on a protected computer; this call was made with the API token ${p.name}`);
    const row = await this.d.catalog.userById(p.userId);
    const link = row ? userLinkOf(row) : null;
    if (!row || !link) throw new CustosError('not-found', `user ${p.name} is not linked to an account on a protected computer: an admin links it with custos user update ${p.name} --link AGENT:ACCOUNT`);
    const connected = this.d.hub.connected().has(link.agent);
    let { identity, checkedAt } = link;
    const now = this.d.clock.now();
    const failed = this.failedAt.get(row.id);
    const stale = now.getTime() - new Date(checkedAt).getTime() >= REFRESH_MS;
    if (connected && stale && (failed === undefined || now.getTime() - failed >= RETRY_AFTER_FAILURE_MS)) {
      try {
        const fresh = await this.ask(link.agent, link.account, REFRESH_TIMEOUT_MS);
        ({ identity, checkedAt } = fresh);
        await this.d.catalog.setUserIdentity(row.id, identity, checkedAt);
        this.failedAt.delete(row.id);
      } catch (err) {
        // The agent's own answer "no such account" (its errors come as `agent NAME: …`): the account is gone.
        if (err instanceof CustosError && err.code === 'not-found') {
          throw new CustosError('denied', `account ${link.account} no longer exists on ${link.agent}: ask an admin to link user ${p.name} again`);
        }
        // Busy, mute or just gone: the last answer stands, as while the agent is away, and is not asked again for a minute.
        this.failedAt.set(row.id, now.getTime());
        if (this.failedAt.size > 10_000) this.failedAt.delete(this.failedAt.keys().next().value!);
      }
    }
    return { agent: link.agent, account: link.account, user: { uid: identity.uid, gid: identity.gid, groups: identity.groups }, connected, checkedAt };
  }
}
