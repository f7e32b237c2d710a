/**
 * Branded identifiers: a ChunkId is never confused with a PackId or a
 * RecoveryPointId across layers, even though all are hex strings.
 */

declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** 64 lowercase hex digits: SHA-256 (or keyed HMAC-SHA-256) of a chunk's plaintext. */
export type ChunkId = Brand<string, 'ChunkId'>;
/** 32 lowercase hex digits, random. */
export type PackId = Brand<string, 'PackId'>;
/** 32 lowercase hex digits, random. */
export type IndexId = Brand<string, 'IndexId'>;
/** 32 lowercase hex digits, random. */
export type RecoveryPointId = Brand<string, 'RecoveryPointId'>;

const HEX64 = /^[0-9a-f]{64}$/;
const HEX32 = /^[0-9a-f]{32}$/;

export function isChunkId(s: string): s is ChunkId {
  return HEX64.test(s);
}
export function isHex32(s: string): boolean {
  return HEX32.test(s);
}
