/**
 * `custos group create|list|show|update|delete`: protection groups, the
 * policy (retention, synchronization, recovery point schedule, exclusions,
 * replica creation, consistency check) and the data sources it applies to.
 */
import { api, formatDuration } from '../../protocol/rest/index.js';
import type { Command } from 'commander';
import { CustosError } from '../../base/index.js';
import type { GroupUpdate, ProtectionGroup } from '../client.js';
import { collect, print, printJson } from '../output.js';
import { connect, printFields, printTable, printWarnings, shortTime, withConnection, type ConnectionOptions } from '../server-cli.js';

interface PolicyOptions {
  source?: string[];
  retention?: string;
  sync?: string;
  points?: string;
  days?: string;
  exclude?: string[];
  replica?: string;
  check?: string;
  endUserRecovery?: string;
  rpoTarget?: string;
  rtoTarget?: string;
}

const ALL_DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

function withPolicyOptions(cmd: Command): Command {
  return cmd
    .option('--source <id...>', 'data source id (AGENT:fs:/path, or AGENT:postgres:PORT for a PostgreSQL cluster: custos source discover AGENT lists them); repeatable, several may follow one --source')
    .option('--retention <days>', 'retention range: each recovery point stays on disk at least this long, 1d to 448d (or 2w) [5d]; a change prunes at once')
    .option('--sync <interval>', 'synchronization frequency: 15m, 30m, 1h, 2h, 4h, 6h, 12h or 24h [15m]')
    .option('--points <times>', 'recovery point times, up to 8 a day, e.g. 08:00,12:00,20:00 [20:00]')
    .option('--days <days>', 'weekdays of the recovery points, e.g. mon,tue,wed,thu,fri [every day]')
    .option('--exclude <glob>', "leave out matching items ('*.mp3', 'node_modules', 'cache/**'); repeatable", collect)
    .option('--replica <when>', 'replica creation: now, later@HH:MM or manual [now]')
    .option('--check <when>', 'consistency check: auto, daily@HH:MM or auto,daily@HH:MM [auto]')
    .option('--end-user-recovery <on|off>', 'people logged into the protected computers recover files they could read themselves (custos my) [off]')
    .option('--rpo-target <duration>', "SLA: the longest acceptable recovery point objective, e.g. 1h or 1d ('none' clears it); the SLA report measures against it")
    .option('--rto-target <duration>', "SLA: the longest acceptable recovery time, e.g. 4h ('none' clears it)");
}

/** "5d" → 5, "2w" → 14, "5" → 5; anything else goes to the server as typed, which explains what is wrong. */
function toDays(v: string): string | number {
  const m = /^(\d+)\s*(d|w)?$/.exec(v.trim());
  return m ? Number(m[1]) * (m[2] === 'w' ? 7 : 1) : v;
}

/** "15m" → 15, "1h" → 60, "1d" → 1440, "15" → 15; anything else goes to the server as typed. */
function toMinutes(v: string): string | number {
  const m = /^(\d+)\s*(m|h|d)?$/.exec(v.trim());
  return m ? Number(m[1]) * (m[2] === 'h' ? 60 : m[2] === 'd' ? 1440 : 1) : v;
}

function policyInput(o: PolicyOptions): GroupUpdate {
  const input: { -readonly [K in keyof GroupUpdate]: GroupUpdate[K] } = {};
  if (o.source !== undefined) input.sources = o.source;
  if (o.retention !== undefined) input.retention = toDays(o.retention);
  if (o.sync !== undefined) input.sync = toMinutes(o.sync);
  if (o.points !== undefined) input.points = o.points;
  if (o.days !== undefined) input.days = o.days;
  if (o.exclude !== undefined) input.excludes = o.exclude;
  if (o.replica !== undefined) input.replica = o.replica;
  if (o.check !== undefined) input.check = o.check;
  if (o.endUserRecovery !== undefined) {
    if (o.endUserRecovery !== 'on' && o.endUserRecovery !== 'off') throw new CustosError('usage', `--end-user-recovery takes on or off, not ${JSON.stringify(o.endUserRecovery)}`);
    input.endUserRecovery = o.endUserRecovery === 'on';
  }
  if (o.rpoTarget !== undefined) input.rpoTarget = o.rpoTarget === 'none' ? null : o.rpoTarget;
  if (o.rtoTarget !== undefined) input.rtoTarget = o.rtoTarget === 'none' ? null : o.rtoTarget;
  return input;
}

function schedule(g: ProtectionGroup): string {
  const days = g.days.length === 7 && ALL_DAYS.every((d) => g.days.includes(d)) ? 'every day' : g.days.join(',');
  return `${g.pointTimes.join(',')} ${days}`;
}

function every(minutes: number): string {
  return minutes % 60 === 0 ? `${minutes / 60} h` : `${minutes} min`;
}

function showGroup(g: ProtectionGroup): void {
  printFields([
    ['name', g.name],
    ['data sources', g.sources.length > 0 ? g.sources.join(', ') : '-'],
    ['retention', `${g.retentionDays} days`],
    ['synchronization', `every ${every(g.syncMinutes)}`],
    ['recovery points', schedule(g)],
    ['exclusions', g.excludes.length > 0 ? g.excludes.join(' ') : '-'],
    ['replica creation', g.replica],
    ['consistency check', g.check],
    ['end-user recovery', g.endUserRecovery ? 'on' : 'off'],
    ['RPO target', g.rpoTargetMinutes === null ? '-' : formatDuration(g.rpoTargetMinutes * 60_000)],
    ['RTO target', g.rtoTargetMinutes === null ? '-' : formatDuration(g.rtoTargetMinutes * 60_000)],
    ['created', shortTime(g.createdAt)],
  ]);
}

export function registerGroupCommands(program: Command): void {
  const group = program.command('group').description('protection groups: what is protected and how');

  withConnection(withPolicyOptions(group.command('create').description('create a protection group').argument('<name>', 'group name')).option('--json', 'print {group, warnings} as JSON')).action(
    async (name: string, opts: ConnectionOptions & PolicyOptions & { json?: boolean }) => {
      if (!opts.source || opts.source.length === 0) throw new CustosError('usage', 'a protection group needs members: --source ID (see custos source list)');
      const r = await connect(opts).call(api.createGroup, { body: { ...policyInput(opts), name, sources: opts.source } });
      printWarnings(r.warnings);
      if (opts.json) return printJson(r);
      print(`protection group ${r.group.name} created with ${r.group.sources.length} data source${r.group.sources.length === 1 ? '' : 's'}`);
      showGroup(r.group);
    },
  );

  withConnection(group.command('list').description('protection groups and their policy in short').option('--json', 'print the groups as JSON')).action(
    async (opts: ConnectionOptions & { json?: boolean }) => {
      const groups = await connect(opts).call(api.listGroups);
      if (opts.json) return printJson(groups);
      if (groups.length === 0) return print('no protection groups');
      printTable(
        ['NAME', 'SOURCES', 'RETENTION', 'SYNC', 'RECOVERY POINTS', 'END-USER RECOVERY'],
        groups.map((g) => [g.name, String(g.sources.length), `${g.retentionDays} days`, every(g.syncMinutes), schedule(g), g.endUserRecovery ? 'on' : 'off']),
      );
    },
  );

  withConnection(group.command('show').description('every setting of a protection group').argument('<name>', 'group name').option('--json', 'print the group as JSON')).action(
    async (name: string, opts: ConnectionOptions & { json?: boolean }) => {
      const g = await connect(opts).call(api.getGroup, { params: { name } });
      if (opts.json) return printJson(g);
      showGroup(g);
    },
  );

  withConnection(
    withPolicyOptions(group.command('update').description('change settings or members of a protection group (only what is given changes)').argument('<name>', 'group name'))
      .option('--add-source <id...>', 'add data sources; repeatable')
      .option('--remove-source <id...>', 'remove data sources (their recovery points are kept); repeatable')
      .option('--no-excludes', 'remove every exclusion')
      .option('--json', 'print {group, warnings} as JSON'),
  ).action(async (name: string, opts: ConnectionOptions & PolicyOptions & { addSource?: string[]; removeSource?: string[]; excludes: boolean; json?: boolean }) => {
    const input = policyInput(opts);
    if (!opts.excludes) {
      if (opts.exclude !== undefined) throw new CustosError('usage', '--exclude and --no-excludes contradict each other');
      input.excludes = [];
    }
    if (opts.addSource !== undefined) input.addSources = opts.addSource;
    if (opts.removeSource !== undefined) input.removeSources = opts.removeSource;
    if (Object.keys(input).length === 0) throw new CustosError('usage', 'nothing to change: give at least one setting (see custos group update --help)');
    const r = await connect(opts).call(api.updateGroup, { params: { name }, body: input });
    printWarnings(r.warnings);
    if (opts.json) return printJson(r);
    print(`protection group ${r.group.name} updated`);
    showGroup(r.group);
  });

  withConnection(
    group
      .command('delete')
      .description('delete a protection group; its data sources become unprotected')
      .argument('<name>', 'group name')
      .option('--keep-points', 'keep the recovery points (until removed by hand)')
      .option('--delete-points', 'delete the recovery points of its data sources')
      .option('--json', 'print the answer as JSON'),
  ).action(async (name: string, opts: ConnectionOptions & { keepPoints?: boolean; deletePoints?: boolean; json?: boolean }) => {
    if (Boolean(opts.keepPoints) === Boolean(opts.deletePoints)) {
      throw new CustosError('usage', 'say what happens to the recovery points: exactly one of --keep-points or --delete-points');
    }
    const points = opts.keepPoints ? 'keep' : 'delete';
    const r = await connect(opts).call(api.deleteGroup, { params: { name }, query: { points } });
    if (opts.json) return printJson(r);
    print(`protection group ${r.deleted} deleted; ${points === 'keep' ? 'recovery points kept' : `${r.recoveryPointsDeleted} recovery points and ${r.replicaOnlyPointsDeleted} replica-only points (left by synchronizations) deleted`}`);
  });
}
