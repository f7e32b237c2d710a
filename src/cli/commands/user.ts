/**
 * `custos user add|update|passwd|list|remove`: console users, who sign in to the
 * web console with a name and a password (docs/user-guide.md, "Console
 * users"). The password comes from --password-file, a terminal (asked
 * twice, not echoed) or one line of standard input — never the command line.
 */
import { Option, type Command } from 'commander';
import { CustosError } from '../../base/index.js';
import { api, ROLES, type Role, type User } from '../../protocol/rest/index.js';
import { collect, print, printJson } from '../output.js';
import { newPassword } from '../password-input.js';
import { connect, printTable, shortTime, withConnection, type ConnectionOptions } from '../server-cli.js';

const LINK = ['--link <agent:account>', "My files: the account on a protected computer whose files this user sees (the agent must be connected to check it); an end-user needs one"] as const;

/** AGENT:ACCOUNT as --link takes it. */
function parseLink(text: string): { agent: string; account: string } {
  const at = text.lastIndexOf(':');
  if (at <= 0 || at === text.length - 1) throw new CustosError('usage', `--link takes AGENT:ACCOUNT (an agent of custos agent list and an account on that computer), not ${JSON.stringify(text)}`);
  return { agent: text.slice(0, at), account: text.slice(at + 1) };
}

function linkText(link: User['link']): string {
  return link ? `, linked to ${link.account} (uid ${link.uid}) on ${link.agent}` : '';
}

const PASSWORD_FILE = ['--password-file <file>', 'read the password from the first line of this file (default: ask at the terminal, or read one line of standard input)'] as const;

export function registerUserCommands(program: Command): void {
  const user = program.command('user').description('console users of the protection server (sign in with a name and password)');

  withConnection(
    user
      .command('add')
      .description('create a console user with a password')
      .argument('<name>', 'the name to sign in with: 1-63 of A-Z a-z 0-9 . _ -')
      .addOption(
        new Option('--role <role>', 'admin: everything; operator: run jobs and recoveries; viewer: read only; recovery-operator: recover the data sources of its scopes; end-user: My files only')
          .choices([...ROLES])
          .makeOptionMandatory(),
      )
      .option('--scope <scope>', 'recovery-operator only: group:NAME or source:ID (what it recovers), target:AGENT:/dir or target:AGENT:postgres:PORT|* (where it may recover to); repeatable', collect)
      .option(...LINK)
      .option(...PASSWORD_FILE)
      .option('--json', 'print the user as JSON'),
  ).action(async (name: string, opts: ConnectionOptions & { role: Role; scope?: string[]; link?: string; passwordFile?: string; json?: boolean }) => {
    const client = connect(opts); // settings checked before a password is asked for
    const link = opts.link === undefined ? undefined : parseLink(opts.link);
    const password = await newPassword(opts, name);
    const u = await client.call(api.createUser, { body: { name, role: opts.role, password, ...(opts.scope ? { scopes: opts.scope } : {}), ...(link ? { link } : {}) } });
    if (opts.json) return printJson(u);
    print(`${u.role} user ${u.name} created${u.scopes.length > 0 ? ` for ${u.scopes.join(', ')}` : ''}${linkText(u.link)}`);
  });

  withConnection(
    user
      .command('update')
      .description("change a console user's role, scopes or link (ends the user's sessions)")
      .argument('<name>', 'user name (see custos user list)')
      .addOption(new Option('--role <role>', 'the new role').choices([...ROLES]))
      .option('--scope <scope>', 'recovery-operator only: group:NAME or source:ID (what it recovers), target:AGENT:/dir or target:AGENT:postgres:PORT|* (where it may recover to); repeatable (replaces the scopes)', collect)
      .option(...LINK)
      .option('--unlink', 'remove the link to an account (My files shows nothing then)')
      .option('--json', 'print the user as JSON'),
  ).action(async (name: string, opts: ConnectionOptions & { role?: Role; scope?: string[]; link?: string; unlink?: boolean; json?: boolean }) => {
    if (opts.link !== undefined && opts.unlink) throw new CustosError('usage', 'give --link or --unlink, not both');
    const link = opts.unlink ? null : opts.link === undefined ? undefined : parseLink(opts.link);
    const body = { ...(opts.role ? { role: opts.role } : {}), ...(opts.scope ? { scopes: opts.scope } : {}), ...(link !== undefined ? { link } : {}) };
    if (Object.keys(body).length === 0) throw new CustosError('usage', 'nothing to change: give --role, --scope, --link or --unlink');
    const u = await connect(opts).call(api.updateUser, { params: { name }, body });
    if (opts.json) return printJson(u);
    print(`${u.role} user ${u.name} changed${u.scopes.length > 0 ? ` for ${u.scopes.join(', ')}` : ''}${linkText(u.link)}; its sessions ended`);
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
        ['NAME', 'ROLE', 'SCOPES', 'LINKED TO', 'PASSWORD SET', 'LAST SIGN-IN', 'LOCKED UNTIL'],
        users.map((u) => [
          u.name, u.role, u.scopes.join(' ') || '-', u.link ? `${u.link.agent}:${u.link.account}` : '-', shortTime(u.passwordChangedAt), shortTime(u.lastSignInAt), shortTime(u.lockedUntil),
        ]),
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
