/**
 * `custos pool add|list|show`: the protection server's storage pool (its
 * directories). Added to the `pool` command beside the standalone
 * `pool init|verify|gc|stats DIR`, which work on a local pool directory.
 */
import { isAbsolute } from 'node:path';
import type { Command } from 'commander';
import { CustosError } from '../../base/index.js';
import { type PoolStatus } from '../client.js';
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
    pool
      .command('add')
      .description("server: add a directory to the protection server's storage pool (empty, or an existing pool directory)")
      .argument('<dir>', 'directory on the protection server')
      .option('--json', 'print the pool as JSON'),
  ).action(async (dir: string, opts: ConnectionOptions & { json?: boolean }) => {
    if (!isAbsolute(dir)) throw new CustosError('usage', `give the directory as an absolute path on the protection server (got ${dir})`);
    const p = await connect(opts).post<PoolStatus>('/api/pool/directories', { path: dir });
    if (opts.json) return printJson(p);
    print(`added ${dir} to the storage pool`);
    showPool(p);
  });

  withConnection(
    pool.command('list').alias('show').description("server: the protection server's storage pool directories and usage").option('--json', 'print the pool as JSON'),
  ).action(async (opts: ConnectionOptions & { json?: boolean }) => {
    const p = await connect(opts).get<PoolStatus>('/api/pool');
    if (opts.json) return printJson(p);
    showPool(p);
  });
}
