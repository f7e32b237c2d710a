import { Option, type Command } from 'commander';
import { CONFLICT_MODES, SECURITY_MODES } from '../../protocol/index.js';
import { CONFLICT_HELP, SECURITY_HELP, THROTTLE_HELP } from './restore-options.js';
// Loaded when the command runs, so that every other command starts fast.
const load = () => import('../../standalone/restore.js');
import { EXIT } from '../exit-codes.js';
import { collect, lockWaitNotice, print, printJson, RETRY_LOCK_FLAGS, RETRY_LOCK_HELP } from '../output.js';
import { formatBytes, ttyProgress } from '../progress.js';

export function registerRestoreCommand(program: Command): void {
  program
    .command('restore')
    .description('recover a recovery point, or items of it, into a target directory')
    .argument('<point>', 'recovery point id (or a unique prefix), or "latest"')
    .argument('<target>', 'directory to restore into (created when missing; a file is refused, status 16)')
    .requiredOption('--pool <dir>', 'storage pool directory')
    .option('--key-file <file>', 'key file of an encrypted pool')
    .option('--item <path>', 'restore only this file or directory: a path inside the protected directory, absolute or relative to it; repeatable (each must be in the point)', collect, [])
    .addOption(new Option('--conflict <mode>', CONFLICT_HELP).choices(CONFLICT_MODES))
    .addOption(new Option('--security <mode>', SECURITY_HELP).choices(SECURITY_MODES))
    .option('--throttle <rate>', THROTTLE_HELP, collect)
    .option('--json', 'print the result as JSON')
    .option(RETRY_LOCK_FLAGS, RETRY_LOCK_HELP)
    .action(async (point: string, target: string, opts: { pool: string; keyFile?: string; item: string[]; conflict?: string; security?: string; throttle?: string[]; json?: boolean; retryLock?: string }) => {
      const progress = ttyProgress('restore', !opts.json);
      let r;
      try {
        r = await (await load()).restoreFromPool(point, target, {
          pool: opts.pool,
          keyFile: opts.keyFile,
          items: opts.item,
          conflict: opts.conflict,
          security: opts.security,
          throttle: opts.throttle,
          progress,
          retryLock: opts.retryLock,
          onLockWait: lockWaitNotice(opts.retryLock),
        });
      } finally {
        progress.end();
      }
      if (opts.json) printJson(r);
      else {
        print(`restored ${r.files} files (${formatBytes(r.bytes)}), ${r.dirs} directories, ${r.others} other items from ${r.point} into ${r.target}`);
        if (r.identical > 0) print(`${r.identical} items were already identical at the target: not rewritten`);
        if (r.copies > 0) print(`${r.copies} of the files were written beside a different existing file (keep-both: NAME.restored, NAME.restored-2, …)`);
        for (const p of r.skippedItems) print(`not restored: ${p}: a different item exists at the target (--conflict skip)`);
        for (const w of r.warnings) print(`warning: ${w}`);
        for (const e of r.errors) process.stderr.write(`custos: could not restore ${e.path}: ${e.message}\n`);
      }
      if (r.damaged) {
        process.stderr.write('custos: restore incomplete: damaged or missing data in the pool (run custos pool verify)\n');
        process.exitCode = EXIT.integrity;
      } else if (r.errors.length > 0) {
        process.exitCode = EXIT.partial;
      }
    });
}
