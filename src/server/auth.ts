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
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../base/index.js';
import type { ApiTokenRow, Catalog } from '../catalog/index.js';
import { ROLES, roleAllows, type Access, type Role } from '../protocol/rest/index.js';
import { hashToken } from './data-dir.js';

export { ROLES, type Role };

export type Scope = { readonly kind: 'group'; readonly name: string } | { readonly kind: 'source'; readonly id: string };

/** Who made a call: the token's name, role and scopes. */
export interface Principal {
  readonly tokenId: number;
  readonly name: string;
  readonly role: Role;
  readonly scopes: readonly Scope[];
  readonly expiresAt: string | null;
}

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

export function parseScope(text: string): Scope | null {
  if (text.startsWith('group:') && text.length > 6) return { kind: 'group', name: text.slice(6) };
  if (text.startsWith('source:') && text.length > 7) return { kind: 'source', id: text.slice(7) };
  return null;
}

export function formatScope(s: Scope): string {
  return s.kind === 'group' ? `group:${s.name}` : `source:${s.id}`;
}

/** The scopes stored with a token (a catalog value: anything unreadable means no access at all). */
export function storedScopes(json: string): Scope[] | null {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return null;
  }
  if (!Array.isArray(v)) return null;
  const out: Scope[] = [];
  for (const item of v) {
    const s = typeof item === 'string' ? parseScope(item) : null;
    if (!s) return null;
    out.push(s);
  }
  return out;
}

function isRole(v: string): v is Role {
  return (ROLES as readonly string[]).includes(v);
}

/** Whether a principal may see and recover a data source (unscoped roles: every one). */
export function sourceInScope(p: Principal, source: { readonly id: string; readonly group_name: string | null }): boolean {
  if (p.role !== 'recovery-operator') return true;
  return p.scopes.some((s) => (s.kind === 'source' ? s.id === source.id : source.group_name !== null && s.name === source.group_name));
}

export type Authentication = { readonly principal: Principal } | { readonly refused: string };

/** Checks an Authorization header; the reason for a refusal never repeats the token. */
export async function authenticate(catalog: Catalog, header: string | undefined, now: Date): Promise<Authentication> {
  const m = /^Bearer ([\x21-\x7e]{1,512})$/i.exec(header ?? '');
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
  return { tokenId: row.id, name: row.name, role: row.role, scopes, expiresAt: row.expires_at };
}

const TOUCH_EVERY_MS = 60_000;

export interface AuthDeps {
  readonly catalog: Catalog;
  readonly clock: Clock;
}

/** The onRequest hook: authenticate, then authorise on the matched route's declared access. */
export function makeAuthHook(d: AuthDeps) {
  const touched = new Map<number, number>();
  return async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const config = req.routeOptions.config as RouteConfig | undefined;
    const access = req.is404 ? undefined : config?.access;
    if (access === 'public') return undefined;
    const auth = await authenticate(d.catalog, req.headers.authorization, d.clock.now());
    if ('refused' in auth) {
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: { code: 'denied', message: auth.refused } });
    }
    req.principal = auth.principal;
    if (req.is404) return undefined; // a valid token learns that the call does not exist
    if (access === undefined) {
      return reply.code(403).send({ error: { code: 'denied', message: `${req.method} ${req.routeOptions.url ?? ''} declares no access rule: refused to everyone` } });
    }
    if (!roleAllows(auth.principal.role, access)) {
      return reply.code(403).send({ error: { code: 'denied', message: `role ${auth.principal.role} may not ${req.method} ${req.routeOptions.url ?? ''}` } });
    }
    const t = Date.now();
    if (t - (touched.get(auth.principal.tokenId) ?? 0) > TOUCH_EVERY_MS) {
      touched.set(auth.principal.tokenId, t);
      await d.catalog.touchApiToken(auth.principal.tokenId, d.clock.now().toISOString());
    }
    return undefined;
  };
}
