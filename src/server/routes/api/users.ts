/**
 * /api/sign-in, /api/sign-out and /api/users: console users, who sign in
 * with a name and password and get a browser session (src/server/sessions.ts),
 * and their management by admins (manage-access).
 */
import type { FastifyInstance } from 'fastify';
import { userLinkOf } from '../../../catalog/index.js';
import { api } from '../../../protocol/rest/index.js';
import { formatScope } from '../../auth.js';
import type { ServerContext } from '../../context.js';
import { badRequest, conflict, notFound, Refusal } from '../../http-errors.js';
import { hashPassword, passwordProblem } from '../../passwords.js';
import { clearedSessionCookie, sessionCookie, SignInService } from '../../sessions.js';
import { userView } from '../../views.js';
import { serve } from '../serve.js';
import { checkScopes } from './tokens.js';

const DENIED = 'wrong user name or password';
const END_USER_NEEDS_LINK = 'an end-user sees only the files of the account it is linked to: give the link (--link AGENT:ACCOUNT)';

export function registerUserRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const c = ctx.catalog;
  const signIns = new SignInService({ catalog: c, clock: ctx.clock, audit: ctx.audit });

  serve(app, api.signIn, async ({ body, req, reply, audit }) => {
    audit(body.name);
    const r = await signIns.signIn(body.name, body.password, req.ip ?? null);
    if (!r.ok && r.locked !== null) {
      const seconds = Math.max(1, Math.ceil((new Date(r.locked).getTime() - ctx.clock.now().getTime()) / 1000));
      void reply.header('retry-after', String(seconds));
      throw new Refusal(429, `too many failed sign-ins for ${body.name}: try again after ${r.locked}`);
    }
    if (!r.ok && r.damaged) throw new Refusal(401, `the user's role or scopes are damaged in the catalog: ask an admin to set them again (custos user update ${body.name} --role ROLE [--scope S])`);
    if (!r.ok) throw new Refusal(401, DENIED);
    const p = r.principal;
    req.principal = p; // the audit entry of this call names the user who signed in
    void reply.header('set-cookie', sessionCookie(r.secret));
    const link = userLinkOf(r.user);
    return { name: p.name, role: p.role, scopes: p.scopes.map(formatScope), csrf: p.csrf, expiresAt: p.expiresAt, ...(link ? { link: { agent: link.agent, account: link.account } } : {}) };
  });

  serve(app, api.signOut, async ({ principal, reply }) => {
    const p = principal!;
    if (p.kind !== 'user') throw badRequest(`signing out ends a console session; this call was made with the API token ${p.name} (revoke a token with custos token revoke NAME)`);
    await c.deleteSession(p.sessionId);
    void reply.header('set-cookie', clearedSessionCookie());
    return { signedOut: p.name };
  });

  serve(app, api.listUsers, async () => (await c.listUsers()).map((u) => userView(u, ctx.clock.now())));

  serve(app, api.createUser, async ({ body, audit }) => {
    audit(body.name, { role: body.role, scopes: body.scopes ?? [], ...(body.link ? { link: `${body.link.agent}:${body.link.account}` } : {}) });
    const scopes = await checkScopes(ctx, body.role, body.scopes ?? [], 'user');
    if (body.role === 'end-user' && !body.link) throw badRequest(END_USER_NEEDS_LINK);
    const problem = passwordProblem(body.password);
    if (problem) throw badRequest(problem);
    if (await c.userByName(body.name)) throw conflict(`a user named ${body.name} exists; change its password with custos user passwd ${body.name}, or pick another name`);
    const link = body.link ? await ctx.myFiles.link(body.link.agent, body.link.account) : undefined;
    const now = ctx.clock.now().toISOString();
    await c.addUser({ name: body.name, role: body.role, scopes: scopes.map(formatScope), passwordHash: await hashPassword(body.password), now, ...(link ? { link } : {}) });
    return userView((await c.userByName(body.name))!, ctx.clock.now());
  });

  serve(app, api.updateUser, async ({ params, body, audit }) => {
    audit(params.name, {
      ...(body.role !== undefined ? { role: body.role } : {}), ...(body.scopes !== undefined ? { scopes: body.scopes } : {}), password: body.password !== undefined ? 'changed' : 'kept',
      ...(body.link !== undefined ? { link: body.link === null ? null : `${body.link.agent}:${body.link.account}` } : {}),
    });
    const user = await c.userByName(params.name);
    if (!user) throw notFound(`user ${params.name}`);
    const linked = body.link !== undefined ? body.link !== null : user.link_agent !== null;
    if ((body.role ?? user.role) === 'end-user' && !linked) throw badRequest(END_USER_NEEDS_LINK);
    let scopes: string[] | undefined;
    if (body.role !== undefined || body.scopes !== undefined) {
      const role = body.role ?? user.role;
      // A user that changes role keeps no scopes unless new ones are given; one that keeps its role keeps its scopes.
      const texts = body.scopes ?? (role === user.role ? (JSON.parse(user.scopes) as string[]) : []);
      scopes = (await checkScopes(ctx, role, texts, 'user')).map(formatScope);
    }
    if (body.password !== undefined) {
      const problem = passwordProblem(body.password);
      if (problem) throw badRequest(problem);
    }
    const link = body.link ? await ctx.myFiles.link(body.link.agent, body.link.account) : body.link;
    const now = ctx.clock.now().toISOString();
    const ended = await c.updateUser(user.id, {
      ...(link !== undefined ? { link } : {}),
      ...(body.role !== undefined ? { role: body.role } : {}),
      ...(scopes !== undefined ? { scopes } : {}),
      ...(body.password !== undefined ? { passwordHash: await hashPassword(body.password) } : {}),
      now,
    });
    if (ended > 0) ctx.log(`user ${user.name} changed: ${ended} session(s) ended`);
    return userView((await c.userById(user.id))!, ctx.clock.now());
  });

  serve(app, api.deleteUser, async ({ params, principal, audit }) => {
    audit(params.name);
    const user = await c.userByName(params.name);
    if (!user) throw notFound(`user ${params.name}`);
    if (principal!.kind === 'user' && principal!.userId === user.id) throw conflict(`you are signed in as ${user.name}: another admin must delete this user`);
    await c.deleteUser(user.id);
    return { deleted: user.name };
  });
}
