/** `custos source list|show|discover|remove|allocate`: the data sources of attached protection agents and their protection status. */
import { CustosError, parseSize } from '../../base/index.js';
import { api } from '../../protocol/rest/index.js';
import type { Command } from 'commander';
import type { DataSource } from '../client.js';
import { print, printJson } from '../output.js';
import { formatBytes } from '../progress.js';
import { connect, printFields, printTable, shortTime, withConnection, type ConnectionOptions } from '../server-cli.js';

function allocation(s: DataSource): string {
  return `${formatBytes(s.usedBytes)} / ${formatBytes(s.allocationBytes)}`;
}

export function registerSourceCommands(program: Command): void {
  const source = program.command('source').description('data sources of the attached protection agents');

  withConnection(source.command('list').description('every data source: group, replica state, newest recovery point, last synchronization, disk allocation').option('--json', 'print the data sources as JSON')).action(
    async (opts: ConnectionOptions & { json?: boolean }) => {
      const sources = await connect(opts).call(api.listSources);
      if (opts.json) return printJson(sources);
      if (sources.length === 0) return print('no data sources (attach a protection agent first: custos agent token)');
      printTable(
        ['ID', 'GROUP', 'REPLICA', 'NEWEST POINT', 'POINTS', 'LAST SYNC', 'ALLOCATION'],
        sources.map((s) => [s.id, s.group ?? '-', s.replicaState, shortTime(s.newestPoint), String(s.recoveryPoints), shortTime(s.lastSynchronized), allocation(s)]),
      );
    },
  );

  withConnection(
    source.command('discover').description("what an agent's computer holds that can be protected: its file systems and PostgreSQL clusters").argument('<agent>', 'agent name')
      .option('--json', 'print what was found as JSON'),
  ).action(async (agent: string, opts: ConnectionOptions & { json?: boolean }) => {
    const r = await connect(opts).call(api.discoverAgent, { params: { name: agent } });
    if (opts.json) return printJson(r);
    print(`file systems on ${r.agent} (protect a folder as ${r.agent}:fs:/path):`);
    printTable(['MOUNT POINT', 'TYPE', 'DEVICE', 'USED', 'SIZE'], r.fileSystems.map((f) => [f.mountPoint, f.type, f.device, formatBytes(f.usedBytes), formatBytes(f.sizeBytes)]));
    print('');
    if (r.instances.length === 0) print(`no PostgreSQL clusters found on ${r.agent} (looked through the sockets in /var/run/postgresql, /tmp and each --pg-socket-dir of custos agent start)`);
    else {
      print(`PostgreSQL clusters on ${r.agent}:`);
      printTable(
        ['ID', 'VERSION', 'STATE', 'DATA DIRECTORY', 'SIZE', 'OWNER', 'PROTECTABLE'],
        r.instances.map((i) => [i.id, `${i.version}${i.name ? ` (${i.name})` : ''}`, i.state, i.dataDirectory, formatBytes(i.sizeBytes), i.owner, i.protectable ? (i.why ? `yes: ${i.why}` : 'yes') : `no: ${i.why ?? ''}`]),
      );
    }
    for (const p of r.problems) print(`not a cluster: ${p.path}: ${p.why}`);
  });

  withConnection(
    source.command('remove').description('remove a data source that is in no protection group (its computer or folder is gone)').argument('<id>', 'data source id (AGENT:fs:/path)')
      .option('--delete-points', 'delete its recovery points too (without it, a data source that has any is kept)')
      .option('--json', 'print what was removed as JSON'),
  ).action(async (id: string, opts: ConnectionOptions & { deletePoints?: boolean; json?: boolean }) => {
    const r = await connect(opts).call(api.removeSource, { params: { id }, query: { points: opts.deletePoints ? 'delete' : 'keep' } });
    if (opts.json) return printJson(r);
    const n = r.recoveryPointsDeleted;
    print(`removed ${r.removed}${n > 0 ? ` and its ${n} recovery point${n === 1 ? '' : 's'} (the pool frees their space at its next garbage collection)` : ''}`);
  });

  withConnection(
    source.command('allocate').description("set or grow a data source's disk allocation (its quota in the storage pool)").argument('<id>', 'data source id (AGENT:fs:/path)')
      .option('--size <size>', 'the new allocation: 500GiB, 2TB, … (not below what it uses)')
      .option('--grow', 'grow it as auto-grow does: the larger of 1.25 × the allocation and what is used / 0.75')
      .option('--json', 'print the data source as JSON'),
  ).action(async (id: string, opts: ConnectionOptions & { size?: string; grow?: boolean; json?: boolean }) => {
    if ((opts.size === undefined) === !opts.grow) throw new CustosError('usage', 'give --size SIZE or --grow');
    let body: { bytes: number } | { grow: true } = { grow: true };
    if (opts.size !== undefined) {
      const bytes = parseSize(opts.size);
      if (bytes === undefined || bytes < 1) throw new CustosError('usage', `--size takes a size such as 500GiB or 2TB, not ${JSON.stringify(opts.size)}`);
      body = { bytes };
    }
    const s = await connect(opts).call(api.setAllocation, { params: { id }, body });
    if (opts.json) return printJson(s);
    print(`disk allocation of ${s.id}: ${allocation(s)} used`);
  });

  withConnection(source.command('show').description('one data source').argument('<id>', 'data source id (AGENT:fs:/path)').option('--json', 'print the data source as JSON')).action(
    async (id: string, opts: ConnectionOptions & { json?: boolean }) => {
      const s = await connect(opts).call(api.getSource, { params: { id } });
      if (opts.json) return printJson(s);
      const fields: Array<[string, string]> = [
        ['id', s.id],
        ['agent', s.agent],
        ['kind', s.kind],
        ['path', s.path],
        ['protection group', s.group ?? '- (not protected)'],
        ['replica', s.replicaState],
        ['newest recovery point', shortTime(s.newestPoint)],
        ['recovery points', String(s.recoveryPoints)],
        ['last synchronized', shortTime(s.lastSynchronized)],
        ['allocation', `${allocation(s)} used`],
      ];
      printFields(fields);
    },
  );
}
