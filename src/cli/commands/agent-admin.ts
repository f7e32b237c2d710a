/**
 * `custos agent token|list|browse|remove`: the server side of protection agents.
 * (`agent attach` and `agent start`, run on the protected computer, live in
 * agent.ts; both files add to the one `agent` command.)
 */
import { displayName } from '../../protocol/index.js';
import { api } from '../../protocol/rest/index.js';
import type { Command } from 'commander';
import { cursorOfName, nameOfCursor } from '../file-listing.js';
import { print, printJson } from '../output.js';
import { formatBytes } from '../progress.js';
import { commandGroup, connect, duration, positiveInt, printTable, shortTime, withConnection, type ConnectionOptions } from '../server-cli.js';

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
      .command('browse')
      .description("list one directory of a protected computer's live file system through its agent (admins only): to find the paths to protect")
      .argument('<name>', 'agent name')
      .argument('[path]', 'absolute path of a directory on that computer [/]')
      .option('--limit <n>', 'at most N entries [1000]', positiveInt)
      .option('--after <name>', 'start after this name (the next page of a big directory)')
      .option('--json', 'print the listing as JSON'),
  ).action(async (name: string, path: string | undefined, opts: ConnectionOptions & { limit?: number; after?: string; json?: boolean }) => {
    const r = await connect(opts).call(api.browseAgent, {
      params: { name },
      query: { ...(path !== undefined ? { path } : {}), ...(opts.limit ? { limit: opts.limit } : {}), ...(opts.after !== undefined ? { after: cursorOfName(opts.after) } : {}) },
    });
    if (opts.json) return printJson(r);
    print(`${r.agent}:${r.path}`);
    if (r.entries.length === 0) return print('(empty)');
    printTable(
      ['TYPE', 'SIZE', 'NAME'],
      r.entries.map((e) => [
        e.type,
        e.type === 'file' ? formatBytes(e.size) : '-',
        // Names arrive without control characters (the agent protocol's display form); the exact bytes are given when they differ.
        `${e.name}${e.type === 'dir' ? '/' : ''}${e.mountPoint ? '  (mount point: another file system)' : ''}${e.nameBase64 !== undefined ? `  (not text; bytes base64:${e.nameBase64})` : ''}`,
      ]),
    );
    if (r.next) {
      const q = (t: string) => (/^[A-Za-z0-9_./:@%+=-]+$/.test(t) ? t : `'${t.replace(/'/g, `'\\''`)}'`);
      const last = nameOfCursor(r.next);
      // A name that is not plain text cannot be typed (nor printed as it is): the JSON answer's next can be passed instead.
      print(cursorOfName(last) === r.next && displayName(Buffer.from(last, 'utf8')) === last
        ? `more: custos agent browse ${q(r.agent)} ${q(r.path)} --after ${q(last)}`
        : `more entries follow; the last name shown is not plain text, so page on with the API (GET /api/agents/${r.agent}/files, after=${r.next})`);
    }
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
