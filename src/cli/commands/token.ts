/**
 * `custos token create|list|revoke` and `custos audit list`: API tokens for
 * people and scripts, with a role (admin, operator, viewer,
 * recovery-operator), scopes for recovery-operators and an expiry; and the
 * audit log of who did what.
 */
import { Option, type Command } from 'commander';
import { api, ROLES, type Role } from '../../protocol/rest/index.js';
import { collect, print, printJson } from '../output.js';
import { connect, duration, positiveInt, printTable, shortTime, withConnection, type ConnectionOptions } from '../server-cli.js';

export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('API tokens of the protection server');

  withConnection(
    token
      .command('create')
      .description('create an API token (shown once: keep it)')
      .requiredOption('--name <name>', 'who or what the token is for (unique; used to revoke it)')
      .addOption(
        new Option('--role <role>', 'admin: everything; operator: run jobs and recoveries; viewer: read only; recovery-operator: recover the data sources of its scopes')
          .choices([...ROLES])
          .makeOptionMandatory(),
      )
      .option('--scope <scope>', 'recovery-operator only: group:NAME or source:ID (what it recovers), target:AGENT:/dir or target:AGENT:postgres:PORT|* (where it may recover to); repeatable', collect)
      .option('--expires <duration>', 'the token stops working after this long (e.g. 30d, 12h); default: never', duration)
      .option('--json', 'print {token, name, role, scopes, expiresAt} as JSON'),
  ).action(async (opts: ConnectionOptions & { name: string; role: Role; scope?: string[]; expires?: string; json?: boolean }) => {
    const t = await connect(opts).call(api.createToken, {
      body: { name: opts.name, role: opts.role, ...(opts.scope ? { scopes: opts.scope } : {}), ...(opts.expires ? { expires: opts.expires } : {}) },
    });
    if (opts.json) return printJson(t);
    print(t.token);
    const scope = t.scopes.length > 0 ? ` for ${t.scopes.join(', ')}` : '';
    const until = t.expiresAt ? `, valid until ${shortTime(t.expiresAt)}` : '';
    process.stderr.write(`${t.role} token "${t.name}"${scope} created${until}; it is shown only once (use it as CUSTOS_TOKEN)\n`);
  });

  withConnection(
    token.command('list').description('API tokens: name, role, scopes, expiry, last use (never the secrets)').option('--all', 'revoked tokens too').option('--json', 'print the tokens as JSON'),
  ).action(async (opts: ConnectionOptions & { all?: boolean; json?: boolean }) => {
    const tokens = (await connect(opts).call(api.listTokens)).filter((t) => opts.all || t.revokedAt === null);
    if (opts.json) return printJson(tokens);
    if (tokens.length === 0) return print('no tokens');
    printTable(
      ['NAME', 'ROLE', 'SCOPES', 'CREATED', 'EXPIRES', 'LAST USED', ...(opts.all ? ['REVOKED'] : [])],
      tokens.map((t) => [t.name, t.role, t.scopes.join(' ') || '-', shortTime(t.createdAt), shortTime(t.expiresAt), shortTime(t.lastUsedAt), ...(opts.all ? [shortTime(t.revokedAt)] : [])]),
    );
  });

  withConnection(
    token.command('revoke').description('revoke an API token at once (the last admin token cannot be revoked)').argument('<name>', 'token name (see custos token list)').option('--json', 'print {revoked} as JSON'),
  ).action(async (name: string, opts: ConnectionOptions & { json?: boolean }) => {
    const r = await connect(opts).call(api.revokeToken, { params: { name } });
    if (opts.json) return printJson(r);
    print(`token ${r.revoked} revoked`);
  });

  const audit = program.command('audit').description('the audit log of the protection server: who did what, when');
  withConnection(
    audit
      .command('list')
      .description('audit entries, newest first: recoveries, tokens, enrollments, group changes, on-demand jobs, denied requests')
      .option('--limit <n>', 'at most this many (default 100)', positiveInt)
      .option('--action <action>', 'only this action (e.g. recovery, token.create, agent.enroll, request)')
      .option('--before <id>', 'entries older than this id (paging)', positiveInt)
      .option('--json', 'print the entries as JSON'),
  ).action(async (opts: ConnectionOptions & { limit?: number; action?: string; before?: number; json?: boolean }) => {
    const entries = await connect(opts).call(api.listAudit, { query: { limit: opts.limit, action: opts.action, before: opts.before } });
    if (opts.json) return printJson(entries);
    if (entries.length === 0) return print('no audit entries');
    printTable(['ID', 'TIME', 'ACTOR', 'ACTION', 'TARGET', 'OUTCOME'], entries.map((e) => [String(e.id), shortTime(e.time), e.actor, e.action, e.target ?? '-', e.outcome]));
  });
}
