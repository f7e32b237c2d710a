/**
 * Notifications: turns what happens (an alert raised or resolved, a
 * recovery that asked for a mail, the digest's time of day) into messages
 * in the catalog's outbox, and a background sender that delivers them.
 *
 * Queueing is one catalog write and the only thing done in the path of an
 * alert or a job: a mail server that is down or slow delays mail, it never
 * blocks or fails a job. The sender takes due messages oldest first, one
 * pass at a time; a failed send is retried with backoff (1 min doubling to
 * 1 h) until it is 24 h old, then given up with a log line and an audit
 * entry. The outbox is in the catalog, so a restart loses nothing; a
 * message being sent when the server dies is sent again (at least once).
 */
import { hostname } from 'node:os';
import { CustosError, errorMessage, type Clock } from '../../base/index.js';
import type { AlertRow, Catalog, JobRow, OutboxRow, RecipientRow } from '../../catalog/index.js';
import { ALERT_KINDS, type AlertKind } from '../../protection/index.js';
import { EMAIL_PATTERN, type NotifyTestAnswer, type Severity } from '../../protocol/rest/index.js';
import type { AlertWatcher } from '../alerts.js';
import type { AuditLog } from '../audit.js';
import { alertMail, alertWebhookBody, digestMail, recoveryMail, severityReaches, testMail, testWebhookBody, type DigestFacts, type Mail, type MailAttachment } from './messages.js';
import { lastDigestDay, readDigest, readSmtp, setLastDigestDay } from './notify-settings.js';
import { postWebhook, smtpSender, type MailSender } from './senders.js';

export const GIVE_UP_MS = 24 * 3_600_000;
const FIRST_RETRY_MS = 60_000;
const LONGEST_RETRY_MS = 3_600_000;
const PER_PASS = 100;
const KEEP_DONE_MS = 7 * 86_400_000;
const EMAIL = new RegExp(EMAIL_PATTERN);

/** The wait before the next attempt after `attempts` failed ones. */
export function notifyRetryDelayMs(attempts: number): number {
  return Math.min(LONGEST_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, attempts - 1));
}

export interface NotificationDeps {
  readonly catalog: Catalog;
  readonly clock: Clock;
  readonly audit: AuditLog;
  readonly log: (message: string, level?: string) => void;
  /** Extra CA certificate (PEM) the mail server's certificate may chain to (a private CA; tests). */
  readonly smtpCa?: string;
}

type EndState = 'succeeded' | 'failed' | 'cancelled';

export class NotificationService implements AlertWatcher {
  #consoleUrl: string | null = null;
  #timer: NodeJS.Timeout | null = null;
  #pass: Promise<void> | null = null;
  #again = false;
  #stopped = false;
  #lastPurge = 0;
  /** What else each pass looks at before sending (scheduled reports): each may queue mails. */
  readonly #passHooks: Array<(now: Date) => Promise<void>> = [];
  /** Messages being written to the outbox (an alert's, a job's): idle() waits for them. */
  readonly #queueing = new Set<Promise<void>>();

  constructor(private readonly d: NotificationDeps) {}

  /** The server's address for the console link in mails (null: unknown, no link). */
  setConsoleUrl(url: string | null): void {
    this.#consoleUrl = url;
  }

  /** How mails name this server: its address when known, else the computer's name. */
  serverName(): string {
    return this.#consoleUrl ?? hostname();
  }

  /** Looks at the outbox (and the digest's time) every `intervalMs` of real time, and whenever a message is queued. */
  start(intervalMs = 1000): void {
    this.#timer = setInterval(() => this.kick(), intervalMs);
    this.#timer.unref();
    this.kick();
  }

  /** Stops sending; waits up to 3 s for the message being sent (one that is cut off stays queued and is sent after the restart). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    const waited = Promise.allSettled([this.#pass, ...this.#queueing]);
    await Promise.race([waited, new Promise((r) => setTimeout(r, 3000).unref())]);
  }

  /** Runs `hook` at the start of every pass, after the digest (its errors are logged; the pass goes on). */
  onPass(hook: (now: Date) => Promise<void>): void {
    this.#passHooks.push(hook);
  }

  /** Starts a pass now (or right after the running one). */
  kick(): void {
    if (this.#stopped) return;
    if (this.#pass) {
      this.#again = true;
      return;
    }
    this.#pass = this.#sendPass()
      .catch((err: unknown) => this.d.log(`notifications: ${errorMessage(err)}`, 'error'))
      .finally(() => {
        this.#pass = null;
        if (this.#again) {
          this.#again = false;
          this.kick();
        }
      });
  }

  /** Resolves once nothing is being queued and no pass runs. */
  async idle(): Promise<void> {
    while (this.#pass || this.#queueing.size > 0) await Promise.all([this.#pass, ...this.#queueing]);
  }

  /** Queues what is being queued, then runs a pass now and waits for it (tests, after moving the clock). */
  async flush(): Promise<void> {
    await Promise.all([...this.#queueing]);
    this.kick();
    await this.idle();
  }

  // --- what happens → the outbox ------------------------------------------------------------------

  raised(alert: AlertRow): void {
    this.#background(`alert ${alert.id}`, () => this.#alertChanged(alert, false));
  }

  resolved(alert: AlertRow): void {
    this.#background(`alert ${alert.id}`, () => this.#alertChanged(alert, true));
  }

  /** A job ended for good: a recovery that asked for it gets its mail. */
  jobEnded(job: JobRow, state: EndState, error: string | null, result: Record<string, unknown> | null): void {
    if (job.kind !== 'recovery') return;
    this.#background(`job ${job.id}`, () => this.#recoveryEnded(job, state, error, result));
  }

  #background(what: string, work: () => Promise<void>): void {
    const p: Promise<void> = work().then(
      () => this.kick(),
      (err: unknown) => this.d.log(`notifications: cannot queue the message about ${what}: ${errorMessage(err)}`, 'error'),
    ).finally(() => this.#queueing.delete(p));
    this.#queueing.add(p);
  }

  async #alertChanged(a: AlertRow, resolved: boolean): Promise<void> {
    const title = ALERT_KINDS[a.kind as AlertKind]?.title ?? a.kind;
    const groups = await this.#groupsOf(a.subject);
    const rows: Array<Pick<OutboxRow, 'channel' | 'destination' | 'subject' | 'body'>> = [];
    if (await readSmtp(this.d.catalog)) {
      for (const r of await this.d.catalog.listRecipients()) {
        if (resolved && r.resolved !== 1) continue;
        if (!severityReaches(a.severity, r.min_severity as Severity) || !groupsMatch(r, groups)) continue;
        rows.push(mailRow(alertMail(r.address, a, title, this.#consoleUrl, resolved)));
      }
    }
    for (const w of await this.d.catalog.listWebhooks()) {
      if (!severityReaches(a.severity, w.min_severity as Severity)) continue;
      rows.push({ channel: 'webhook', destination: String(w.id), subject: `${resolved ? 'resolved' : 'raised'} ${a.kind} ${a.subject}`.slice(0, 300), body: alertWebhookBody(a, title, resolved, this.#consoleUrl, this.d.clock.now()) });
    }
    await this.d.catalog.queueNotifications(rows, this.d.clock.now().toISOString());
  }

  /** The protection groups an alert is about: its data source's, or those of its agent's data sources. */
  async #groupsOf(subject: string): Promise<string[]> {
    const source = await this.d.catalog.source(subject);
    if (source) return source.group_name ? [source.group_name] : [];
    const ofAgent = await this.d.catalog.listSources({ agent: subject });
    return [...new Set(ofAgent.flatMap((s) => (s.group_name ? [s.group_name] : [])))];
  }

  async #recoveryEnded(job: JobRow, state: EndState, error: string | null, result: Record<string, unknown> | null): Promise<void> {
    const params = JSON.parse(job.params) as Record<string, unknown>;
    // Checked by the REST schema when asked for; checked again, as everything read back from the catalog.
    const notify = Array.isArray(params['notify']) ? params['notify'].filter((x): x is string => typeof x === 'string' && EMAIL.test(x)).slice(0, 5) : [];
    if (notify.length === 0) return;
    const now = this.d.clock.now().toISOString();
    if (!(await readSmtp(this.d.catalog))) {
      await this.d.catalog.appendJobLog(job.id, now, 'warning', 'no mail server is set (custos server notify smtp): the recovery-finished mail is not sent');
      return;
    }
    const target = String(params['target'] ?? '');
    const facts = {
      job: job.id,
      source: job.source_id ?? '',
      point: String(params['point'] ?? ''),
      target: params['on'] === 'server' ? `server:${target}` : `${job.agent ?? ''}:${target}`,
      items: Array.isArray(params['items']) ? params['items'].map(String) : [],
      state,
      error,
      result,
      requestedBy: typeof params['requestedBy'] === 'string' ? params['requestedBy'] : null,
    };
    await this.d.catalog.queueNotifications(notify.map((to) => mailRow(recoveryMail(to, facts))), now);
    await this.d.catalog.appendJobLog(job.id, now, 'info', `recovery-finished mail queued for ${notify.join(', ')}`);
  }

  // --- the daily digest ----------------------------------------------------------------------------

  /** Queues the day's digest once the local time of day has reached the digest's (once a day, also across restarts). */
  async #digestIfDue(now: Date): Promise<void> {
    const digest = await readDigest(this.d.catalog);
    if (!digest.enabled || localClockTime(now) < digest.at) return;
    const day = localDay(now);
    if ((await lastDigestDay(this.d.catalog)) === day) return;
    await setLastDigestDay(this.d.catalog, day);
    if (!(await readSmtp(this.d.catalog))) return;
    const recipients = await this.d.catalog.listRecipients();
    if (recipients.length === 0) return;
    const all = await this.#digestFacts(now);
    const rows = recipients.map((r) => mailRow(digestMail(r.address, forRecipient(all, r), this.#consoleUrl)));
    await this.d.catalog.queueNotifications(rows, now.toISOString());
  }

  async #digestFacts(now: Date): Promise<AllDigestFacts> {
    const c = this.d.catalog;
    const sources = await c.listSources();
    const groupOf = new Map(sources.map((s) => [s.id, s.group_name ?? '']));
    // What an alert is about, as #groupsOf says it: a data source's group, or the groups of an agent's data sources.
    const alertGroups = new Map<string, string[]>();
    for (const s of sources) {
      if (!s.group_name) continue;
      alertGroups.set(s.id, [s.group_name]);
      alertGroups.set(s.agent, [...new Set([...(alertGroups.get(s.agent) ?? []), s.group_name])]);
    }
    const jobs = new Map<string, { succeeded: number; failed: number }>();
    for (const j of await c.jobsEndedSince(new Date(now.getTime() - 86_400_000).toISOString())) {
      const g = j.source_id ? groupOf.get(j.source_id) ?? '' : '';
      const n = jobs.get(g) ?? { succeeded: 0, failed: 0 };
      if (j.state === 'succeeded') n.succeeded++;
      else n.failed++;
      jobs.set(g, n);
    }
    const withPoints = [];
    for (const s of sources) withPoints.push({ id: s.id, group: s.group_name ?? '', newestPoint: (await c.newestPoint(s.id))?.time ?? null });
    return { now, alerts: await c.listAlerts('active'), jobs, sources: withPoints, alertGroups };
  }

  // --- the sender --------------------------------------------------------------------------------

  /** One pass: the digest if due, then every due message of the outbox (at most 100). Only through kick(): one pass at a time. */
  async #sendPass(): Promise<void> {
    const now = this.d.clock.now();
    await this.#digestIfDue(now);
    for (const hook of this.#passHooks) {
      await hook(now).catch((err: unknown) => this.d.log(`notifications: ${errorMessage(err)}`, 'error'));
    }
    await this.#purge(now);
    const due = await this.d.catalog.dueNotifications(now.toISOString(), PER_PASS);
    let mailer: MailSender | null = null;
    try {
      for (const m of due) {
        if (this.#stopped) return;
        if (now.getTime() - Date.parse(m.created_at) >= GIVE_UP_MS) {
          await this.#giveUp(m, now);
          continue;
        }
        try {
          if (m.channel === 'mail') {
            mailer ??= await this.#mailer();
            await mailer.send({ to: m.destination, subject: m.subject, text: m.body, ...attachmentOf(m) });
          } else {
            const w = await this.d.catalog.webhook(Number(m.destination));
            if (!w) throw new CustosError('not-found', `webhook ${m.destination} has been removed`);
            await postWebhook(w.url, w.secret, m.body, this.d.clock.now());
          }
          await this.d.catalog.updateNotification(m.id, { state: 'sent', sent_at: this.d.clock.now().toISOString(), attempts: m.attempts + 1, last_error: null });
        } catch (err) {
          await this.#failed(m, errorMessage(err), now);
        }
      }
    } finally {
      mailer?.close();
    }
  }

  async #mailer(): Promise<MailSender> {
    const smtp = await readSmtp(this.d.catalog);
    if (!smtp) throw new CustosError('usage', 'no mail server is set (custos server notify smtp)');
    return smtpSender(smtp, this.d.smtpCa ? { ca: this.d.smtpCa } : {});
  }

  async #failed(m: OutboxRow, error: string, now: Date): Promise<void> {
    const attempts = m.attempts + 1;
    const next = new Date(now.getTime() + notifyRetryDelayMs(attempts));
    await this.d.catalog.updateNotification(m.id, { attempts, last_error: error.slice(0, 1000), next_attempt_at: next.toISOString() });
    this.d.log(`notification ${m.id} (${m.channel} to ${await this.#destination(m)}) not sent, attempt ${attempts}: ${error}; retried at ${next.toISOString()}`, 'warning');
  }

  async #giveUp(m: OutboxRow, now: Date): Promise<void> {
    await this.d.catalog.updateNotification(m.id, { state: 'failed' });
    const destination = await this.#destination(m);
    this.d.log(`notification ${m.id} (${m.channel} to ${destination}: ${m.subject}) given up after ${m.attempts} attempts over 24 h: ${m.last_error ?? 'never tried'}`, 'error');
    await this.d.audit.record({
      actor: 'server', role: null, action: 'notification.give-up', target: destination, outcome: 'failed',
      detail: { channel: m.channel, subject: m.subject, attempts: m.attempts, error: m.last_error ?? '', queuedAt: m.created_at, at: now.toISOString() },
      address: null,
    });
  }

  /** A message's destination as people read it: the address, or the webhook's URL. */
  async #destination(m: OutboxRow): Promise<string> {
    if (m.channel === 'mail') return m.destination;
    return (await this.d.catalog.webhook(Number(m.destination)))?.url ?? `webhook ${m.destination}`;
  }

  async #purge(now: Date): Promise<void> {
    if (now.getTime() - this.#lastPurge < 3_600_000) return;
    this.#lastPurge = now.getTime();
    await this.d.catalog.purgeNotifications(new Date(now.getTime() - KEEP_DONE_MS).toISOString());
  }

  // --- a test, now -------------------------------------------------------------------------------

  /**
   * Sends a test mail (to `to`, or to every recipient) and, without `to`, a
   * test POST to every webhook, now and not through the outbox, and says
   * what failed and why.
   */
  async sendTest(to: string | undefined, server: string): Promise<NotifyTestAnswer> {
    const results: Array<NotifyTestAnswer['results'][number]> = [];
    const addresses = to !== undefined ? [to] : (await this.d.catalog.listRecipients()).map((r) => r.address);
    const webhooks = to !== undefined ? [] : await this.d.catalog.listWebhooks();
    if (addresses.length === 0 && webhooks.length === 0) {
      throw new CustosError('usage', 'nothing to test: add a recipient (custos server notify add) or a webhook, or name an address (--to)');
    }
    if (addresses.length > 0) {
      const smtp = await readSmtp(this.d.catalog);
      const mailer = smtp ? smtpSender(smtp, this.d.smtpCa ? { ca: this.d.smtpCa } : {}) : null;
      try {
        for (const address of addresses) {
          if (!mailer) {
            results.push({ channel: 'mail', destination: address, ok: false, error: 'no mail server is set (custos server notify smtp)' });
            continue;
          }
          results.push(await outcome('mail', address, () => mailer.send(testMail(address, server))));
        }
      } finally {
        mailer?.close();
      }
    }
    for (const w of webhooks) results.push(await outcome('webhook', w.url, () => postWebhook(w.url, w.secret, testWebhookBody(server, this.d.clock.now()), this.d.clock.now())));
    return { results };
  }
}

async function outcome(channel: 'mail' | 'webhook', destination: string, send: () => Promise<void>): Promise<NotifyTestAnswer['results'][number]> {
  try {
    await send();
    return { channel, destination, ok: true, error: null };
  } catch (err) {
    return { channel, destination, ok: false, error: errorMessage(err) };
  }
}

/** The stored attachment of an outbox row (JSON {fileName, contentType, base64}), checked as everything read back from the catalog. */
function attachmentOf(m: OutboxRow): { attachment?: MailAttachment } {
  if (m.attachment === null) return {};
  const a = JSON.parse(m.attachment) as Record<string, unknown>;
  if (typeof a['fileName'] !== 'string' || typeof a['contentType'] !== 'string' || typeof a['base64'] !== 'string') {
    throw new CustosError('format', `notification ${m.id}: its attachment is damaged`);
  }
  return { attachment: { fileName: a['fileName'], contentType: a['contentType'], content: Buffer.from(a['base64'], 'base64') } };
}

/** An attachment as the outbox stores it. */
export function storedAttachment(a: MailAttachment): string {
  return JSON.stringify({ fileName: a.fileName, contentType: a.contentType, base64: a.content.toString('base64') });
}

function mailRow(m: Mail): Pick<OutboxRow, 'channel' | 'destination' | 'subject' | 'body'> {
  return { channel: 'mail', destination: m.to, subject: m.subject, body: m.text };
}

function recipientGroups(r: RecipientRow): string[] {
  try {
    const g = JSON.parse(r.groups) as unknown;
    return Array.isArray(g) ? g.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** A recipient without groups hears of everything; one with groups, of alerts about those groups only. */
function groupsMatch(r: RecipientRow, groups: readonly string[]): boolean {
  const wanted = recipientGroups(r);
  return wanted.length === 0 || groups.some((g) => wanted.includes(g));
}

type AllDigestFacts = DigestFacts & { readonly alertGroups: ReadonlyMap<string, readonly string[]> };

/** The digest as one recipient sees it: the alerts they would be mailed, the jobs and data sources of their groups. */
function forRecipient(all: AllDigestFacts, r: RecipientRow): DigestFacts {
  const wanted = recipientGroups(r);
  const inGroups = (g: string) => wanted.length === 0 || wanted.includes(g);
  return {
    now: all.now,
    alerts: all.alerts.filter((a) => severityReaches(a.severity, r.min_severity as Severity) && groupsMatch(r, all.alertGroups.get(a.subject) ?? [])),
    jobs: new Map([...all.jobs].filter(([g]) => inGroups(g))),
    sources: all.sources.filter((s) => inGroups(s.group)),
  };
}

/** HH:MM of the server's local time. */
export function localClockTime(d: Date): string {
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** YYYY-MM-DD of the server's local time. */
export function localDay(d: Date): string {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}
