import type { Command } from 'commander';
// Loaded when the command runs, so that every other command starts fast.
const load = () => import('../../standalone/maintenance.js');
import { EXIT } from '../exit-codes.js';
import { lockWaitNotice, print, printJson, RETRY_LOCK_FLAGS, RETRY_LOCK_HELP } from '../output.js';
import { formatBytes, ttyProgress } from '../progress.js';
import { registerServerPoolCommands, serverPoolJob } from './pool-server.js';
import { withConnection } from '../server-cli.js';

/** The options of `pool gc|verify` without DIR, which queue that job on the protection server. */
function withServerJobOptions(cmd: Command): Command {
  return withConnection(
    cmd
      .option('--wait', 'server: wait for the job to finish (status 0 succeeded, 13 failed, 15 cancelled)')
      .option('--timeout <duration>', 'server, with --wait: stop waiting after this long'),
  );
}

export function registerPoolCommands(program: Command): void {
  const pool = program
    .command('pool')
    .description('storage pools: init|verify|gc|stats DIR for a local pool (standalone); list, and gc|verify without DIR, for the protection server\'s pool');

  pool
    .command('init')
    .description('create a storage pool in an empty or new directory')
    .argument('<dir>', 'pool directory')
    .option('--encrypt', 'encrypt chunks and metadata with AES-256-GCM')
    .option('--key-file <file>', 'with --encrypt: the secret; a missing file is created with a new random key (keep a copy: without it the pool cannot be read)')
    .option('--json', 'print the result as JSON')
    .action(async (dir: string, opts: { encrypt?: boolean; keyFile?: string; json?: boolean }) => {
      const { config, keyCreated } = await (await load()).initPool(dir, opts);
      if (opts.json) return printJson({ pool: dir, id: config.id, encrypted: config.encryption !== null, keyCreated });
      print(`storage pool created in ${dir}${config.encryption ? ' (encrypted)' : ''}`);
      if (keyCreated) print(`new key written to ${opts.keyFile} — keep a copy somewhere safe: without it the pool cannot be read`);
    });

  withServerJobOptions(
    pool
      .command('verify')
      .description('re-read and re-hash every chunk; name the recovery points a damaged chunk belongs to (without DIR: a verify job of the protection server\'s whole pool)')
      .argument('[dir]', 'pool directory (none: the protection server\'s pool, through its API)')
      .option('--key-file <file>', 'key file of an encrypted pool')
      .option('--json', 'print the report as JSON')
      .option(RETRY_LOCK_FLAGS, RETRY_LOCK_HELP)
  )
    .action(async (dir: string | undefined, opts: { keyFile?: string; json?: boolean; retryLock?: string; wait?: boolean; timeout?: string; server?: string; tokenFile?: string; ca?: string }) => {
      if (dir === undefined) return serverPoolJob('verify', opts);
      const progress = ttyProgress('verify', !opts.json);
      let report;
      try {
        report = await (await load()).verify({ pool: dir, keyFile: opts.keyFile, retryLock: opts.retryLock, onLockWait: lockWaitNotice(opts.retryLock) }, progress);
      } finally {
        progress.end();
      }
      if (opts.json) printJson(report);
      else {
        print(`checked ${report.chunks} chunks (${formatBytes(report.bytes)}) in ${report.packs} packs, ${report.points} recovery points`);
        for (const o of report.damagedObjects) print(`damaged: ${o.name}: ${o.error}`);
        for (const c of report.damagedChunks) print(`damaged chunk ${c.id}${c.pack ? ` in pack ${c.pack}` : ''}: ${c.error}`);
        for (const p of report.affectedPoints) print(`affected recovery point ${p.id} (${p.time}, ${p.source}): ${p.damagedChunks} damaged chunks`);
        if (report.unindexedPacks > 0) print(`${report.unindexedPacks} packs from interrupted backups are not referenced (gc removes them)`);
        print(report.ok ? 'pool is healthy' : 'DAMAGE FOUND');
      }
      if (!report.ok) process.exitCode = EXIT.integrity;
    });

  withServerJobOptions(
    pool
      .command('gc')
      .description('delete chunks no recovery point references, and leftovers of interrupted backups (without DIR: a gc job on the protection server\'s pool)')
      .argument('[dir]', 'pool directory (none: the protection server\'s pool, through its API)')
      .option('--key-file <file>', 'key file of an encrypted pool')
      .option('--grace <duration>', 'never remove data written more recently than this', '1h')
      .option('--dry-run', 'only say what would be removed')
      .option('--json', 'print the report as JSON')
      .option(RETRY_LOCK_FLAGS, RETRY_LOCK_HELP)
  )
    .action(async (dir: string | undefined, opts: { keyFile?: string; grace?: string; dryRun?: boolean; json?: boolean; retryLock?: string; wait?: boolean; timeout?: string; server?: string; tokenFile?: string; ca?: string }) => {
      if (dir === undefined) return serverPoolJob('gc', opts);
      const report = await (await load()).gc({
        pool: dir,
        keyFile: opts.keyFile,
        grace: opts.grace,
        dryRun: opts.dryRun,
        retryLock: opts.retryLock,
        onLockWait: lockWaitNotice(opts.retryLock),
      });
      if (opts.json) return printJson(report);
      print(
        `${report.dryRun ? 'would delete' : 'deleted'} ${report.packsDeleted} packs, repacked ${report.packsRepacked}, ` +
          `removed ${report.leftoversDeleted} leftovers; ${formatBytes(report.bytesFreed)} freed; ${report.liveChunks} chunks in use by ${report.points} recovery points`,
      );
    });

  pool
    .command('stats')
    .description('logical and stored size, deduplication and compression ratios')
    .argument('<dir>', 'pool directory')
    .option('--key-file <file>', 'key file of an encrypted pool')
    .option('--json', 'print as JSON')
    .option(RETRY_LOCK_FLAGS, RETRY_LOCK_HELP)
    .action(async (dir: string, opts: { keyFile?: string; json?: boolean; retryLock?: string }) => {
      const s = await (await load()).stats({ pool: dir, keyFile: opts.keyFile, retryLock: opts.retryLock, onLockWait: lockWaitNotice(opts.retryLock) });
      if (opts.json) return printJson(s);
      print(`recovery points:   ${s.points}`);
      print(`logical size:      ${formatBytes(s.logicalBytes)}`);
      print(`unique data:       ${formatBytes(s.uniqueBytes)} in ${s.chunks} chunks`);
      print(`stored size:       ${formatBytes(s.storedBytes)} in ${s.packs} packs${s.encrypted ? ' (encrypted)' : ''}`);
      print(`dedup ratio:       ${s.dedupRatio}x`);
      print(`compression ratio: ${s.compressionRatio}x`);
    });

  registerServerPoolCommands(pool);
}
