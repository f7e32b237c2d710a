/**
 * Pool keys. The key file holds any secret bytes (a generated random key or a
 * passphrase); scrypt with the pool's salt turns them into a master key, and
 * HKDF splits that into independent subkeys so that no key serves two purposes.
 */
import { createHmac, hkdfSync, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { UserError } from '../base/index.js';

export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: string; // base64
}

/** What the pool config records about encryption (never the key itself). */
export interface EncryptionConfig {
  readonly algorithm: 'aes-256-gcm';
  readonly kdf: { readonly name: 'scrypt' } & ScryptParams;
  /** HMAC proving a key file is the right one without revealing anything. */
  readonly keyCheck: string; // base64
}

export interface PoolKeys {
  /** Keys chunk ids (HMAC-SHA-256) so a pool's holder cannot confirm guessed plaintext. */
  readonly idKey: Buffer;
  /** AES-256-GCM key for chunks and pool objects. */
  readonly dataKey: Buffer;
}

/**
 * The keys a codec works with: a pool's (both), or a protection agent's (the
 * id key only, agent protocol 2): an agent makes and reads chunks in
 * transport form, compressed and never encrypted, and the data key never
 * leaves the server (pool-format.md, "Transport form").
 */
export interface ChunkKeys {
  readonly idKey: Uint8Array;
  readonly dataKey?: Uint8Array | undefined;
}

const KEY_CHECK_LABEL = 'custos key check v1';

function derive(secret: Uint8Array, kdf: ScryptParams): { keys: PoolKeys; check: Buffer } {
  const master = scryptSync(secret, Buffer.from(kdf.salt, 'base64'), 32, {
    N: kdf.N,
    r: kdf.r,
    p: kdf.p,
    maxmem: 256 * kdf.N * kdf.r,
  });
  const sub = (info: string) => Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), info, 32));
  const checkKey = sub('custos/key-check');
  return {
    keys: { idKey: sub('custos/chunk-id'), dataKey: sub('custos/data') },
    check: createHmac('sha256', checkKey).update(KEY_CHECK_LABEL).digest(),
  };
}

/** A fresh random secret suitable for a key file (base64 text, newline-terminated). */
export function generateKeyFileContent(): Buffer {
  return Buffer.from(randomBytes(32).toString('base64') + '\n');
}

export function createEncryption(secret: Uint8Array): { config: EncryptionConfig; keys: PoolKeys } {
  if (secret.length === 0) throw new UserError('bad-key', 'the key file is empty');
  const kdf = { name: 'scrypt' as const, N: 32768, r: 8, p: 1, salt: randomBytes(16).toString('base64') };
  const { keys, check } = derive(secret, kdf);
  return { config: { algorithm: 'aes-256-gcm', kdf, keyCheck: check.toString('base64') }, keys };
}

/** Derives the pool keys, or throws `bad-key` when the secret is not this pool's. */
export function openEncryption(config: EncryptionConfig, secret: Uint8Array): PoolKeys {
  const { keys, check } = derive(secret, config.kdf);
  const expected = Buffer.from(config.keyCheck, 'base64');
  if (expected.length !== check.length || !timingSafeEqual(expected, check)) {
    throw new UserError('bad-key', 'wrong key: this key file does not open the pool');
  }
  return keys;
}
