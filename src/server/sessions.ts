/**
 * Console users' browser sessions (docs/design/security.md, "Console
 * users"): signing in with a name and password, the session cookie, the
 * CSRF token, idle and latest expiry, and the lockout after failed
 * sign-ins.
 *
 * The cookie `__Host-custos_session` holds 32 random bytes; the catalog keeps only
 * their SHA-256, so a copy of the catalog (or a catalog backup) opens no
 * session. Each session has its own CSRF token, which the console reads
 * from the sign-in answer (or GET /api/session) and sends back in
 * `x-custos-csrf` on every call but GET and HEAD: another site can make a
 * browser send the cookie (not with SameSite=Strict, but defence in depth),
 * never read the token.
 *
 * Lockout: five failed sign-ins in a row for one user name lock that name
 * for fifteen minutes. Names that belong to nobody are counted the same way
 * (in memory, bounded) and checked against a dummy hash, so neither the
 * answers nor their timing say which names exist.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../base/index.js';
import type { Catalog, SessionRow, UserRow } from '../catalog/index.js';
import type { AuditLog } from './audit.js';
import { isRole, storedScopes, type UserPrincipal } from './principal.js';
import { hashToken } from './data-dir.js';
import { hashPassword, needsRehash, verifyAgainstDummy, verifyPassword } from './passwords.js';

export const SESSION_COOKIE = '__Host-custos_session';
export const CSRF_HEADER = 'x-custos-csrf';
/** A session not used for this long ends. */
export const SESSION_IDLE_MS = 12 * 3_600_000;
/** A session ends this long after sign-in, used or not. */
export const SESSION_MAX_MS = 7 * 86_400_000;
export const MAX_FAILED_SIGN_INS = 5;
export const LOCKOUT_MS = 15 * 60_000;

/** What a cookie's secret looks like: 32 bytes in unpadded base64url. */
const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** Longer Cookie headers are not read at all (browsers send at most a few KiB per site). */
const MAX_COOKIE_HEADER = 8192;
const MAX_COOKIES = 64;

// --- cookies ---------------------------------------------------------------------------------

/**
 * The cookies of a Cookie header (`a=1; b=2`), by name, each name's values
 * in order; bounded (a header over 8 KiB or with more than 64 cookies reads
 * as none). Values are taken as sent (no percent-decoding: ours need none).
 */
export function parseCookies(header: string | undefined): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (header === undefined || header.length > MAX_COOKIE_HEADER) return out;
  const pairs = header.split(';');
  if (pairs.length > MAX_COOKIES) return out;
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const name = pair.slice(0, eq).trim();
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (name === '') continue;
    out.set(name, [...(out.get(name) ?? []), value]);
  }
  return out;
}

/**
 * The session secret a request carries: absent, or well formed, or
 * refused. Two `__Host-custos_session` cookies are refused rather than one of them
 * chosen: a cookie planted by a neighbouring site (another path or a parent
 * domain) must not decide whose session a request runs in.
 */
export function sessionSecretOf(header: string | undefined): { secret: string } | { refused: string } | null {
  const values = parseCookies(header).get(SESSION_COOKIE);
  if (!values) return null;
  if (values.length > 1) return { refused: `more than one ${SESSION_COOKIE} cookie: sign out, clear this site's cookies and sign in again` };
  if (!SECRET_PATTERN.test(values[0]!)) return { refused: 'unknown or ended session: sign in again' };
  return { secret: values[0]! };
}

/** A browser-session cookie (no Max-Age or Expires: it ends with the browser; the server ends it earlier). */
export function sessionCookie(secret: string): string {
  return `${SESSION_COOKIE}=${secret}; Path=/; HttpOnly; Secure; SameSite=Strict`;
}

export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0`;
}

/** Whether the CSRF header of a request is the session's token (constant time). */
export function csrfMatches(sent: string | string[] | undefined, csrf: string): boolean {
  if (typeof sent !== 'string') return false;
  const a = Buffer.from(sent, 'utf8');
  const b = Buffer.from(csrf, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

// --- sessions --------------------------------------------------------------------------------

/** When a session ends unless it is used again: 12 h after its last use, 7 days after sign-in at the latest. */
export function sessionEnd(s: Pick<SessionRow, 'last_used_at' | 'expires_at'>): string {
  const idle = new Date(new Date(s.last_used_at).getTime() + SESSION_IDLE_MS).toISOString();
  return idle < s.expires_at ? idle : s.expires_at;
}

/** The live session of a cookie's secret with its user, or why there is none (an ended session is deleted). */
export async function findSession(catalog: Catalog, secret: string, now: Date): Promise<{ session: SessionRow; user: UserRow } | { refused: string }> {
  const session = await catalog.sessionByHash(hashToken(secret));
  if (!session) return { refused: 'unknown or ended session: sign in again' };
  if (sessionEnd(session) <= now.toISOString()) {
    await catalog.deleteSession(session.id);
    return { refused: 'the session expired: sign in again' };
  }
  const user = await catalog.userById(session.user_id);
  if (!user) return { refused: 'unknown or ended session: sign in again' };
  return { session, user };
}

/** A console user in one of their sessions (null when the user's role or scopes cannot be read). */
export function userPrincipalOf(user: UserRow, session: SessionRow): UserPrincipal | null {
  const scopes = storedScopes(user.scopes);
  if (!scopes || !isRole(user.role)) return null;
  if (user.role === 'recovery-operator' && scopes.length === 0) return null;
  return { kind: 'user', userId: user.id, sessionId: session.id, csrf: session.csrf, name: user.name, role: user.role, scopes, expiresAt: sessionEnd(session) };
}

// --- signing in ------------------------------------------------------------------------------

export type SignInOutcome =
  | { readonly ok: true; readonly principal: UserPrincipal; readonly secret: string; readonly user: UserRow }
  /** `locked`: the name is locked out until then; `damaged`: the password was right but the user's role or scopes cannot be read. */
  | { readonly ok: false; readonly locked: string | null; readonly damaged?: true };

interface Failures {
  count: number;
  lockedUntil: string | null;
}

/** How many names that belong to nobody are remembered for the lockout (oldest forgotten first). */
const MAX_UNKNOWN_NAMES = 10_000;

export interface SignInDeps {
  readonly catalog: Catalog;
  readonly clock: Clock;
  readonly audit: AuditLog;
}

/** Checks names and passwords, counts failures, locks names out and opens sessions. */
export class SignInService {
  /** Failed sign-ins of names that are no user's (a user's are in the catalog). */
  private readonly unknownNames = new Map<string, Failures>();

  constructor(private readonly d: SignInDeps) {}

  /**
   * One sign-in attempt. A locked name is refused before its password is
   * checked; the attempt is counted as failed before the check (so parallel
   * guesses cannot outrun the count) and the count is cleared on success.
   */
  async signIn(name: string, password: string, address: string | null): Promise<SignInOutcome> {
    const now = this.d.clock.now();
    const user = await this.d.catalog.userByName(name);
    if (!user) return this.unknownName(name, password, address, now);
    if (user.locked_until !== null && user.locked_until > now.toISOString()) return { ok: false, locked: user.locked_until };
    const failures = await this.d.catalog.addFailedSignIn(user.id);
    if (failures > MAX_FAILED_SIGN_INS) return { ok: false, locked: await this.lock(user.id, name, now, address) };
    if (!(await verifyPassword(password, user.password_hash))) {
      if (failures === MAX_FAILED_SIGN_INS) await this.lock(user.id, name, now, address);
      return { ok: false, locked: null };
    }
    await this.d.catalog.userSignedIn(user.id, now.toISOString());
    if (needsRehash(user.password_hash)) await this.d.catalog.rehashPassword(user.id, await hashPassword(password));
    return this.openSession(user, now, address);
  }

  private async openSession(user: UserRow, now: Date, address: string | null): Promise<SignInOutcome> {
    const t = now.getTime();
    await this.d.catalog.deleteExpiredSessions(now.toISOString(), new Date(t - SESSION_IDLE_MS).toISOString());
    const secret = randomBytes(32).toString('base64url');
    const secretHash = hashToken(secret);
    const expiresAt = new Date(t + SESSION_MAX_MS).toISOString();
    const probe = { id: 0, secret_hash: '', csrf: '', user_id: user.id, created_at: now.toISOString(), last_used_at: now.toISOString(), expires_at: expiresAt, address };
    if (!userPrincipalOf(user, probe)) return { ok: false, locked: null, damaged: true }; // no session for a user nobody could act as
    await this.d.catalog.addSession({ secretHash, csrf: randomBytes(32).toString('base64url'), userId: user.id, now: now.toISOString(), expiresAt, address });
    const principal = userPrincipalOf(user, (await this.d.catalog.sessionByHash(secretHash))!);
    return principal ? { ok: true, principal, secret, user } : { ok: false, locked: null, damaged: true };
  }

  private async lock(userId: number | null, name: string, now: Date, address: string | null): Promise<string> {
    const until = new Date(now.getTime() + LOCKOUT_MS).toISOString();
    if (userId !== null) await this.d.catalog.lockUser(userId, until);
    // Always written, never folded into the summary of denied requests: at most one per name per lockout.
    await this.d.audit.record({
      actor: 'anonymous', role: null, action: 'session.lockout', target: name, outcome: 'denied',
      detail: { failedSignIns: MAX_FAILED_SIGN_INS, lockedUntil: until }, address,
    }, { always: true });
    return until;
  }

  /** The same answers, timing and lockout as for a user's name, kept in memory. */
  private async unknownName(name: string, password: string, address: string | null, now: Date): Promise<SignInOutcome> {
    const f = this.unknownNames.get(name) ?? { count: 0, lockedUntil: null };
    if (f.lockedUntil !== null && f.lockedUntil > now.toISOString()) return { ok: false, locked: f.lockedUntil };
    await verifyAgainstDummy(password);
    f.count++;
    this.unknownNames.delete(name); // re-inserted last: the map's order is oldest first
    if (this.unknownNames.size >= MAX_UNKNOWN_NAMES) this.unknownNames.delete(this.unknownNames.keys().next().value!);
    this.unknownNames.set(name, f);
    if (f.count >= MAX_FAILED_SIGN_INS) {
      f.count = 0;
      f.lockedUntil = await this.lock(null, name, now, address);
    }
    return { ok: false, locked: null };
  }
}
