/**
 * `custos point create|list`: recovery points of a data source on the
 * protection server. (`custos points`, plural, lists a local storage pool.)
 */
import { api } from '../../protocol/rest/index.js';
import type { Command } from 'commander';
import { print, printJson } from '../output.js';
import { formatBytes } from '../progress.js';
import { connect, printTable, printWarnings, shortTime, withConnection, type ConnectionOptions } from '../server-cli.js';
import { reportStarted, withWait } from './job.js';

export function registerPointCommands(program: Command): void {
  const point = program.command('point').description('recovery points of a data source on the protection server');

  withConnection(
    withWait(point.command('create').description('synchronize a data source and create a recovery point now (prints the job id)').argument('<source>', 'data source id (AGENT:fs:/path)')),
  ).action(async (source: string, opts: ConnectionOptions & { wait?: boolean; timeout?: string; json?: boolean }) => {
    const client = connect(opts);
    const { warnings, ...job } = await client.call(api.createPoint, { params: { id: source } });
    printWarnings(warnings);
    await reportStarted(client, job, opts);
  });

  withConnection(
    point.command('list').description('recovery points of a data source, oldest first').argument('<source>', 'data source id (AGENT:fs:/path)').option('--json', 'print the recovery points as JSON'),
  ).action(async (source: string, opts: ConnectionOptions & { json?: boolean }) => {
    const points = await connect(opts).call(api.listPoints, { params: { id: source } });
    if (opts.json) return printJson(points);
    if (points.length === 0) return print(`no recovery points of ${source}`);
    printTable(
      ['ID', 'TIME', 'FILES', 'SIZE', 'ADDED', ''],
      points.map((p) => [p.id, shortTime(p.time), String(p.files), formatBytes(p.logicalBytes), formatBytes(p.bytesAdded), p.partial ? 'partial' : '']),
    );
  });
}
