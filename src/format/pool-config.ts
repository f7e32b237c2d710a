/** The pool's `config` file: plain JSON, the only unencrypted description of a pool. */
import { CustosError, UserError } from '../base/index.js';
import type { ChunkerParams } from './chunker.js';
import type { EncryptionConfig } from './keys.js';

export const POOL_FORMAT = 'custos-pool';
export const POOL_VERSION = 1;

export interface PoolConfig {
  readonly format: typeof POOL_FORMAT;
  readonly version: number;
  readonly id: string;
  readonly created: string;
  readonly chunker: ChunkerParams;
  readonly compression: { readonly algorithm: 'zstd'; readonly level: number };
  /** Target size of a pack file in bytes. */
  readonly packSize: number;
  readonly encryption: EncryptionConfig | null;
}

export function parsePoolConfig(text: string, where: string): PoolConfig {
  let c: PoolConfig;
  try {
    c = JSON.parse(text) as PoolConfig;
  } catch {
    throw new UserError('format', `${where} is not a Custos pool (config is not JSON)`);
  }
  if (c?.format !== POOL_FORMAT) throw new UserError('format', `${where} is not a Custos pool`);
  if (c.version !== POOL_VERSION) {
    throw new CustosError('format', `${where}: pool format version ${c.version} is not supported (this Custos reads version ${POOL_VERSION})`);
  }
  return c;
}
