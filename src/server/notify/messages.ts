/**
 * What notifications say: the mails (an alert raised or resolved, the daily
 * digest, a recovery finished, a test) and the webhooks' JSON bodies. Pure
 * functions of catalog facts, so each is tested without a server. Text
 * from outside (a data source's path, an error) goes into a subject only
 * through `oneLine`, so it can never end the header and start another.
 */
import type { AlertRow } from '../../catalog/index.js';
import type { Severity } from '../../protocol/rest/index.js';

export interface Mail {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  /** One file the mail carries (a scheduled report). */
  readonly attachment?: MailAttachment;
}

export interface MailAttachment {
  readonly fileName: string;
  readonly contentType: string;
  readonly content: Buffer;
}

const RANK: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

/** Whether an alert of `severity` reaches someone who asked for `minimum` and up. */
export function severityReaches(severity: string, minimum: Severity): boolean {
  return (RANK[severity as Severity] ?? RANK.info) <= RANK[minimum];
}

/** Text on one line: control characters (CR, LF, tabs, U+2028/9) become spaces; at most `max` characters. */
export function oneLine(text: string, max = 200): string {
  const flat = text.replace(/[\u0000-\u001f\u007f\u0085\u2028\u2029]+/g, ' ').replace(/ {2,}/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** The link to the console's alert list, when the server's address is known. */
export function alertsLink(consoleUrl: string | null): string | null {
  return consoleUrl === null ? null : `${consoleUrl}/#/monitoring/alerts`;
}

export function alertMail(to: string, a: AlertRow, title: string, consoleUrl: string | null, resolved: boolean): Mail {
  const head = resolved ? 'RESOLVED' : a.severity.toUpperCase();
  const link = alertsLink(consoleUrl);
  const lines = resolved
    ? [`Resolved: ${title}`, '', `Subject:  ${a.subject}`, `Raised:   ${a.raised_at}`, `Resolved: ${a.resolved_at ?? ''}`, '', a.message]
    : [`${a.severity.toUpperCase()}: ${title}`, '', `Subject: ${a.subject}`, `Raised:  ${a.raised_at}`, '', a.message, '', 'Recommended action:', a.recommended_action];
  if (link) lines.push('', `Alerts in the console: ${link}`);
  return { to, subject: `[Custos] ${head}: ${oneLine(title, 80)} — ${oneLine(a.subject, 160)}`, text: lines.join('\n') + '\n' };
}

export interface DigestFacts {
  readonly now: Date;
  readonly alerts: readonly AlertRow[];
  /** Jobs ended in the last 24 h, by protection group ('' for none). */
  readonly jobs: ReadonlyMap<string, { succeeded: number; failed: number }>;
  readonly sources: ReadonlyArray<{ id: string; group: string; newestPoint: string | null }>;
}

export function digestMail(to: string, f: DigestFacts, consoleUrl: string | null): Mail {
  const lines: string[] = [`Custos daily digest, ${f.now.toISOString()}`, ''];
  lines.push(`Active alerts: ${f.alerts.length}`);
  for (const a of f.alerts) lines.push(`  ${a.severity.toUpperCase()}  ${oneLine(a.subject, 300)}: ${oneLine(a.message, 500)} (since ${a.raised_at})`);
  lines.push('', 'Jobs of the last 24 hours:');
  if (f.jobs.size === 0) lines.push('  none');
  for (const [group, n] of [...f.jobs].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`  ${group === '' ? '(no group)' : group}: ${n.succeeded} succeeded, ${n.failed} failed`);
  }
  lines.push('', 'Newest recovery point per data source:');
  if (f.sources.length === 0) lines.push('  no data sources');
  for (const s of f.sources) lines.push(`  ${oneLine(s.id, 300)}: ${s.newestPoint === null ? 'none' : `${age(f.now, s.newestPoint)} old (${s.newestPoint})`}`);
  const link = alertsLink(consoleUrl);
  if (link) lines.push('', `Alerts in the console: ${link}`);
  const failed = [...f.jobs.values()].reduce((n, j) => n + j.failed, 0);
  const subject = `[Custos] Daily digest: ${f.alerts.length} active alert${f.alerts.length === 1 ? '' : 's'}, ${failed} failed job${failed === 1 ? '' : 's'}`;
  return { to, subject, text: lines.join('\n') + '\n' };
}

function age(now: Date, time: string): string {
  const minutes = Math.max(0, Math.round((now.getTime() - Date.parse(time)) / 60_000));
  if (minutes < 120) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} days`;
}

export interface RecoveryFacts {
  readonly job: number;
  readonly source: string;
  readonly point: string;
  readonly target: string;
  readonly items: readonly string[];
  readonly state: 'succeeded' | 'failed' | 'cancelled';
  readonly error: string | null;
  readonly result: Readonly<Record<string, unknown>> | null;
  readonly requestedBy: string | null;
}

const COUNTS = ['files', 'dirs', 'others', 'identical', 'copies', 'skipped', 'bytes'] as const;

export function recoveryMail(to: string, f: RecoveryFacts): Mail {
  const lines = [
    `Recovery job ${f.job} ${f.state}.`,
    '',
    `Data source:    ${f.source}`,
    `Recovery point: ${f.point}`,
    `Recovered to:   ${f.target}`,
    `Items:          ${f.items.length === 0 ? 'the whole recovery point' : f.items.slice(0, 20).join(', ') + (f.items.length > 20 ? ` and ${f.items.length - 20} more` : '')}`,
  ];
  if (f.requestedBy) lines.push(`Requested by:   ${f.requestedBy}`);
  if (f.error) lines.push('', `Error: ${f.error}`);
  const counts = COUNTS.filter((k) => typeof f.result?.[k] === 'number').map((k) => `${k} ${String(f.result![k])}`);
  const errors = Array.isArray(f.result?.['errors']) ? (f.result['errors'] as unknown[]).length : null;
  if (counts.length > 0 || errors !== null) lines.push('', `Counts: ${[...counts, ...(errors !== null ? [`errors ${errors}`] : [])].join(', ')}`);
  const outcome = f.state === 'succeeded' ? 'finished' : f.state;
  return { to, subject: `[Custos] Recovery ${outcome}: ${oneLine(f.source, 160)} → ${oneLine(f.target, 160)}`, text: lines.join('\n') + '\n' };
}

export function testMail(to: string, server: string): Mail {
  return { to, subject: '[Custos] Test notification', text: `This is a test mail from the Custos protection server ${server}. Mail notifications work.\n` };
}

/** The JSON a webhook receives for an alert (event alert.raised or alert.resolved) or a test. */
export function alertWebhookBody(a: AlertRow, title: string, resolved: boolean, consoleUrl: string | null, now: Date): string {
  return JSON.stringify({
    event: resolved ? 'alert.resolved' : 'alert.raised',
    time: now.toISOString(),
    text: `[Custos] ${resolved ? 'RESOLVED' : a.severity.toUpperCase()}: ${title} — ${a.subject}`,
    alert: {
      id: a.id, kind: a.kind, title, severity: a.severity, state: a.state, subject: a.subject, message: a.message,
      recommendedAction: a.recommended_action, raisedAt: a.raised_at, resolvedAt: a.resolved_at,
    },
    link: alertsLink(consoleUrl),
  });
}

export function testWebhookBody(server: string, now: Date): string {
  return JSON.stringify({ event: 'test', time: now.toISOString(), text: `[Custos] Test notification from ${server}` });
}
