/**
 * /api/notifications: the mail server, recipients, webhooks, the daily
 * digest, and a test send. Reading needs `view`, changing `configure`.
 * The SMTP password and webhook secrets go in and never come out: answers
 * say whether a password is set, audit entries name hosts, users and URLs.
 */
import type { FastifyInstance } from 'fastify';
import type { RecipientRow, WebhookRow } from '../../../catalog/index.js';
import { api, type Recipient, type Severity, type SmtpSettings, type Webhook } from '../../../protocol/rest/index.js';
import type { ServerContext } from '../../context.js';
import { badRequest, notFound } from '../../http-errors.js';
import { localClockTime, localDay } from '../../notify/notifications.js';
import { checkWebhookUrl, lastDigestDay, readDigest, readSmtp, setLastDigestDay, writeDigest, writeSmtp, type StoredSmtp } from '../../notify/notify-settings.js';
import { serve } from '../serve.js';

export function registerNotificationRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const c = ctx.catalog;
  const now = () => ctx.clock.now().toISOString();

  serve(app, api.getSmtp, async () => smtpView(await readSmtp(c)));

  serve(app, api.setSmtp, async ({ body, audit }) => {
    audit(body.host, { port: body.port ?? null, tls: body.tls ?? 'starttls', user: body.user ?? null, passwordGiven: body.password !== undefined, from: body.from });
    return smtpView(await writeSmtp(c, body));
  });

  serve(app, api.listRecipients, async () => (await c.listRecipients()).map(recipientView));

  serve(app, api.setRecipient, async ({ body, audit }) => {
    audit(body.address, { severity: body.severity ?? 'warning', groups: body.groups ?? [], resolved: body.resolved ?? false });
    const groups = [...new Set(body.groups ?? [])];
    const known = new Set((await c.listGroups()).map((g) => g.name));
    const unknown = groups.filter((g) => !known.has(g));
    if (unknown.length > 0) throw badRequest(`no protection group ${unknown.join(', ')} (see custos group list)`);
    const old = (await c.listRecipients()).find((r) => r.address === body.address);
    const row: RecipientRow = {
      address: body.address, min_severity: body.severity ?? 'warning', groups: JSON.stringify(groups), resolved: body.resolved ? 1 : 0, created_at: old?.created_at ?? now(),
    };
    await c.saveRecipient(row);
    return recipientView(row);
  });

  serve(app, api.removeRecipient, async ({ params, audit }) => {
    audit(params.address);
    if (!(await c.deleteRecipient(params.address))) throw notFound(`recipient ${params.address}`);
    return { removed: params.address };
  });

  serve(app, api.listWebhooks, async () => (await c.listWebhooks()).map(webhookView));

  serve(app, api.addWebhook, async ({ body, audit }) => {
    audit(body.url, { severity: body.severity ?? 'warning' });
    const url = checkWebhookUrl(body.url).href;
    const id = await c.saveWebhook({ url, secret: body.secret, min_severity: body.severity ?? 'warning', created_at: now() });
    return webhookView((await c.webhook(id))!);
  });

  serve(app, api.removeWebhook, async ({ params, audit }) => {
    const w = await c.webhook(Number(params.id));
    audit(w?.url ?? params.id);
    if (!w || !(await c.deleteWebhook(w.id))) throw notFound(`webhook ${params.id}`);
    return { removed: w.url };
  });

  serve(app, api.getDigest, async () => readDigest(c));

  serve(app, api.setDigest, async ({ body, audit }) => {
    const old = await readDigest(c);
    const digest = { enabled: body.enabled, at: body.at ?? old.at };
    audit(null, digest);
    await writeDigest(c, digest);
    // Switched on (or moved) past today's time: the first digest is tomorrow's, not one right now.
    const t = ctx.clock.now();
    if (digest.enabled && localClockTime(t) >= digest.at && (await lastDigestDay(c)) !== localDay(t)) await setLastDigestDay(c, localDay(t));
    return digest;
  });

  serve(app, api.testNotifications, async ({ body, audit }) => {
    audit(body.to ?? null);
    return ctx.notifications.sendTest(body.to, ctx.notifications.serverName());
  });
}

function smtpView(s: StoredSmtp | null): SmtpSettings {
  return { smtp: s === null ? null : { host: s.host, port: s.port, tls: s.tls, user: s.user, passwordSet: s.password !== null, from: s.from } };
}

function recipientView(r: RecipientRow): Recipient {
  let groups: string[] = [];
  try {
    const g = JSON.parse(r.groups) as unknown;
    if (Array.isArray(g)) groups = g.filter((x): x is string => typeof x === 'string');
  } catch {
    // a damaged row shows no groups rather than failing the list
  }
  return { address: r.address, severity: r.min_severity as Severity, groups, resolved: r.resolved === 1, createdAt: r.created_at };
}

function webhookView(w: WebhookRow): Webhook {
  return { id: w.id, url: w.url, severity: w.min_severity as Severity, createdAt: w.created_at };
}
