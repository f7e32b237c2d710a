/** /api/tokens, /api/session and /api/audit: API tokens for people and scripts, who made a call (a token or a console user), and the audit log. */
import type { FastifyInstance } from 'fastify';
import { parseDuration } from '../../../base/index.js';
import { userLinkOf } from '../../../catalog/index.js';
import { api } from '../../../protocol/rest/index.js';
import { formatScope, parseScope, type Scope } from '../../auth.js';
import type { ServerContext } from '../../context.js';
import { hashToken, newApiToken } from '../../data-dir.js';
import { badRequest, conflict, notFound } from '../../http-errors.js';
import { serve } from '../serve.js';
import { auditView, tokenView } from '../../views.js';

/** The longest a token may live when an expiry is given (none: until revoked). */
const MAX_TOKEN_LIFETIME_MS = 10 * 365 * 86_400_000;

export function registerTokenRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const c = ctx.catalog;

  serve(app, api.session, async ({ principal }) => {
    const p = principal!;
    const row = p.kind === 'user' ? await c.userById(p.userId) : undefined;
    const link = row ? userLinkOf(row) : null;
    return {
      kind: p.kind, name: p.name, role: p.role, scopes: p.scopes.map(formatScope), expiresAt: p.expiresAt,
      ...(p.kind === 'user' ? { csrf: p.csrf } : {}),
      ...(link ? { link: { agent: link.agent, account: link.account } } : {}),
    };
  });

  serve(app, api.createToken, async ({ body, audit }) => {
    audit(body.name, { role: body.role, scopes: body.scopes ?? [], expires: body.expires ?? null });
    const scopes = await checkScopes(ctx, body.role, body.scopes ?? [], 'token');
    let expiresAt: string | null = null;
    if (body.expires !== undefined) {
      const ms = parseDuration(body.expires);
      if (ms === undefined || ms <= 0 || ms > MAX_TOKEN_LIFETIME_MS) throw badRequest(`expires must be a duration like 12h, 30d or 52w, at most 10 years; got ${JSON.stringify(body.expires)}`);
      expiresAt = new Date(ctx.clock.now().getTime() + ms).toISOString();
    }
    if ((await c.listApiTokens()).some((t) => t.name === body.name)) throw conflict(`a token named ${body.name} exists; revoke it first (custos token revoke ${body.name}) or pick another --name`);
    const token = newApiToken();
    await c.addApiToken({ name: body.name, role: body.role, tokenHash: hashToken(token), now: ctx.clock.now().toISOString(), scopes: scopes.map(formatScope), expiresAt });
    return { token, name: body.name, role: body.role, scopes: scopes.map(formatScope), expiresAt };
  });

  serve(app, api.listTokens, async () => (await c.listApiTokens(true)).map(tokenView));

  serve(app, api.listAudit, async ({ query }) => (await c.listAudit({ limit: query.limit ?? 100, before: query.before, action: query.action })).map(auditView));

  serve(app, api.revokeToken, async ({ params, principal, audit }) => {
    audit(params.name);
    const live = await c.listApiTokens();
    const t = live.find((x) => x.name === params.name);
    if (!t) throw notFound(`token ${params.name}`);
    const now = ctx.clock.now().toISOString();
    const otherAdmins = live.filter((x) => x.role === 'admin' && x.name !== t.name && (x.expires_at === null || x.expires_at > now));
    if (t.role === 'admin' && otherAdmins.length === 0) {
      throw conflict(`${t.name} is the last admin token: create another admin token before revoking it, or nobody can administer the server`);
    }
    await c.revokeApiToken(t.name, now);
    ctx.log(`token ${t.name} revoked by ${principal!.name}`);
    return { revoked: t.name };
  });
}

/** Scopes are for recovery-operator tokens and users only, which need at least one; each names a group or data source that exists. */
export async function checkScopes(ctx: ServerContext, role: string, texts: readonly string[], what: 'token' | 'user'): Promise<Scope[]> {
  if (role === 'end-user' && what === 'token') throw badRequest('an end-user is a console user linked to an account on a protected computer (custos user add NAME --role end-user --link AGENT:ACCOUNT); an API token cannot be one');
  if (role !== 'recovery-operator') {
    if (texts.length > 0) throw badRequest(`scopes apply to recovery-operator ${what}s only; a ${role} ${what} reaches everything its role allows`);
    return [];
  }
  if (texts.length === 0) throw badRequest(`a recovery-operator ${what} needs at least one scope: group:NAME or source:AGENT:fs:/path`);
  const scopes: Scope[] = [];
  for (const text of new Set(texts)) {
    const s = parseScope(text);
    if (!s) throw badRequest(`scope ${JSON.stringify(text)}: use group:NAME, source:ID, target:AGENT:/dir or target:AGENT:postgres:PORT|*`);
    if (s.kind === 'group' && !(await ctx.catalog.group(s.name))) throw badRequest(`scope ${text}: no protection group named ${s.name}`);
    if (s.kind === 'source' && !(await ctx.catalog.source(s.id))) throw badRequest(`scope ${text}: no data source ${s.id} (see custos source list)`);
    if ((s.kind === 'target-folder' || s.kind === 'target-instance') && !(await ctx.catalog.agent(s.agent))) throw badRequest(`scope ${text}: no agent named ${s.agent} (see custos agent list)`);
    scopes.push(s);
  }
  if (!scopes.some((s) => s.kind === 'group' || s.kind === 'source')) throw badRequest(`a recovery-operator ${what} needs a group:NAME or source:ID scope: target scopes say only where it may recover to`);
  return scopes;
}
