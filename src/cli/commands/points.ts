import type { Command } from 'commander';
// Loaded when the command runs, so that every other command starts fast.
const load = () => import('../../standalone/points.js');
import { print, printJson } from '../output.js';
import { formatBytes } from '../progress.js';

export function registerPointsCommand(program: Command): void {
  program
    .command('points')
    .description('list the recovery points in a storage pool, oldest first')
    .requiredOption('--pool <dir>', 'storage pool directory')
    .option('--key-file <file>', 'key file of an encrypted pool')
    .option('--json', 'print a JSON array')
    .action(async (opts: { pool: string; keyFile?: string; json?: boolean }) => {
      const points = await (await load()).listPoints({ pool: opts.pool, keyFile: opts.keyFile });
      if (opts.json) return printJson(points);
      if (points.length === 0) return print('no recovery points');
      print('ID                                TIME                      SIZE       SOURCE');
      for (const p of points) {
        print(`${p.id}  ${p.time.padEnd(24)}  ${formatBytes(p.logicalBytes).padEnd(9)}  ${p.host}:${p.source}${p.partial ? '  (partial)' : ''}`);
      }
    });
}
