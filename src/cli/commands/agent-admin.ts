/**
 * `custos agent token|list|remove`: the server side of protection agents.
 * (`agent attach` and `agent start`, run on the protected computer, live in
 * agent.ts; both files add to the one `agent` command.)
 */
import { api } from '../../protocol/rest/index.js';
import type { Command } from 'commander';
import { print, printJson } from '../output.js';
import { commandGroup, connect, duration, printTable, shortTime, withConnection, type ConnectionOptions } from '../server-cli.js';

export function registerAgentAdminCommands(program: Command): void {
  const agent = commandGroup(program, 'agent', 'protection agents: attach this computer to a server, or manage the agents of a server');

  withConnection(
    agent
      .command('token')
      .description('create a one-time enrollment token for attaching a protection agent')
      .option('--expires <duration>', 'the token is valid this long (at most 7d)', duration, '1h')
      .option('--json', 'print {token, expiresAt} as JSON'),
  ).action(async (opts: ConnectionOptions & { expires: string; json?: boolean }) => {
    const client = connect(opts);
    const t = await client.call(api.createEnrollmentToken, { body: opts.expires !== undefined ? { expires: opts.expires } : {} });
    if (opts.json) return printJson(t);
    print(`enrollment token: ${t.token} (one use, valid until ${shortTime(t.expiresAt)})`);
    print('on the computer to protect, run:');
    print(`  custos agent attach --server ${client.url} --token ${t.token} --data /var/lib/custos-agent`);
  });

  withConnection(
    agent.command('list').description('the protection agents attached to the server').option('--json', 'print the agents as JSON'),
  ).action(async (opts: ConnectionOptions & { json?: boolean }) => {
    const agents = await connect(opts).call(api.listAgents);
    if (opts.json) return printJson(agents);
    if (agents.length === 0) return print('no protection agents attached (custos agent token makes a token to attach one)');
    printTable(
      ['NAME', 'STATUS', 'LAST SEEN', 'VERSION', 'DATA SOURCES'],
      agents.map((a) => [a.name, a.status, shortTime(a.lastSeen), a.version ?? '-', String(a.dataSources.length)]),
    );
  });

  withConnection(
    agent
      .command('remove')
      .description("detach a protection agent: revoke its certificate and disconnect it (not while a protection group protects one of its data sources)")
      .argument('<name>', 'agent name')
      .option('--json', 'print the answer as JSON'),
  ).action(async (name: string, opts: ConnectionOptions & { json?: boolean }) => {
    const r = await connect(opts).call(api.removeAgent, { params: { name } });
    if (opts.json) return printJson(r);
    print(`protection agent ${r.removed} removed`);
  });
}
