/** `custos recover`: recover a recovery point (or items of it) to a directory on any attached protection agent. */
import { api } from '../../protocol/rest/index.js';
import { Option, type Command } from 'commander';
import { CustosError } from '../../base/index.js';
import { collect } from '../output.js';
import { connect, withConnection, type ConnectionOptions } from '../server-cli.js';
import { reportStarted, withWait } from './job.js';

export function registerRecoverCommand(program: Command): void {
  withConnection(
    withWait(
      program
        .command('recover')
        .description('recover a recovery point, or items of it, to a directory on an attached protection agent (prints the job id)')
        .argument('<source>', 'data source id (AGENT:fs:/path)')
        .requiredOption('--point <id>', 'recovery point id, or "latest" (see custos point list)')
        .requiredOption('--to <agent:path>', 'target: AGENT:/absolute/path (the original location or any other)')
        .option('--item <path>', 'recover only this file or directory (path inside the data source); repeatable', collect)
        .addOption(new Option('--conflict <mode>', 'when an item exists at the target').choices(['overwrite', 'skip', 'keep-both']))
        .option('--allow-system-target', 'admin only: allow / or a system directory (/etc, /usr, …) as the target'),
    ),
  ).action(async (source: string, opts: ConnectionOptions & { point: string; to: string; item?: string[]; conflict?: string; allowSystemTarget?: boolean; wait?: boolean; timeout?: string; json?: boolean }) => {
    if (!/^[^:/]+:\//.test(opts.to)) throw new CustosError('usage', `--to must be AGENT:/absolute/path, e.g. laptop:/home/ann/restored (got ${opts.to})`);
    const client = connect(opts);
    let point = opts.point;
    if (point === 'latest') {
      const points = await client.call(api.listPoints, { params: { id: source } });
      const newest = points.at(-1);
      if (newest === undefined) throw new CustosError('not-found', `${source} has no recovery points`);
      point = newest.id;
    }
    const job = await client.call(api.recover, { body: {
      source,
      point,
      to: opts.to,
      ...(opts.item !== undefined ? { items: opts.item } : {}),
      ...(opts.conflict !== undefined ? { conflict: opts.conflict as 'overwrite' | 'skip' | 'keep-both' } : {}),
      ...(opts.allowSystemTarget ? { allowSystemTarget: true } : {}),
    } });
    await reportStarted(client, job, opts);
  });
}
