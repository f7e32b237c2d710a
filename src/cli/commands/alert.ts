/** `custos alert list|resolve`: conditions that need attention, each with a recommended action. */
import { api } from '../../protocol/rest/index.js';
import type { Command } from 'commander';
import { print, printJson } from '../output.js';
import { connect, printTable, shortTime, withConnection, type ConnectionOptions } from '../server-cli.js';

export function registerAlertCommands(program: Command): void {
  const alert = program.command('alert').description('alerts of the protection server');

  withConnection(
    alert.command('list').description('active alerts, most severe first').option('--all', 'resolved alerts too').option('--json', 'print the alerts as JSON'),
  ).action(async (opts: ConnectionOptions & { all?: boolean; json?: boolean }) => {
    const alerts = await connect(opts).call(api.listAlerts, { query: { state: opts.all ? 'all' : 'active' } });
    if (opts.json) return printJson(alerts);
    if (alerts.length === 0) return print(opts.all ? 'no alerts' : 'no active alerts');
    const rank = { critical: 0, warning: 1, info: 2 } as const;
    const sorted = [...alerts].sort((a, b) => (rank[a.severity] ?? 3) - (rank[b.severity] ?? 3) || Date.parse(b.raisedAt) - Date.parse(a.raisedAt));
    const headers = ['ID', 'SEVERITY', ...(opts.all ? ['STATE'] : []), 'RAISED', 'SUBJECT', 'MESSAGE', 'RECOMMENDED ACTION'];
    printTable(
      headers,
      sorted.map((a) => [String(a.id), a.severity, ...(opts.all ? [a.state] : []), shortTime(a.raisedAt), a.subject, a.message, a.recommendedAction]),
    );
  });

  withConnection(
    alert.command('resolve').description('mark an alert resolved (it is raised again if the condition persists)').argument('<id>', 'alert id').option('--json', 'print the alert as JSON'),
  ).action(async (id: string, opts: ConnectionOptions & { json?: boolean }) => {
    const a = await connect(opts).call(api.resolveAlert, { params: { id } });
    if (opts.json) return printJson(a);
    print(`alert ${a.id} resolved: ${a.message}`);
  });
}
