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
import { connect, printTable, withConnection, type ConnectionOptions } from '../server-cli.js';

function showPool(p: PoolStatus): void {
  if (p.directories.length === 0) print('no pool directories (custos pool add DIR)');
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
