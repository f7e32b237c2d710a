/**
 * `custos report …`: DPM's reports on demand (a table on the terminal, or
 * HTML, PDF or CSV into a file) and mailed every day (/api/reports,
 * /api/report-schedules).
 */
import { Writable } from 'node:stream';
import { Option, type Command } from 'commander';
import { CustosError } from '../../base/index.js';
import { writeWhole } from '../partial-file.js';
import {
  api, MAILED_REPORT_FORMATS, REPORT_NAME_LIST, reportHighlights, reportPeriod, reportTables, type MailedReportFormat, type Report, type ReportNameText,
} from '../../protocol/rest/index.js';
import { collect, print, printJson } from '../output.js';
import { connect, printTable, withConnection, type ConnectionOptions } from '../server-cli.js';

function reportName(name: string): ReportNameText {
  if (!(REPORT_NAME_LIST as readonly string[]).includes(name)) throw new CustosError('usage', `no report named ${JSON.stringify(name)}: the reports are ${REPORT_NAME_LIST.join(', ')}`);
  return name as ReportNameText;
}

export function registerReportCommands(program: Command): void {
  const report = program.command('report').description(`reports on demand and mailed every day: ${REPORT_NAME_LIST.join(', ')}`);

  withConnection(
    report
      .command('show')
      .description('make a report: a table on the terminal, or HTML, PDF or CSV into a file with --out')
      .argument('<name>', REPORT_NAME_LIST.join(' | '))
      .option('--from <date>', 'start: YYYY-MM-DD (midnight, server local time) or an ISO 8601 time [7 days before --to]')
      .option('--to <date>', 'end: YYYY-MM-DD (the whole day) or an ISO 8601 time [now]')
      .addOption(new Option('--format <format>', 'file format with --out [pdf]').choices(['html', 'pdf', 'csv']))
      .option('--out <file>', 'write the report into FILE')
      .option('--json', 'print the report as JSON'),
  ).action(async (name: string, opts: ConnectionOptions & { from?: string; to?: string; format?: 'html' | 'pdf' | 'csv'; out?: string; json?: boolean }) => {
    const which = reportName(name);
    if (opts.format !== undefined && opts.out === undefined) throw new CustosError('usage', '--format needs --out FILE (without it the report is printed as a table)');
    const client = connect(opts);
    const query = { ...(opts.from !== undefined ? { from: opts.from } : {}), ...(opts.to !== undefined ? { to: opts.to } : {}) };
    if (opts.out !== undefined) {
      const format = opts.format ?? (/\.(html|csv|pdf)$/i.exec(opts.out)?.[1]?.toLowerCase() as 'html' | 'csv' | 'pdf' | undefined) ?? 'pdf';
      // Refused or cut short, the report leaves --out as it was.
      const s = await writeWhole(opts.out, (sink) => client.stream(api.getReport, sink, () => undefined, { params: { name: which }, query: { ...query, format } }), undefined, 0o644);
      print(`${which} report (${format.toUpperCase()}, ${s.bytes} bytes) written to ${opts.out}`);
      return;
    }
    const chunks: Buffer[] = [];
    const sink = new Writable({ write(c: Buffer, _e, cb) { chunks.push(c); cb(); } });
    await client.stream(api.getReport, sink, () => undefined, { params: { name: which }, query: { ...query, format: 'json' } });
    const r = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Report;
    if (opts.json) return printJson(r);
    print(`${r.title}, ${reportPeriod(r)}`);
    for (const h of reportHighlights(r)) print(h);
    for (const t of reportTables(r)) {
      print();
      print(t.title);
      if (t.rows.length === 0) print('  nothing in this period');
      else printTable(t.headers, t.rows);
    }
  });

  withConnection(
    report
      .command('schedule')
      .description("mail a report every day at a time of day (the server's local time), the 7 days before attached")
      .argument('<name>', REPORT_NAME_LIST.join(' | '))
      .requiredOption('--daily <HH:MM>', 'time of day')
      .requiredOption('--to <address>', 'recipient; repeatable (at most 10)', collect)
      .addOption(new Option('--format <format>', 'attachment format').choices(MAILED_REPORT_FORMATS).default('pdf'))
      .option('--json', 'print the schedule as JSON'),
  ).action(async (name: string, opts: ConnectionOptions & { daily: string; to: string[]; format: MailedReportFormat; json?: boolean }) => {
    if (!/^([01][0-9]|2[0-3]):[0-5][0-9]$/.test(opts.daily)) throw new CustosError('usage', `--daily takes HH:MM (00:00 to 23:59), not ${opts.daily}`);
    const s = await connect(opts).call(api.setReportSchedule, { body: { report: reportName(name), daily: opts.daily, to: opts.to, format: opts.format } });
    if (opts.json) return printJson(s);
    print(`${s.report} report mailed every day at ${s.daily} (server local time) as ${s.format.toUpperCase()} to ${s.to.join(', ')}`);
  });

  withConnection(report.command('unschedule').description('stop mailing a report').argument('<name>', REPORT_NAME_LIST.join(' | '))).action(
    async (name: string, opts: ConnectionOptions) => {
      const which = reportName(name);
      await connect(opts).call(api.deleteReportSchedule, { params: { name: which } });
      print(`${which} report no longer mailed`);
    },
  );

  withConnection(report.command('schedules').description('the reports mailed every day').option('--json', 'print them as JSON')).action(
    async (opts: ConnectionOptions & { json?: boolean }) => {
      const list = await connect(opts).call(api.listReportSchedules);
      if (opts.json) return printJson(list);
      if (list.length === 0) return print('no report is scheduled (custos report schedule NAME --daily HH:MM --to ADDRESS)');
      printTable(['REPORT', 'DAILY', 'FORMAT', 'TO', 'LAST SENT'], list.map((s) => [s.report, s.daily, s.format, s.to.join(', '), s.lastSentDay ?? '-']));
    },
  );
}
