/**
 * Passwords of console users (docs/design/security.md, "Console users"):
 * the rules a new password must meet, and scrypt hashes of them.
 *
 * A stored hash describes itself — `$scrypt$ln=15,r=8,p=1$SALT$KEY`, salt
 * and key in unpadded base64url — so the cost can be raised later without
 * making old hashes unreadable. Verifying compares keys in constant time;
 * a name that belongs to no user is checked against a dummy hash of the
 * same cost, so a wrong name and a wrong password take the same time.
 * Stored hashes are catalog values: one that does not parse, or asks for a
 * cost beyond what this server would ever set, verifies nothing.
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** Cost parameters: N = 2^ln, block size r, parallelism p. */
export interface ScryptParams {
  readonly ln: number;
  readonly r: number;
  readonly p: number;
}

/** 2^15 × 8 × 128 bytes = 32 MiB and about 50–100 ms of one core per hash. */
export const DEFAULT_SCRYPT: ScryptParams = { ln: 15, r: 8, p: 1 };

export const PASSWORD_MIN_CHARS = 8;
export const PASSWORD_MAX_CHARS = 1024;
/** At most 4 bytes per character in UTF-8, so this is never the binding limit for a valid password; it bounds the work of a hostile one. */
export const PASSWORD_MAX_BYTES = 4096;

const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Bounds on a stored hash's parameters: a damaged or forged catalog value cannot make one check take minutes or gigabytes. */
const LIMITS = { ln: [10, 20], r: [1, 32], p: [1, 16] } as const;

/** Why a new password is refused (one line for people), or null when it is fine. */
export function passwordProblem(password: string): string | null {
  const chars = [...password].length;
  if (chars < PASSWORD_MIN_CHARS) return `a password needs at least ${PASSWORD_MIN_CHARS} characters (this one has ${chars})`;
  if (chars > PASSWORD_MAX_CHARS || Buffer.byteLength(password, 'utf8') > PASSWORD_MAX_BYTES) return `a password may have at most ${PASSWORD_MAX_CHARS} characters`;
  return null;
}

/** The stored form of a password (a fresh random salt each time). */
export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, params, KEY_BYTES);
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** Whether `password` is the one `stored` was made from; false for a stored value that is not a hash we can read. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const h = parseStoredHash(stored);
  if (!h || Buffer.byteLength(password, 'utf8') > PASSWORD_MAX_BYTES) {
    await verifyAgainstDummy(password); // the same work either way
    return false;
  }
  const key = await derive(password, h.salt, h.params, h.key.length);
  return timingSafeEqual(key, h.key);
}

let dummy: Promise<string> | null = null;

/** Costs what checking a real user's password costs, and is always false: for names that are no user's. */
export async function verifyAgainstDummy(password: string): Promise<false> {
  dummy ??= hashPassword(randomBytes(18).toString('base64url'));
  const h = parseStoredHash(await dummy)!;
  const key = await derive(password.slice(0, PASSWORD_MAX_CHARS), h.salt, h.params, h.key.length);
  timingSafeEqual(key, h.key);
  return false;
}

interface StoredHash {
  readonly params: ScryptParams;
  readonly salt: Buffer;
  readonly key: Buffer;
}

/**
 * Whether a stored hash that just verified should be hashed again at
 * today's cost (DEFAULT_SCRYPT): raising the cost takes effect for each
 * user at their next sign-in, the only time the password is at hand.
 */
export function needsRehash(stored: string, params: ScryptParams = DEFAULT_SCRYPT): boolean {
  const h = parseStoredHash(stored);
  return h !== null && (h.params.ln !== params.ln || h.params.r !== params.r || h.params.p !== params.p);
}

/** Reads `$scrypt$ln=…,r=…,p=…$SALT$KEY`; null for anything else or out-of-bounds parameters. */
export function parseStoredHash(stored: string): StoredHash | null {
  const m = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9_-]{16,88})\$([A-Za-z0-9_-]{43,88})$/.exec(stored);
  if (!m) return null;
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  for (const k of ['ln', 'r', 'p'] as const) if (params[k] < LIMITS[k][0] || params[k] > LIMITS[k][1]) return null;
  const salt = Buffer.from(m[4]!, 'base64url');
  const key = Buffer.from(m[5]!, 'base64url');
  if (salt.length < SALT_BYTES || key.length < KEY_BYTES) return null;
  return { params, salt, key };
}

/**
 * At most this many hashes at once: scrypt runs on Node's thread pool (4
 * threads), which file reads share, so a flood of sign-ins must leave
 * threads for the pool's disk work. The rest wait their turn.
 */
const CONCURRENT_HASHES = 2;
let running = 0;
const waiting: Array<() => void> = [];

async function derive(password: string, salt: Buffer, params: ScryptParams, length: number): Promise<Buffer> {
  if (running >= CONCURRENT_HASHES) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await scryptOnce(password, salt, params, length);
  } finally {
    running--;
    waiting.shift()?.();
  }
}

function scryptOnce(password: string, salt: Buffer, params: ScryptParams, length: number): Promise<Buffer> {
  const N = 2 ** params.ln;
  // NFC: the same password typed on systems that compose accents differently is the same password.
  const input = Buffer.from(password.normalize('NFC'), 'utf8');
  const options: ScryptOptions = { N, r: params.r, p: params.p, maxmem: 128 * N * params.r * 2 + 1024 * 1024 };
  return new Promise((resolve, reject) => scryptCallback(input, salt, length, options, (err, key) => (err ? reject(err) : resolve(key))));
}
