/**
 * Enrollment tokens: what an admin hands to
 * `custos agent attach --server URL --token T`.
 *
 *   custos1.<secret>.<ca hash>
 *
 * `secret` is 32 random bytes (base64url, no padding); the server keeps only
 * its SHA-256 and accepts it once. `ca hash` is the raw SHA-256 of the
 * server CA certificate's DER (base64url): before sending anything, the
 * agent checks that the CA the server presents has this fingerprint, so a
 * token alone is enough to trust the right server (like kubeadm's
 * discovery-token-ca-cert-hash).
 */
import { createHash, randomBytes } from 'node:crypto';
import { UserError } from '../base/index.js';

export interface EnrollmentToken {
  /** 32 random bytes, base64url without padding. */
  readonly secret: string;
  /** 'sha256:' + lowercase hex of the CA certificate's DER (see certificateFingerprint). */
  readonly caFingerprint: string;
}

const PREFIX = 'custos1';
const BYTES = 32;
const FINGERPRINT = /^sha256:([0-9a-fA-F]{64})$/;
const MALFORMED = 'not a Custos enrollment token (expected custos1.…)';

export function newEnrollmentSecret(): string {
  return randomBytes(BYTES).toString('base64url');
}

export function encodeEnrollmentToken(t: EnrollmentToken): string {
  if (decode32(t.secret) === null) throw new UserError('usage', 'an enrollment secret must be 32 bytes in base64url');
  const hex = FINGERPRINT.exec(t.caFingerprint)?.[1];
  if (hex === undefined) throw new UserError('usage', `not a CA fingerprint (expected sha256:<64 hex digits>): ${JSON.stringify(t.caFingerprint)}`);
  return `${PREFIX}.${t.secret}.${Buffer.from(hex, 'hex').toString('base64url')}`;
}

/** Parses a token as pasted by a person: surrounding whitespace is ignored, anything else malformed is refused. */
export function decodeEnrollmentToken(text: string): EnrollmentToken {
  const parts = text.trim().split('.');
  if (parts.length !== 3 || parts[0] !== PREFIX) throw new UserError('usage', MALFORMED);
  const secret = decode32(parts[1]!);
  const caHash = decode32(parts[2]!);
  if (secret === null || caHash === null) throw new UserError('usage', MALFORMED);
  return { secret: parts[1]!, caFingerprint: 'sha256:' + caHash.toString('hex') };
}

/** What the server stores for a token: lowercase hex SHA-256 of the secret's text, never the secret. */
export function hashEnrollmentSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/**
 * 32 bytes from canonical unpadded base64url, or null. Node's decoder is
 * lenient (it skips foreign characters and ignores leftover bits), so we
 * check the alphabet and length and that the text re-encodes to itself:
 * every token then has exactly one spelling.
 */
function decode32(text: string): Buffer | null {
  if (!/^[A-Za-z0-9_-]{43}$/.test(text)) return null;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.length === BYTES && bytes.toString('base64url') === text ? bytes : null;
}
