/** /api/reports and /api/report-schedules: reports on demand in four formats, and mailed every day. */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { api } from '../../../protocol/rest/index.js';
import type { ServerContext } from '../../context.js';
import { localClockTime, localDay } from '../../notify/notifications.js';
import { notFound } from '../../http-errors.js';
import { parsePeriod, type ReportService } from '../../reports/report-service.js';
import { scheduleView } from '../../reports/report-schedule.js';
import { serve } from '../serve.js';

export function registerReportRoutes(app: FastifyInstance, ctx: ServerContext, reports: ReportService): void {
  serve(app, api.getReport, async ({ params, query }) => {
    const period = parsePeriod(query.from, query.to, ctx.clock.now());
    const format = query.format ?? 'json';
    const report = await reports.make(params.name, period);
    const file = reports.render(report, format, ctx.notifications.serverName());
    const summary = { report: params.name, format, from: report.from, to: report.to, bytes: file.bytes.length };
    return { contentType: file.contentType, fileName: file.fileName, body: Readable.from([file.bytes]), summary: () => summary };
  });

  const c = ctx.catalog;
  serve(app, api.listReportSchedules, async () => (await c.listReportSchedules()).map(scheduleView));

  serve(app, api.setReportSchedule, async ({ body, audit }) => {
    const to = [...new Set(body.to)];
    const format = body.format ?? 'pdf';
    audit(body.report, { daily: body.daily, to, format });
    const now = ctx.clock.now();
    await c.saveReportSchedule({ report: body.report, daily_at: body.daily, recipients: JSON.stringify(to), format, created_at: now.toISOString() });
    // Scheduled past today's time: the first mail is tomorrow's, as with the digest.
    if (localClockTime(now) >= body.daily) await c.markReportSent(body.report, localDay(now), [], now.toISOString());
    const row = (await c.listReportSchedules()).find((s) => s.report === body.report)!;
    return scheduleView(row);
  });

  serve(app, api.deleteReportSchedule, async ({ params, audit }) => {
    audit(params.name);
    if (!(await c.deleteReportSchedule(params.name))) throw notFound(`report schedule ${params.name}`);
    return { removed: params.name };
  });
}
