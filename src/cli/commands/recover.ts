/** `custos recover`: recover a recovery point (or items of it) to a directory on any attached protection agent. */
import { api } from '../../protocol/rest/index.js';
import { Option, type Command } from 'commander';
import { CustosError, systemClock } from '../../base/index.js';
import { collect } from '../output.js';
import { parsePointTime } from '../point-time.js';
import { connect, withConnection, type ConnectionOptions } from '../server-cli.js';
import { reportStarted, withWait } from './job.js';

export function registerRecoverCommand(program: Command): void {
  withConnection(
    withWait(
      program
        .command('recover')
        .description('recover a recovery point, or items of it, to a directory on an attached protection agent (prints the job id)')
        .argument('<source>', 'data source id (AGENT:fs:/path)')
        .option('--point <id>', 'recovery point id, or "latest" (see custos point list)')
        .option('--at <time>', 'the newest recovery point at or before TIME: 2026-12-01T17:00 (local unless an offset is given), "yesterday 17:00", "today 08:00" or latest')
        .requiredOption('--to <agent:path>', 'target: AGENT:/absolute/path (the original location or any other)')
        .option('--item <path>', 'recover only this file or directory (path inside the data source); repeatable', collect)
        .addOption(new Option('--conflict <mode>', 'when an item exists at the target').choices(['overwrite', 'skip', 'keep-both']))
        .option('--allow-system-target', 'admin only: allow / or a system directory (/etc, /usr, …) as the target'),
    ),
  ).action(async (source: string, opts: ConnectionOptions & { point?: string; at?: string; to: string; item?: string[]; conflict?: string; allowSystemTarget?: boolean; wait?: boolean; timeout?: string; json?: boolean }) => {
    if ((opts.point === undefined) === (opts.at === undefined)) throw new CustosError('usage', 'choose the recovery point with exactly one of --point ID|latest and --at TIME');
    const chosen = opts.at !== undefined ? parsePointTime(opts.at, systemClock.now()) : opts.point === 'latest' ? { latest: true as const } : undefined;
    if (!/^[^:/]+:\//.test(opts.to)) throw new CustosError('usage', `--to must be AGENT:/absolute/path, e.g. laptop:/home/ann/restored (got ${opts.to})`);
    const client = connect(opts);
    let which: { point: string } | { at: string };
    if (chosen?.latest) {
      const points = await client.call(api.listPoints, { params: { id: source } });
      const newest = points.at(-1);
      if (newest === undefined) throw new CustosError('not-found', `${source} has no recovery points`);
      which = { point: newest.id };
    } else {
      which = chosen ? { at: chosen.at } : { point: opts.point! };
    }
    const job = await client.call(api.recover, { body: {
      source,
      ...which,
      to: opts.to,
      ...(opts.item !== undefined ? { items: opts.item } : {}),
      ...(opts.conflict !== undefined ? { conflict: opts.conflict as 'overwrite' | 'skip' | 'keep-both' } : {}),
      ...(opts.allowSystemTarget ? { allowSystemTarget: true } : {}),
    } });
    await reportStarted(client, job, opts);
  });
}
