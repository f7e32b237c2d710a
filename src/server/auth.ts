/**
 * API authentication and authorisation (docs/design/security.md).
 *
 * The decision is made on the route fastify MATCHED, never on the raw URL:
 * each route carries the access it needs (src/protocol/rest/contract.ts) in
 * its config, so `/%61pi/tokens` needs what `/api/tokens` needs. A route
 * that declares no access is refused to everyone (deny by default), and a
 * URL that matches no route answers 401 to a caller without a valid token
 * before it answers 404, so an anonymous caller learns nothing about which
 * paths exist.
 *
 * Tokens are bearer secrets looked up by their SHA-256 (never stored or
 * logged); a token may expire or be revoked, and a `recovery-operator`
 * token is limited to named groups and data sources (its scopes).
 *
 * A request without an Authorization header may instead carry a console
 * user's session cookie (src/server/sessions.ts): the caller is then that
 * user, with the user's role and scopes, and every call but GET and HEAD
 * must also send the session's CSRF token in `x-custos-csrf`.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../base/index.js';
import type { ApiTokenRow, Catalog } from '../catalog/index.js';
import { ROLES, roleAllows, type Access, type Role } from '../protocol/rest/index.js';
import { hashToken } from './data-dir.js';
import { isRole, storedScopes, type Principal } from './principal.js';
import { CSRF_HEADER, csrfMatches, findSession, sessionSecretOf, userPrincipalOf } from './sessions.js';

export { ROLES, type Role };
export { userPrincipalOf };
export { actorOf, formatScope, parseScope, sourceInScope, storedScopes, type Principal, type Scope, type TokenPrincipal, type UserPrincipal } from './principal.js';

/** What a route says about itself (set by serve() from the contract). */
export interface RouteConfig {
  readonly access?: Access;
  readonly audit?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export type Authentication = { readonly principal: Principal } | { readonly refused: string };

/**
 * Checks a request's credential: the Authorization header when there is
 * one (a bearer token), else the session cookie. The reason for a refusal
 * never repeats the token or the cookie.
 */
export async function authenticate(catalog: Catalog, headers: { authorization?: string; cookie?: string }, now: Date): Promise<Authentication> {
  if (headers.authorization === undefined) {
    const cookie = sessionSecretOf(headers.cookie);
    if (cookie === null) return { refused: 'authentication required: send Authorization: Bearer <token>, or sign in (POST /api/sign-in)' };
    if ('refused' in cookie) return cookie;
    const found = await findSession(catalog, cookie.secret, now);
    if ('refused' in found) return found;
    const principal = userPrincipalOf(found.user, found.session);
    if (!principal) return { refused: "the user's role or scopes are damaged in the catalog: ask an admin to remove the user and add it again (custos user remove, custos user add)" };
    return { principal };
  }
  const m = /^Bearer ([\x21-\x7e]{1,512})$/i.exec(headers.authorization);
  if (!m) return { refused: 'authentication required: send Authorization: Bearer <token>' };
  const row = await catalog.apiTokenByHash(hashToken(m[1]!));
  if (!row || row.revoked_at) return { refused: 'unknown or revoked token' };
  if (row.expires_at !== null && row.expires_at <= now.toISOString()) return { refused: `the token expired at ${row.expires_at}` };
  const principal = principalOf(row);
  if (!principal) return { refused: 'the token is damaged in the catalog (unknown role or scopes): create a new one' };
  return { principal };
}

function principalOf(row: ApiTokenRow): Principal | null {
  const scopes = storedScopes(row.scopes);
  if (!scopes || !isRole(row.role)) return null;
  if (row.role === 'recovery-operator' && scopes.length === 0) return null;
  return { kind: 'token', tokenId: row.id, name: row.name, role: row.role, scopes, expiresAt: row.expires_at };
}

/** Methods that change nothing, which a session may call without its CSRF token. */
const SAFE_METHODS = new Set(['GET', 'HEAD']);

const TOUCH_EVERY_MS = 60_000;

export interface AuthDeps {
  readonly catalog: Catalog;
  readonly clock: Clock;
}

/** The onRequest hook: authenticate, then authorise on the matched route's declared access. */
export function makeAuthHook(d: AuthDeps) {
  const touched = new Map<string, number>();
  return async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const config = req.routeOptions.config as RouteConfig | undefined;
    const access = req.is404 ? undefined : config?.access;
    if (access === 'public') return undefined;
    const auth = await authenticate(d.catalog, { authorization: req.headers.authorization, cookie: req.headers.cookie }, d.clock.now());
    if ('refused' in auth) {
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: { code: 'denied', message: auth.refused } });
    }
    req.principal = auth.principal;
    if (auth.principal.kind === 'user' && !SAFE_METHODS.has(req.method) && !csrfMatches(req.headers[CSRF_HEADER], auth.principal.csrf)) {
      return reply.code(403).send({ error: { code: 'denied', message: `missing or wrong CSRF token: send the session's csrf (from the sign-in answer or GET /api/session) in ${CSRF_HEADER}` } });
    }
    if (req.is404) return undefined; // a valid token learns that the call does not exist
    if (access === undefined) {
      return reply.code(403).send({ error: { code: 'denied', message: `${req.method} ${req.routeOptions.url ?? ''} declares no access rule: refused to everyone` } });
    }
    if (!roleAllows(auth.principal.role, access)) {
      return reply.code(403).send({ error: { code: 'denied', message: `role ${auth.principal.role} may not ${req.method} ${req.routeOptions.url ?? ''}` } });
    }
    await touch(d, touched, auth.principal);
    return undefined;
  };
}

/**
 * Records a credential's last use, at most once a minute each (a session's
 * idle expiry counts from it). Server-clock time, so tests that move the
 * clock see sessions kept alive by use.
 */
async function touch(d: AuthDeps, touched: Map<string, number>, p: Principal): Promise<void> {
  const now = d.clock.now();
  const key = p.kind === 'user' ? `session ${p.sessionId}` : `token ${p.tokenId}`;
  if (now.getTime() - (touched.get(key) ?? 0) <= TOUCH_EVERY_MS) return;
  if (touched.size >= 10_000) touched.clear();
  touched.set(key, now.getTime());
  if (p.kind === 'user') await d.catalog.touchSession(p.sessionId, now.toISOString());
  else await d.catalog.touchApiToken(p.tokenId, now.toISOString());
}
