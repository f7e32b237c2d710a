import type { Command } from 'commander';
// Loaded when the command runs, so that every other command starts fast.
const load = () => import('../../standalone/backup.js');
import { collect, lockWaitNotice, print, printJson, RETRY_LOCK_FLAGS, RETRY_LOCK_HELP } from '../output.js';
import { formatBytes, ttyProgress } from '../progress.js';
import { EXIT } from '../exit-codes.js';

export function registerBackupCommand(program: Command): void {
  program
    .command('backup')
    .description('protect a directory into a storage pool, creating a recovery point')
    .argument('<path>', 'directory to protect')
    .requiredOption('--pool <dir>', 'storage pool directory')
    .option('--key-file <file>', 'key file of an encrypted pool')
    .option('--exclude <glob>', "leave out matching items ('*.mp3', 'cache/', 'build/**'); repeatable", collect, [])
    .option('--json', 'print the summary as JSON')
    .option(RETRY_LOCK_FLAGS, RETRY_LOCK_HELP)
    .action(async (path: string, opts: { pool: string; keyFile?: string; exclude: string[]; json?: boolean; retryLock?: string }) => {
      const progress = ttyProgress('backup', !opts.json);
      let report;
      try {
        report = await (await load()).backupToPool(path, {
          pool: opts.pool,
          keyFile: opts.keyFile,
          excludes: opts.exclude,
          progress,
          retryLock: opts.retryLock,
          onLockWait: lockWaitNotice(opts.retryLock),
        });
      } finally {
        progress.end();
      }
      if (opts.json) {
        printJson(report);
      } else {
        print(`recovery point ${report.point} created${report.partial ? ' (partial)' : ''}`);
        print(`files: ${report.filesNew} new, ${report.filesChanged} changed, ${report.filesUnchanged} unchanged; ${report.dirs} directories`);
        print(`read ${formatBytes(report.bytesRead)}, added ${formatBytes(report.bytesAdded)} to the pool in ${(report.durationMs / 1000).toFixed(1)} s`);
        for (const e of report.errors) print(`could not read ${e.path}: ${e.message}`);
        for (const p of report.changedDuringRead) print(`changed while being read (kept as read): ${p}`);
      }
      if (report.partial) process.exitCode = EXIT.partial;
    });
}
