/**
 * `custos pool list|show`: the protection server's storage pool and its
 * usage. Added to the `pool` command beside the standalone
 * `pool init|verify|gc|stats DIR`, which work on a local pool directory.
 */
import type { Command } from 'commander';
import { api } from '../../protocol/rest/index.js';
import type { PoolStatus } from '../client.js';
import { print, printJson } from '../output.js';
import { formatBytes } from '../progress.js';
import { CustosError } from '../../base/index.js';
import { connect, printTable, withConnection, type ConnectionOptions } from '../server-cli.js';
import { reportStarted } from './job.js';

function showPool(p: PoolStatus): void {
  if (p.directories.length === 0) print('no pool directories');
  else printTable(['DIRECTORY', 'USED', 'FREE'], p.directories.map((d) => [d.path, formatBytes(d.bytesUsed), formatBytes(d.bytesFree)]));
  print(`stored: ${formatBytes(p.bytesStored)} in ${p.chunks} chunks`);
}

export function registerServerPoolCommands(pool: Command): void {
  withConnection(
    pool.command('list').alias('show').description("server: the protection server's storage pool directories and usage").option('--json', 'print the pool as JSON'),
  ).action(async (opts: ConnectionOptions & { json?: boolean }) => {
    const p = await connect(opts).call(api.getPool);
    if (opts.json) return printJson(p);
    showPool(p);
  });
}

/** `custos pool gc|verify` without a directory: queue that job on the protection server's pool (merged with one already queued). */
export async function serverPoolJob(
  kind: 'gc' | 'verify',
  opts: ConnectionOptions & { keyFile?: string; grace?: string; dryRun?: boolean; retryLock?: string; wait?: boolean; timeout?: string; json?: boolean },
): Promise<void> {
  const standaloneOnly = (['keyFile', 'grace', 'dryRun', 'retryLock'] as const).filter((k) => opts[k] !== undefined && !(k === 'grace' && opts.grace === '1h'));
  if (standaloneOnly.length > 0) {
    throw new CustosError('usage', `${standaloneOnly.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')} apply to a local pool (custos pool ${kind} DIR); the server's pool is kept with its own settings`);
  }
  const client = connect(opts);
  await reportStarted(client, await client.call(kind === 'gc' ? api.poolGc : api.poolVerify), opts);
}
