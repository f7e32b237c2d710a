/**
 * Who makes a call (an API token, or a console user in a session), and the
 * scopes that limit a recovery-operator. Shared by authentication
 * (auth.ts) and sessions (sessions.ts); depends on the REST contract's roles only.
 */
import { posix } from 'node:path';
import { ROLES, type Role } from '../protocol/rest/index.js';

/**
 * What a recovery-operator may reach. Source scopes (a group, a data
 * source) say what it sees and recovers; target scopes say where its
 * recoveries may write (docs/design/postgresql.md §9): a folder on an
 * agent (at or under `path`), or new PostgreSQL instances on an agent (one
 * port, or any: port null). A target scope naming one of its own
 * PostgreSQL data sources allows recovering it over itself (original).
 */
export type Scope =
  | { readonly kind: 'group'; readonly name: string }
  | { readonly kind: 'source'; readonly id: string }
  | { readonly kind: 'target-folder'; readonly agent: string; readonly path: string }
  | { readonly kind: 'target-instance'; readonly agent: string; readonly port: number | null };

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
  // No control characters: scopes are shown on terminals and in the console.
  const folder = /^target:([^:/\x00-\x1f\x7f]+):(\/[^\x00-\x1f\x7f]*)$/.exec(text);
  if (folder) {
    const path = posix.normalize(folder[2]!);
    return { kind: 'target-folder', agent: folder[1]!, path: path.length > 1 ? path.replace(/\/$/, '') : path };
  }
  const instance = /^target:([^:/\x00-\x1f\x7f]+):postgres:(\*|[1-9][0-9]{0,4})$/.exec(text);
  if (instance && (instance[2] === '*' || Number(instance[2]) <= 65535)) return { kind: 'target-instance', agent: instance[1]!, port: instance[2] === '*' ? null : Number(instance[2]) };
  return null;
}

export function formatScope(s: Scope): string {
  switch (s.kind) {
    case 'group': return `group:${s.name}`;
    case 'source': return `source:${s.id}`;
    case 'target-folder': return `target:${s.agent}:${s.path}`;
    case 'target-instance': return `target:${s.agent}:postgres:${s.port ?? '*'}`;
  }
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
  return p.scopes.some((s) => (s.kind === 'source' ? s.id === source.id : s.kind === 'group' && source.group_name !== null && s.name === source.group_name));
}

/** Where a recovery writes: a folder on an agent, a new instance there (its folder), or the data source itself. */
export type RecoveryWhere =
  | { readonly kind: 'folder'; readonly agent: string; readonly path: string }
  | { readonly kind: 'instance'; readonly agent: string; readonly port: number; readonly path: string }
  | { readonly kind: 'original'; readonly source: string };

function under(path: string, dir: string): boolean {
  return dir === '/' || path === dir || path.startsWith(`${dir}/`);
}

/**
 * Whether a recovery-operator's target scopes let it write `where` (null:
 * yes; else why not). Without target scopes the caller applies the older
 * rule (an agent of a data source in scope, folders only for applications):
 * `hasTargetScopes` says which.
 */
export function targetScopeRefusal(p: Principal, where: RecoveryWhere): string | null {
  const folders = p.scopes.filter((s) => s.kind === 'target-folder');
  const instances = p.scopes.filter((s) => s.kind === 'target-instance');
  const folderOk = (agent: string, path: string) => folders.some((s) => s.agent === agent && under(path, s.path));
  const allowed = folders.map((s) => formatScope(s)).concat(instances.map((s) => formatScope(s))).join(', ') || 'none';
  switch (where.kind) {
    case 'folder':
      return folderOk(where.agent, where.path) ? null : `${where.agent}:${where.path} is outside this recovery-operator's target scopes (${allowed})`;
    case 'instance':
      if (!instances.some((s) => s.agent === where.agent && (s.port === null || s.port === where.port))) return `a new instance on ${where.agent} port ${where.port} is outside this recovery-operator's target scopes (${allowed})`;
      return folderOk(where.agent, where.path) ? null : `the new instance's folder ${where.agent}:${where.path} is outside this recovery-operator's target scopes (${allowed})`;
    case 'original':
      return instances.some((s) => `${s.agent}:postgres:${s.port}` === where.source) ? null : `recovering ${where.source} over itself needs the target scope target:${where.source}`;
  }
}

export function hasTargetScopes(p: Principal): boolean {
  return p.scopes.some((s) => s.kind === 'target-folder' || s.kind === 'target-instance');
}
