/**
 * `custos point create|list`: recovery points of a data source on the
 * protection server. (`custos points`, plural, lists a local storage pool.)
 */
import { api } from '../../protocol/rest/index.js';
import type { Command } from 'commander';
import { CustosError, systemClock } from '../../base/index.js';
import { print, printJson } from '../output.js';
import { calendarDays, calendarMonth, monthLabel } from '../point-calendar.js';
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
    point
      .command('list')
      .description('recovery points of a data source, oldest first')
      .argument('<source>', 'data source id (AGENT:fs:/path)')
      .option('--all', 'also the replica-only point the last synchronization left (not a recovery point; the next point replaces it)')
      .option('--calendar', 'the days (local to this computer) that have recovery points, and how many')
      .option('--month <YYYY-MM>', 'with --calendar: this month [the current one]')
      .option('--json', 'print the recovery points (or the days) as JSON'),
  ).action(async (source: string, opts: ConnectionOptions & { json?: boolean; calendar?: boolean; month?: string; all?: boolean }) => {
    if (opts.month !== undefined && !opts.calendar) throw new CustosError('usage', '--month goes with --calendar');
    if (opts.all && opts.calendar) throw new CustosError('usage', '--calendar counts recovery points only; leave out --all');
    const month = opts.calendar ? calendarMonth(opts.month, systemClock.now()) : undefined;
    const points = await connect(opts).call(api.listPoints, { params: { id: source }, query: { all: opts.all === true ? true : undefined } });
    if (month) {
      const days = calendarDays(points.map((p) => p.time), month);
      if (opts.json) return printJson({ month: monthLabel(month), days });
      if (days.length === 0) return print(`no recovery points of ${source} in ${monthLabel(month)}`);
      return printTable(['DATE', 'RECOVERY POINTS'], days.map((d) => [d.date, String(d.recoveryPoints)]));
    }
    if (opts.json) return printJson(points);
    if (points.length === 0) return print(`no recovery points of ${source}`);
    printTable(
      ['ID', 'TIME', 'FILES', 'SIZE', 'ADDED', ''],
      points.map((p) => [p.id, shortTime(p.time), String(p.files), formatBytes(p.logicalBytes), formatBytes(p.bytesAdded), pointNotes(p).join(', ')]),
    );
  });
}

/** The last column of `point list`: partial, and (with --all) replica-only. */
function pointNotes(p: { partial: boolean; recoveryPoint: boolean }): string[] {
  return [...(p.recoveryPoint === false ? ['replica-only (synchronization)'] : []), ...(p.partial ? ['partial'] : [])];
}
