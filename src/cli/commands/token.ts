/** `custos token create`: API tokens for people and scripts (admin: everything; viewer: every GET). */
import { Option, type Command } from 'commander';
import { print, printJson } from '../output.js';
import { connect, withConnection, type ConnectionOptions } from '../server-cli.js';

export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('API tokens of the protection server');

  withConnection(
    token
      .command('create')
      .description('create an API token (shown once: keep it)')
      .addOption(new Option('--role <role>', 'admin may do everything, viewer may only read').choices(['viewer', 'admin']).makeOptionMandatory())
      .option('--name <name>', 'who or what the token is for')
      .option('--json', 'print {token, role, name} as JSON'),
  ).action(async (opts: ConnectionOptions & { role: string; name?: string; json?: boolean }) => {
    const t = await connect(opts).post<{ token: string; role: string; name?: string | null }>('/api/tokens', {
      role: opts.role,
      ...(opts.name !== undefined ? { name: opts.name } : {}),
    });
    if (opts.json) return printJson(t);
    print(t.token);
    process.stderr.write(`${t.role} token${t.name ? ` "${t.name}"` : ''} created; it is shown only once (use it as CUSTOS_TOKEN)\n`);
  });
}
