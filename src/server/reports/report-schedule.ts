/**
 * Scheduled reports: once a day per schedule, at or after its time of day
 * (the server's local time), the report over the 7 days before is made,
 * rendered (PDF by default) and queued in the notifications outbox as one
 * mail per recipient with the report attached — the outbox sends, retries
 * and survives restarts. The day a schedule was queued is written in the
 * same transaction as its mails (Catalog.markReportSent), so a restart
 * neither loses nor repeats a day. Runs in each pass of the notification
 * sender (NotificationService.onPass).
 */
import { errorMessage } from '../../base/index.js';
import type { Catalog, ReportScheduleRow } from '../../catalog/index.js';
import { REPORT_NAMES, type ReportName } from '../../protection/index.js';
import { EMAIL_PATTERN, MAILED_REPORT_FORMATS, reportHighlights, reportPeriod, type MailedReportFormat, type ReportSchedule } from '../../protocol/rest/index.js';
import { localClockTime, localDay, storedAttachment } from '../notify/notifications.js';
import { readSmtp } from '../notify/notify-settings.js';
import type { ReportService } from './report-service.js';

const DAY_MS = 86_400_000;
const EMAIL = new RegExp(EMAIL_PATTERN);

export interface ReportScheduleDeps {
  readonly catalog: Catalog;
  readonly reports: ReportService;
  readonly serverName: () => string;
  readonly log: (message: string, level?: string) => void;
}

export function scheduleView(r: ReportScheduleRow): ReportSchedule {
  return { report: r.report, daily: r.daily_at, to: recipientsOf(r), format: r.format, createdAt: r.created_at, lastSentDay: r.last_sent_day };
}

/** The stored recipients, checked again as everything read back from the catalog. */
function recipientsOf(r: ReportScheduleRow): string[] {
  try {
    const list = JSON.parse(r.recipients) as unknown;
    return Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string' && EMAIL.test(x)).slice(0, 10) : [];
  } catch {
    return [];
  }
}

export class ReportScheduler {
  constructor(private readonly d: ReportScheduleDeps) {}

  /** Queues every schedule whose time of day has come and that has not gone out today. */
  async queueDue(now: Date): Promise<void> {
    const schedules = await this.d.catalog.listReportSchedules();
    const day = localDay(now);
    for (const s of schedules) {
      if (localClockTime(now) < s.daily_at || s.last_sent_day === day) continue;
      try {
        await this.#queue(s, day, now);
      } catch (err) {
        this.d.log(`scheduled report ${s.report}: ${errorMessage(err)}`, 'error');
      }
    }
  }

  async #queue(s: ReportScheduleRow, day: string, now: Date): Promise<void> {
    const name = s.report as ReportName;
    const format = s.format as MailedReportFormat;
    if (!REPORT_NAMES.includes(name) || !MAILED_REPORT_FORMATS.includes(format)) throw new Error(`the schedule is damaged (report ${s.report}, format ${s.format})`);
    if (!(await readSmtp(this.d.catalog))) {
      // Like the digest: the day passes without a mail (no mail server), and the log says why.
      await this.d.catalog.markReportSent(s.report, day, [], now.toISOString());
      this.d.log(`scheduled report ${s.report} not mailed: no mail server is set (custos server notify smtp)`, 'warning');
      return;
    }
    const report = await this.d.reports.make(name, { from: new Date(now.getTime() - 7 * DAY_MS), to: now });
    const server = this.d.serverName();
    const file = this.d.reports.render(report, format, server);
    const text = [
      `${report.title} of ${server}, ${reportPeriod(report)}.`,
      '',
      ...reportHighlights(report),
      '',
      `The report is attached (${format.toUpperCase()}, ${file.fileName}).`,
      `Scheduled with: custos report schedule ${s.report} --daily ${s.daily_at}; stop it with: custos report unschedule ${s.report}`,
    ].join('\n');
    const attachment = storedAttachment({ fileName: file.fileName, contentType: file.contentType, content: file.bytes });
    const mails = recipientsOf(s).map((to) => ({ channel: 'mail', destination: to, subject: `[Custos] ${report.title}, ${day}`, body: text, attachment }));
    await this.d.catalog.markReportSent(s.report, day, mails, now.toISOString());
  }
}
