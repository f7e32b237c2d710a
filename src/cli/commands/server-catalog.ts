/**
 * `custos server catalog backup|list|restore` and `custos server resync`.
 * `backup` asks the running server (POST /api/catalog/backups, a
 * catalog-backup job); the others work on the data directory with the
 * server stopped (docs/user-guide.md, "When the catalog is lost").
 */
import type { Command } from 'commander';
import { api } from '../../protocol/rest/index.js';
import { print, printJson } from '../output.js';
import { formatBytes } from '../progress.js';
import { connect, printTable, shortTime, withConnection, type ConnectionOptions } from '../server-cli.js';
import { reportStarted, withWait } from './job.js';

// Loaded when a command runs, so that every other command starts fast.
const load = () => import('../../server/index.js');
type ResyncReport = import('../../server/index.js').ResyncReport;

export function registerServerCatalogCommands(server: Command): void {
  const catalog = server.command('catalog').description('Back up and restore the protection server catalog');

  withWait(withConnection(catalog.command('backup').description('Take a catalog backup now (a catalog-backup job on the running server)'))).action(
    async (opts: ConnectionOptions & { wait?: boolean; timeout?: string; json?: boolean }) => {
      const client = connect(opts);
      await reportStarted(client, await client.call(api.catalogBackup), opts);
    },
  );

  catalog
    .command('list')
    .description('The catalog backups in the storage pool of a data directory, newest first')
    .requiredOption('--data <dir>', 'server data directory')
    .option('--json', 'print the backups as JSON')
    .action(async (opts: { data: string; json?: boolean }) => {
      const backups = await (await load()).listCatalogBackups(opts.data);
      if (opts.json) return printJson(backups);
      if (backups.length === 0) return print('no catalog backups');
      printTable(['ID', 'TAKEN', 'SIZE'], backups.map((b) => [b.id, shortTime(b.time), formatBytes(b.storedBytes)]));
    });

  catalog
    .command('restore')
    .description('With the server stopped: replace the catalog with a backup from the pool (the current one is kept aside), then resync it with the pool')
    .argument('[backup-id]', 'backup id or unique prefix (default: the newest)', 'latest')
    .requiredOption('--data <dir>', 'server data directory')
    .option('--no-resync', 'do not reconcile the restored catalog with the pool (run custos server resync later)')
    .option('--json', 'print what was done as JSON')
    .action(async (ref: string, opts: { data: string; resync: boolean; json?: boolean }) => {
      const r = await (await load()).restoreCatalog(opts.data, ref, { resync: opts.resync });
      if (opts.json) return printJson(r);
      print(`catalog restored from backup ${r.restored.id} (taken ${shortTime(r.restored.time)}, ${r.restored.reason})`);
      if (r.setAside) print(`the catalog it replaced is kept as ${r.setAside}`);
      if (r.resync) printResync(r.resync, (await load()).changedSomething(r.resync));
      else print(`not resynchronized: run custos server resync --data ${opts.data} before starting the server`);
    });

  server
    .command('resync')
    .description('With the server stopped: reconcile the catalog with the storage pool and the CA issuance record (after a restore)')
    .requiredOption('--data <dir>', 'server data directory')
    .option('--json', 'print what changed as JSON')
    .action(async (opts: { data: string; json?: boolean }) => {
      const { resyncServerCatalog, changedSomething } = await load();
      const r = await resyncServerCatalog(opts.data);
      if (opts.json) return printJson(r);
      printResync(r, changedSomething(r));
    });
}

function printResync(r: ResyncReport, changed: boolean): void {
  const lines: string[] = [];
  for (const p of r.pointsRegistered) lines.push(`registered recovery point ${p.id} of ${p.source} (${shortTime(p.time)}), found in the pool`);
  for (const p of r.pointsDropped) lines.push(`dropped recovery point ${p.id} of ${p.source} (${shortTime(p.time)}): no longer in the pool`);
  for (const s of r.sourcesAdded) lines.push(`added data source ${s}: only the pool knew it; it is in no protection group (unprotected)`);
  for (const s of r.replicasInconsistent) lines.push(`replica of ${s} marked inconsistent: a consistency check will run`);
  for (const id of r.jobsInterrupted) lines.push(`job ${id} marked interrupted (it was running when the backup was taken)`);
  for (const id of r.recoveriesCancelled) lines.push(`recovery job ${id} cancelled (asked before the catalog was lost; ask again if still needed)`);
  for (const a of r.agentsRegistered) lines.push(`agent ${a} registered again from the CA issuance record`);
  for (const a of r.agentsUpdated) lines.push(`agent ${a}: its newer certificate from the CA issuance record is now the one accepted`);
  for (const a of r.agentsRevoked) lines.push(`agent ${a}: revoked, as the CA issuance record says`);
  if (r.enrollmentTokensUsed > 0) lines.push(`${r.enrollmentTokensUsed} enrollment token(s) marked used`);
  for (const u of r.unreadablePoints) lines.push(`warning: ${u.name} left alone: ${u.error}`);
  for (const p of r.issuanceProblems) lines.push(`warning: ${p}`);
  if (!changed) lines.unshift('resync: the catalog already matched the pool; nothing changed');
  for (const l of lines) print(l);
}
