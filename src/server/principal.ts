/**
 * Who makes a call (an API token, or a console user in a session), and the
 * scopes that limit a recovery-operator. Shared by authentication
 * (auth.ts) and sessions (sessions.ts); depends on the REST contract's roles only.
 */
import { ROLES, type Role } from '../protocol/rest/index.js';

export type Scope = { readonly kind: 'group'; readonly name: string } | { readonly kind: 'source'; readonly id: string };

/** Who made a call: an API token or a console user (in a session), with a name, role and scopes. */
export type Principal = TokenPrincipal | UserPrincipal;

interface PrincipalBase {
  readonly name: string;
  readonly role: Role;
  readonly scopes: readonly Scope[];
  /** When the credential stops working (a session: unless used again). */
  readonly expiresAt: string | null;
}

export interface TokenPrincipal extends PrincipalBase {
  readonly kind: 'token';
  readonly tokenId: number;
}

export interface UserPrincipal extends PrincipalBase {
  readonly kind: 'user';
  readonly userId: number;
  readonly sessionId: number;
  readonly csrf: string;
  readonly expiresAt: string;
}

/** The audit log's name for a principal: a token's name; `user NAME` for a console user (names of tokens and users may meet). */
export function actorOf(p: Principal): string {
  return p.kind === 'user' ? `user ${p.name}` : p.name;
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

export function isRole(v: string): v is Role {
  return (ROLES as readonly string[]).includes(v);
}

/** Whether a principal may see and recover a data source (unscoped roles: every one). */
export function sourceInScope(p: Principal, source: { readonly id: string; readonly group_name: string | null }): boolean {
  if (p.role !== 'recovery-operator') return true;
  return p.scopes.some((s) => (s.kind === 'source' ? s.id === source.id : source.group_name !== null && s.name === source.group_name));
}
