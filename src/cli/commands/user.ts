/**
 * `custos user add|passwd|list|remove`: console users, who sign in to the
 * web console with a name and a password (docs/user-guide.md, "Console
 * users"). The password comes from --password-file, a terminal (asked
 * twice, not echoed) or one line of standard input — never the command line.
 */
import { Option, type Command } from 'commander';
import { api, ROLES, type Role } from '../../protocol/rest/index.js';
import { collect, print, printJson } from '../output.js';
import { newPassword } from '../password-input.js';
import { connect, printTable, shortTime, withConnection, type ConnectionOptions } from '../server-cli.js';

const PASSWORD_FILE = ['--password-file <file>', 'read the password from the first line of this file (default: ask at the terminal, or read one line of standard input)'] as const;

export function registerUserCommands(program: Command): void {
  const user = program.command('user').description('console users of the protection server (sign in with a name and password)');

  withConnection(
    user
      .command('add')
      .description('create a console user with a password')
      .argument('<name>', 'the name to sign in with: 1-63 of A-Z a-z 0-9 . _ -')
      .addOption(
        new Option('--role <role>', 'admin: everything; operator: run jobs and recoveries; viewer: read only; recovery-operator: recover the data sources of its scopes')
          .choices([...ROLES])
          .makeOptionMandatory(),
      )
      .option('--scope <scope>', 'recovery-operator only: group:NAME or source:AGENT:fs:/path; repeatable', collect)
      .option(...PASSWORD_FILE)
      .option('--json', 'print the user as JSON'),
  ).action(async (name: string, opts: ConnectionOptions & { role: Role; scope?: string[]; passwordFile?: string; json?: boolean }) => {
    const client = connect(opts); // settings checked before a password is asked for
    const password = await newPassword(opts, name);
    const u = await client.call(api.createUser, { body: { name, role: opts.role, password, ...(opts.scope ? { scopes: opts.scope } : {}) } });
    if (opts.json) return printJson(u);
    print(`${u.role} user ${u.name} created${u.scopes.length > 0 ? ` for ${u.scopes.join(', ')}` : ''}`);
  });

  withConnection(
    user
      .command('passwd')
      .description("set a console user's password (ends the user's sessions)")
      .argument('<name>', 'user name (see custos user list)')
      .option(...PASSWORD_FILE)
      .option('--json', 'print the user as JSON'),
  ).action(async (name: string, opts: ConnectionOptions & { passwordFile?: string; json?: boolean }) => {
    const client = connect(opts);
    const password = await newPassword(opts, name);
    const u = await client.call(api.updateUser, { params: { name }, body: { password } });
    if (opts.json) return printJson(u);
    print(`password of ${u.name} changed; its sessions ended`);
  });

  withConnection(user.command('list').description('console users: name, role, scopes, last sign-in, lockout (never passwords)').option('--json', 'print the users as JSON')).action(
    async (opts: ConnectionOptions & { json?: boolean }) => {
      const users = await connect(opts).call(api.listUsers);
      if (opts.json) return printJson(users);
      if (users.length === 0) return print('no users');
      printTable(
        ['NAME', 'ROLE', 'SCOPES', 'CREATED', 'PASSWORD SET', 'LAST SIGN-IN', 'LOCKED UNTIL'],
        users.map((u) => [u.name, u.role, u.scopes.join(' ') || '-', shortTime(u.createdAt), shortTime(u.passwordChangedAt), shortTime(u.lastSignInAt), shortTime(u.lockedUntil)]),
      );
    },
  );

  withConnection(
    user.command('remove').description("delete a console user (ends the user's sessions)").argument('<name>', 'user name (see custos user list)').option('--json', 'print {deleted} as JSON'),
  ).action(async (name: string, opts: ConnectionOptions & { json?: boolean }) => {
    const r = await connect(opts).call(api.deleteUser, { params: { name } });
    if (opts.json) return printJson(r);
    print(`user ${r.deleted} removed`);
  });
}
