/** `custos sync` and `custos check`: start a synchronization or a consistency check of a data source now. */
import { api } from '../../protocol/rest/index.js';
import type { Command } from 'commander';
import { connect, withConnection, type ConnectionOptions } from '../server-cli.js';
import { reportStarted, withWait } from './job.js';

type Opts = ConnectionOptions & { wait?: boolean; timeout?: string; json?: boolean };

export function registerSyncCommands(program: Command): void {
  withConnection(
    withWait(program.command('sync').description('synchronize a data source now (prints the job id)').argument('<source>', 'data source id (AGENT:fs:/path)')),
  ).action(async (source: string, opts: Opts) => {
    const client = connect(opts);
    await reportStarted(client, await client.call(api.syncNow, { params: { id: source } }), opts);
  });

  withConnection(
    withWait(
      program
        .command('check')
        .description('run a consistency check of a data source now: compare replica and source, re-send what differs (prints the job id)')
        .argument('<source>', 'data source id (AGENT:fs:/path)'),
    ),
  ).action(async (source: string, opts: Opts) => {
    const client = connect(opts);
    await reportStarted(client, await client.call(api.checkNow, { params: { id: source } }), opts);
  });
}
