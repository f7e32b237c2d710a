/** `custos recover`: recover a recovery point (or items of it) to a directory on any attached protection agent. */
import { api, ORIGINAL_TARGET } from '../../protocol/rest/index.js';
import { CONFLICT_MODES, SECURITY_MODES, type ConflictModeName, type SecurityModeName } from '../../protocol/index.js';
import { CONFLICT_HELP, SECURITY_HELP, THROTTLE_HELP } from './restore-options.js';
import { Option, type Command } from 'commander';
import { checkPointRef, CustosError, systemClock, type ErrorCode } from '../../base/index.js';
import { collect } from '../output.js';
import { parsePointTime } from '../point-time.js';
import { connect, withConnection, type ConnectionOptions } from '../server-cli.js';
import { reportStarted, withWait } from './job.js';
import { downloadRecovery, parseRecoveryTarget } from './recover-targets.js';

export function registerRecoverCommand(program: Command): void {
  withConnection(
    withWait(
      program
        .command('recover')
        .description('recover a recovery point, or items of it, to its original location, a directory on an attached protection agent or on the protection server (prints the job id), or download it as an archive')
        .argument('<source>', 'data source id (AGENT:fs:/path or AGENT:postgres:PORT)')
        .option('--point <id>', 'recovery point id or its first 4+ hex digits, or "latest" (see custos point list)')
        .option('--at <time>', 'the newest recovery point at or before TIME: 2026-12-01T17:00 (local unless an offset is given), "yesterday 17:00", "today 08:00" or latest')
        .requiredOption('--to <target>', 'target: original (the data source\'s own agent and path); AGENT:/absolute/path; download:FILE.tar|.tar.zst|.zip (an archive written here); server:/path (a folder under a --recovery-dir of the protection server)')
        .option('--item <path>', 'recover only this file or directory: a path inside the data source, absolute or relative to it; repeatable (each must be in the point)', collect)
        .addOption(new Option('--conflict <mode>', CONFLICT_HELP).choices(CONFLICT_MODES))
        .addOption(new Option('--security <mode>', SECURITY_HELP).choices(SECURITY_MODES))
        .option('--throttle <rate>', THROTTLE_HELP, collect)
        .option('--allow-system-target', 'admin only: allow / or a system directory (/etc, /usr, …) as the target')
        .option('--notify <address>', 'mail this address when the recovery has finished (what, where, the outcome and the counts); repeatable, at most 5; needs custos server notify smtp', collect)
        .option('--paused', 'PostgreSQL points: the recovered cluster stops at the point, read-only, for you to look at it, instead of promoting there')
        .option('--data-dir <dir>', 'PostgreSQL points, with --to AGENT:postgres:PORT: the new or empty folder on that agent the new instance is recovered into (its data directory is DIR/data)')
        .option('--force', 'download: replace FILE when it exists'),
    ),
  ).action(async (source: string, opts: ConnectionOptions & { point?: string; at?: string; to: string; item?: string[]; conflict?: ConflictModeName; security?: SecurityModeName; throttle?: string[]; allowSystemTarget?: boolean; notify?: string[]; paused?: boolean; dataDir?: string; force?: boolean; wait?: boolean; timeout?: string; json?: boolean }) => {
    const choice = chooseRecoveryPoint(opts, systemClock.now());
    const target = parseRecoveryTarget(opts.to);
    if (target.kind === 'download') {
      if (opts.conflict !== undefined || opts.security !== undefined || opts.throttle !== undefined || opts.allowSystemTarget || opts.notify !== undefined || opts.paused || opts.dataDir !== undefined) {
        throw new CustosError('usage', '--conflict, --security, --throttle, --allow-system-target, --notify, --paused and --data-dir do not apply to a download (--force replaces an existing FILE)');
      }
      const client = connect(opts);
      const which = 'latest' in choice ? { point: await newestPoint(client, source) } : choice;
      return downloadRecovery(client, source, which, target, { items: opts.item, force: opts.force, json: opts.json });
    }
    const instance = /^[^:/]+:postgres:[0-9]{1,5}$/.test(opts.to);
    if (target.kind === 'agent' && opts.to !== ORIGINAL_TARGET && !/^[^:/]+:\//.test(opts.to) && !instance) {
      throw new CustosError('usage', `--to must be original, AGENT:/absolute/path, download:FILE.tar|.tar.zst|.zip, server:/path, or (a PostgreSQL point) AGENT:postgres:PORT with --data-dir, e.g. laptop:/home/ann/restored (got ${opts.to})`);
    }
    if (instance && (opts.dataDir === undefined || !opts.dataDir.startsWith('/'))) throw new CustosError('usage', `a new instance (--to ${opts.to}) needs --data-dir /absolute/folder on that agent`);
    if (!instance && opts.dataDir !== undefined) throw new CustosError('usage', '--data-dir goes with --to AGENT:postgres:PORT (a new instance); for a folder, give it in --to AGENT:/path');
    const client = connect(opts);
    // A PostgreSQL cluster's latest is more than its newest point: the server reads the log not yet synchronized first.
    const which = 'latest' in choice ? { point: /^[^:]+:postgres:/.test(source) ? 'latest' : await newestPoint(client, source) } : choice;
    const job = await client.call(api.recover, { body: {
      source,
      ...which,
      to: opts.to,
      ...(opts.item !== undefined ? { items: opts.item } : {}),
      ...(opts.conflict !== undefined ? { conflict: opts.conflict } : {}),
      ...(opts.security !== undefined ? { security: opts.security } : {}),
      ...(opts.throttle !== undefined ? { throttle: opts.throttle } : {}),
      ...(opts.allowSystemTarget ? { allowSystemTarget: true } : {}),
      ...(opts.notify !== undefined ? { notify: opts.notify } : {}),
      ...(opts.paused ? { paused: true } : {}),
      ...(opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {}),
    } });
    await reportStarted(client, job, opts, RECOVERY_FAILURE_CODES);
  });
}

/**
 * Failures of a recovery job that `--wait` reports with their own status, as
 * `restore` does: the target is not a directory (16), an item or the point
 * is missing (4), a system target refused (12), a link in the target (8).
 */
const RECOVERY_FAILURE_CODES: readonly ErrorCode[] = ['bad-target', 'not-found', 'denied', 'unsafe-path'];

/** What the command line names: the newest point (found here), a point id, or a time (the server finds its point). */
type Choice = { latest: true } | { point: string } | { at: string };

function chooseRecoveryPoint(opts: { point?: string; at?: string }, now: Date): Choice {
  if ((opts.point === undefined) === (opts.at === undefined)) throw new CustosError('usage', 'choose the recovery point with exactly one of --point ID|latest and --at TIME');
  if (opts.at !== undefined) {
    const t = parsePointTime(opts.at, now);
    return t.latest ? { latest: true } : { at: t.at };
  }
  return opts.point === 'latest' ? { latest: true } : { point: checkPointRef(opts.point!) };
}

async function newestPoint(client: ReturnType<typeof connect>, source: string): Promise<string> {
  const newest = (await client.call(api.listPoints, { params: { id: source } })).at(-1);
  if (newest === undefined) throw new CustosError('not-found', `${source} has no recovery points`);
  return newest.id;
}
