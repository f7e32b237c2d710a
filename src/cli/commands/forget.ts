import type { Command } from 'commander';
// Loaded when the command runs, so that every other command starts fast.
const load = () => import('../../standalone/forget.js');
import { lockWaitNotice, print, printJson, RETRY_LOCK_FLAGS, RETRY_LOCK_HELP } from '../output.js';

export function registerForgetCommand(program: Command): void {
  program
    .command('forget')
    .description('remove recovery points by id or by a keep policy (per data source); run "pool gc" to free the space')
    .argument('[points...]', 'recovery point ids (or unique prefixes)')
    .requiredOption('--pool <dir>', 'storage pool directory')
    .option('--key-file <file>', 'key file of an encrypted pool')
    .option('--keep-last <n>', 'keep the newest N points of each data source')
    .option('--keep-within <duration>', 'keep points newer than this (e.g. 5d, 12h, 2w)')
    .option('--dry-run', 'only say what would be removed')
    .option('--json', 'print the result as JSON')
    .option(RETRY_LOCK_FLAGS, RETRY_LOCK_HELP)
    .action(async (points: string[], opts: { pool: string; keyFile?: string; keepLast?: string; keepWithin?: string; dryRun?: boolean; json?: boolean; retryLock?: string }) => {
      const r = await (await load()).forgetPoints({ ...opts, points, onLockWait: lockWaitNotice(opts.retryLock) });
      if (opts.json) return printJson(r);
      for (const p of r.removed) print(`${r.dryRun ? 'would forget' : 'forgot'} ${p.id} (${p.time}, ${p.source})`);
      print(`${r.removed.length} recovery points ${r.dryRun ? 'would be ' : ''}removed, ${r.kept} kept`);
    });
}
