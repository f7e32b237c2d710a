/**
 * `custos server notify …`: the mail server, who is mailed about what,
 * webhooks, the daily digest, and a test send (/api/notifications). The
 * SMTP password and webhook secrets are read from files, never from the
 * command line (where `ps` and shell history would show them).
 */
import { readFileSync, statSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { CustosError, errorMessage } from '../../base/index.js';
import { api, SEVERITIES, SMTP_TLS_MODES, type Severity, type SmtpTlsMode } from '../../protocol/rest/index.js';
import { collect, print, printJson } from '../output.js';
import { connect, positiveInt, printTable, withConnection, type ConnectionOptions } from '../server-cli.js';

export function registerServerNotifyCommands(server: Command): void {
  const notify = server.command('notify').description('E-mail (SMTP) and webhook notifications of alerts, a daily digest and finished recoveries');

  withConnection(
    notify
      .command('smtp')
      .description('Set the mail server notifications go through')
      .requiredOption('--host <host>', 'mail server host name or address')
      .option('--port <port>', 'port (default 465 with --tls implicit, 587 with starttls, 25 with none)', positiveInt)
      .addOption(new Option('--tls <mode>', 'implicit: TLS from the first byte; starttls: STARTTLS required (the default); none: plain text, only to a mail server on this computer').choices(SMTP_TLS_MODES))
      .option('--user <user>', 'log in as USER (AUTH)')
      .option('--password-file <file>', 'file holding the password (its first line); with the same --user, left out keeps the stored one')
      .requiredOption('--from <address>', 'sender address, e.g. custos@example.com')
      .option('--json', 'print the settings as JSON'),
  ).action(async (opts: ConnectionOptions & { host: string; port?: number; tls?: SmtpTlsMode; user?: string; passwordFile?: string; from: string; json?: boolean }) => {
    if (opts.passwordFile !== undefined && opts.user === undefined) throw new CustosError('usage', '--password-file needs --user');
    const body = {
      host: opts.host,
      from: opts.from,
      ...(opts.port !== undefined ? { port: opts.port } : {}),
      ...(opts.tls !== undefined ? { tls: opts.tls } : {}),
      ...(opts.user !== undefined ? { user: opts.user } : {}),
      ...(opts.passwordFile !== undefined ? { password: readSecretFile(opts.passwordFile, '--password-file') } : {}),
    };
    const r = await connect(opts).call(api.setSmtp, { body });
    if (opts.json) return printJson(r);
    const s = r.smtp!;
    print(`mail server set: ${s.host}:${s.port} (${s.tls}${s.user ? `, user ${s.user}${s.passwordSet ? ' with a password' : ''}` : ''}), from ${s.from}`);
  });

  withConnection(
    notify
      .command('add')
      .description('Mail alerts to an address (or change what an address gets)')
      .argument('<email>', 'e-mail address')
      .addOption(new Option('--severity <severity>', 'the least severe alert mailed').choices(SEVERITIES).default('warning'))
      .option('--group <name>', 'only alerts about this protection group; repeatable (none: every alert)', collect)
      .option('--resolved', 'also mail when an alert is resolved')
      .option('--json', 'print the recipient as JSON'),
  ).action(async (email: string, opts: ConnectionOptions & { severity: Severity; group?: string[]; resolved?: boolean; json?: boolean }) => {
    const r = await connect(opts).call(api.setRecipient, { body: { address: email, severity: opts.severity, groups: opts.group ?? [], resolved: opts.resolved ?? false } });
    if (opts.json) return printJson(r);
    print(`${r.address} is mailed about ${r.severity} alerts and up${r.groups.length > 0 ? ` of ${r.groups.join(', ')}` : ''}${r.resolved ? ', and when they are resolved' : ''}`);
  });

  withConnection(notify.command('remove').description('Stop mailing an address').argument('<email>', 'e-mail address')).action(
    async (email: string, opts: ConnectionOptions) => {
      await connect(opts).call(api.removeRecipient, { params: { address: email } });
      print(`${email} removed`);
    },
  );

  const webhook = notify.command('webhook').description('Webhooks: alerts POSTed as JSON, signed with HMAC-SHA256 (chat tools, ticketing)');
  withConnection(
    webhook
      .command('add')
      .description('Post alerts to a URL (https, or http to this computer only)')
      .argument('<url>', 'https://…')
      .requiredOption('--secret-file <file>', 'file holding the signing secret (its first line, 16 to 512 printable characters)')
      .addOption(new Option('--severity <severity>', 'the least severe alert posted').choices(SEVERITIES).default('warning'))
      .option('--json', 'print the webhook as JSON'),
  ).action(async (url: string, opts: ConnectionOptions & { secretFile: string; severity: Severity; json?: boolean }) => {
    const w = await connect(opts).call(api.addWebhook, { body: { url, secret: readSecretFile(opts.secretFile, '--secret-file'), severity: opts.severity } });
    if (opts.json) return printJson(w);
    print(`webhook ${w.id} added: ${w.url} gets ${w.severity} alerts and up`);
  });

  withConnection(webhook.command('remove').description('Stop posting to a URL').argument('<url>', 'the URL as added (see notify list)')).action(
    async (url: string, opts: ConnectionOptions) => {
      const client = connect(opts);
      const hooks = await client.call(api.listWebhooks);
      const normal = (u: string) => {
        try {
          return new URL(u).href;
        } catch {
          return u;
        }
      };
      const w = hooks.find((x) => x.url === url || x.url === normal(url));
      if (!w) throw new CustosError('not-found', `no webhook ${url} (see custos server notify list)`);
      await client.call(api.removeWebhook, { params: { id: String(w.id) } });
      print(`webhook ${w.url} removed`);
    },
  );

  withConnection(
    notify
      .command('digest')
      .description("Switch the daily digest mail on at a time of day (the server's local time) or off")
      .option('--at <HH:MM>', 'send it at this time every day (default 07:00)')
      .option('--off', 'no digest'),
  ).action(async (opts: ConnectionOptions & { at?: string; off?: boolean }) => {
    if ((opts.at !== undefined) === (opts.off === true)) throw new CustosError('usage', 'give either --at HH:MM or --off');
    if (opts.at !== undefined && !/^([01][0-9]|2[0-3]):[0-5][0-9]$/.test(opts.at)) throw new CustosError('usage', `--at takes HH:MM (00:00 to 23:59), not ${opts.at}`);
    const d = await connect(opts).call(api.setDigest, { body: opts.off ? { enabled: false } : { enabled: true, ...(opts.at !== undefined ? { at: opts.at } : {}) } });
    print(d.enabled ? `daily digest on, at ${d.at} (server local time)` : 'daily digest off');
  });

  withConnection(notify.command('list').description('The mail server, recipients, webhooks and digest').option('--json', 'print them as JSON')).action(
    async (opts: ConnectionOptions & { json?: boolean }) => {
      const client = connect(opts);
      const [smtp, recipients, webhooks, digest] = await Promise.all([
        client.call(api.getSmtp), client.call(api.listRecipients), client.call(api.listWebhooks), client.call(api.getDigest),
      ]);
      if (opts.json) return printJson({ ...smtp, recipients, webhooks, digest });
      const s = smtp.smtp;
      print(s ? `mail server: ${s.host}:${s.port} (${s.tls}), from ${s.from}${s.user ? `, user ${s.user}, password ${s.passwordSet ? 'set' : 'not set'}` : ''}` : 'mail server: not set (custos server notify smtp)');
      print(`daily digest: ${digest.enabled ? `at ${digest.at}` : 'off'}`);
      print();
      if (recipients.length === 0) print('no recipients');
      else printTable(['RECIPIENT', 'SEVERITY', 'GROUPS', 'RESOLVED'], recipients.map((r) => [r.address, r.severity, r.groups.join(',') || 'all', r.resolved ? 'yes' : 'no']));
      print();
      if (webhooks.length === 0) print('no webhooks');
      else printTable(['WEBHOOK', 'SEVERITY'], webhooks.map((w) => [w.url, w.severity]));
    },
  );

  withConnection(
    notify
      .command('test')
      .description('Send a test mail now (to --to, or to every recipient and every webhook) and say what failed')
      .option('--to <email>', 'only this address')
      .option('--json', 'print the results as JSON'),
  ).action(async (opts: ConnectionOptions & { to?: string; json?: boolean }) => {
    const r = await connect(opts).call(api.testNotifications, { body: opts.to !== undefined ? { to: opts.to } : {} });
    if (opts.json) printJson(r);
    else for (const x of r.results) print(`${x.channel} ${x.destination}: ${x.ok ? 'sent' : `failed: ${x.error ?? ''}`}`);
    const failed = r.results.filter((x) => !x.ok).length;
    if (failed > 0) throw new CustosError('unreachable', `${failed} of ${r.results.length} test notification(s) failed`);
  });
}

/** The first line of a file holding a secret (at most 4 KiB read). */
function readSecretFile(file: string, flag: string): string {
  try {
    if (statSync(file).size > 4096) throw new CustosError('usage', `${flag} ${file} is larger than 4 KiB: it should hold one line, the secret`);
    const line = readFileSync(file, 'utf8').split(/\r?\n/)[0] ?? '';
    if (line.length === 0) throw new CustosError('usage', `${flag} ${file} is empty`);
    return line;
  } catch (err) {
    if (err instanceof CustosError) throw err;
    throw new CustosError('usage', `cannot read ${flag} ${file}: ${errorMessage(err)}`);
  }
}
