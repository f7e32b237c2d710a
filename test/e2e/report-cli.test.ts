/**
 * `custos report show|schedule|schedules|unschedule` and `custos source
 * allocate`, as an administrator types them: the real CLI against a real
 * protection server process and a real agent on loopback, one protection
 * group that has made its first recovery point. Every report in every
 * format (table, JSON, CSV, HTML, PDF), the periods and names it refuses,
 * daily schedules, and disk allocations set, grown and refused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Report } from '../../src/protocol/rest/index.js';
import { attachAgent, listPoints, startServer, stopAllProcesses, waitIdle, type ApiPoint, type TestServer } from '../helpers/server.js';
import { cleanupTempDirs, describeCli, makeTempDir, REPO_ROOT, writeTree, type CliResult } from '../helpers/tree.js';

/** Exit statuses of docs/user-guide.md, "Exit statuses". */
const EXIT_USAGE = 2;
const EXIT_NOT_FOUND = 4;

const GiB = 1024 ** 3;
const hasPdftotext = existsSync('/usr/bin/pdftotext');
const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

interface SourceJson {
  id: string;
  group: string | null;
  recoveryPoints: number;
  allocationBytes: number;
  usedBytes: number;
}

interface ScheduleJson {
  report: string;
  daily: string;
  to: string[];
  format: string;
  createdAt: string;
  lastSentDay: string | null;
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** YYYY-MM-DD HH:MM in UTC (the CLI runs with TZ=UTC). */
const shortUtc = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
/** A short duration as the tables print it (4 s, 2 min 5 s). */
const DUR = '\\d+ (s|min( \\d+ s)?)';
const PERIOD = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2} to \d{4}-\d{2}-\d{2} \d{2}:\d{2}$/;

describe('custos report and custos source allocate, end to end', { timeout: 300_000 }, () => {
  let server: TestServer;
  let work: string;
  let src: string;
  let point: ApiPoint;

  before(async () => {
    server = await startServer();
    const agent = await attachAgent(server, 'pc1');
    await agent.start();
    work = (await makeTempDir('custos-report-cli-')).path;
    const data = join(work, 'data');
    await writeTree(data, { 'a.txt': 'alpha\n', 'docs/b.bin': { random: { size: 200_000, seed: 'report-cli' } } });
    src = `pc1:fs:${data}`;
    // The scheduled recovery point 12 hours away: none falls due while the test runs, so "expected" is 0.
    const at = new Date(Date.now() + 12 * 3_600_000).toISOString().slice(11, 16);
    const g = await server.cli(['group', 'create', 'office', '--source', src, '--sync', '24h', '--points', at, '--rpo-target', '1d', '--rto-target', '4h']);
    assert.equal(g.code, 0, describeCli(['group', 'create'], g));
    await waitIdle(server, 120_000);
    const points = await listPoints(server, src);
    assert.equal(points.length, 1, 'the first replica made one recovery point');
    point = points[0]!;
  });

  after(async () => {
    await stopAllProcesses();
    await cleanupTempDirs();
  });

  const ok = async (args: string[]): Promise<string> => {
    const r = await server.cli(args);
    assert.equal(r.code, 0, describeCli(args, r));
    return r.stdout;
  };

  /** A refusal: the exit status, stdout empty, one line on stderr matching `message`. */
  const refused = async (args: string[], code: number, message: RegExp): Promise<CliResult> => {
    const r = await server.cli(args);
    assert.equal(r.code, code, describeCli(args, r));
    assert.equal(r.stdout, '', describeCli(args, r));
    assert.match(r.stderr, /^custos: [^\n]+\n$/, `one line: ${describeCli(args, r)}`);
    assert.match(r.stderr, message, describeCli(args, r));
    return r;
  };

  const sourceJson = () => server.cliJson<SourceJson>(['source', 'show', src, '--json']);

  test('report show: every report as a table, JSON, CSV, HTML and PDF', async () => {
    const source = await sourceJson();
    assert.equal(source.group, 'office');
    const day = point.time.slice(0, 10);

    /** What each report must show about the one group, data source and computer. */
    const expect: Record<string, { title: string; csvHeader: string; csvRow: RegExp; tableRow: RegExp; name: string; chart: boolean; json: (r: Report) => void }> = {
      status: {
        title: 'Status report',
        csvHeader: 'Group,Day,Kind,Succeeded,Failed,Cancelled',
        csvRow: new RegExp(`^office,${day},sync,1,0,0$`),
        tableRow: new RegExp(`^office +${day} +sync +1 +0 +0$`, 'm'),
        name: 'office',
        chart: true,
        json: (r) => {
          assert.equal(r.report, 'status');
          if (r.report !== 'status') return;
          assert.deepEqual(r.rows.filter((x) => x.group === 'office'), [{ group: 'office', day, kind: 'sync', succeeded: 1, failed: 0, cancelled: 0 }]);
          assert.equal(r.totals.succeeded, r.rows.reduce((n, x) => n + x.succeeded, 0));
          assert.equal(r.totals.failed, 0);
        },
      },
      'recovery-points': {
        title: 'Recovery point status',
        csvHeader: 'Data source,Group,Newest point,Age,Schedule,Measured RPO,Expected,Made,Missed,RPO missed',
        csvRow: new RegExp(`^${esc(src)},office,${esc(point.time)},\\d+,86400,\\d+,0,1,0,no$`),
        tableRow: new RegExp(`^${esc(src)} +office +${esc(shortUtc(point.time))} +${DUR} +24 h +${DUR} +0 +1 +0 +no$`, 'm'),
        name: 'office',
        chart: false,
        json: (r) => {
          assert.equal(r.report, 'recovery-points');
          if (r.report !== 'recovery-points') return;
          assert.equal(r.sources.length, 1);
          const s = r.sources[0]!;
          assert.equal(s.source, src);
          assert.equal(s.group, 'office');
          assert.equal(s.newestPoint, point.time);
          assert.equal(s.scheduleSeconds, 86_400);
          assert.deepEqual([s.pointsExpected, s.pointsMade, s.pointsMissed, s.missedRpo], [0, 1, 0, false]);
          assert.equal(r.missed, 0);
        },
      },
      'disk-utilization': {
        title: 'Disk utilization',
        csvHeader: 'Group,Data sources,Logical bytes,Bytes added,Per day,Allocation,Used',
        csvRow: new RegExp(`^office,1,${point.logicalBytes},${point.bytesAdded},\\d+,${source.allocationBytes},${source.usedBytes}$`),
        tableRow: /^office +1 +\d+\.\d (B|KiB) +\d+\.\d (B|KiB) +\d+\.\d (B|KiB) +1\.6 GiB +\d+\.\d KiB$/m,
        name: 'office',
        chart: true,
        json: (r) => {
          assert.equal(r.report, 'disk-utilization');
          if (r.report !== 'disk-utilization') return;
          const g = r.groups.filter((x) => x.group === 'office');
          assert.equal(g.length, 1);
          assert.deepEqual(
            { ...g[0]!, bytesPerDay: 0 },
            { group: 'office', dataSources: 1, logicalBytes: point.logicalBytes, bytesAdded: point.bytesAdded, bytesPerDay: 0, allocationBytes: source.allocationBytes, usedBytes: source.usedBytes },
          );
          assert.equal(r.pool.directories.length, 1);
          assert.ok(r.pool.directories[0]!.path.startsWith(server.dataDir), r.pool.directories[0]!.path);
          assert.equal(r.days.at(-1)!.day, day);
          assert.equal(r.days.at(-1)!.bytesAdded, point.bytesAdded);
        },
      },
      'protected-computers': {
        title: 'Protected computers',
        csvHeader: 'Computer,Host name,Status,Last contact,Version,Data sources,Newest point',
        csvRow: new RegExp(`^pc1,${esc(hostname())},connected,\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z,${esc(VERSION)},1,${esc(point.time)}$`),
        tableRow: new RegExp(`^pc1 +${esc(hostname())} +connected +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d +${esc(VERSION)} +1 +${esc(shortUtc(point.time))}$`, 'm'),
        name: 'pc1',
        chart: false,
        json: (r) => {
          assert.equal(r.report, 'protected-computers');
          if (r.report !== 'protected-computers') return;
          assert.equal(r.computers.length, 1);
          const { lastContact, ...c } = r.computers[0]!;
          assert.deepEqual(c, { name: 'pc1', hostname: hostname(), status: 'connected', version: VERSION, dataSources: 1, newestPoint: point.time });
          assert.notEqual(lastContact, null);
        },
      },
      sla: {
        title: 'SLA report',
        csvHeader: 'Group,RPO target,Measured RPO,RPO met,RTO target,Recoveries,Failed,Measured recovery time,RTO met',
        csvRow: /^office,86400,\d+,yes,14400,0,0,,$/,
        tableRow: new RegExp(`^office +24 h +${DUR} +yes +4 h +0 +0 +-$`, 'm'),
        name: 'office',
        chart: false,
        json: (r) => {
          assert.equal(r.report, 'sla');
          if (r.report !== 'sla') return;
          assert.equal(r.groups.length, 1);
          const { measuredRpoSeconds, ...g } = r.groups[0]!;
          assert.deepEqual(g, { group: 'office', rpoTargetSeconds: 86_400, rpoMet: true, rtoTargetSeconds: 14_400, recoveries: 0, failedRecoveries: 0, measuredRtoSeconds: null, rtoMet: null });
          assert.ok(measuredRpoSeconds !== null && measuredRpoSeconds >= 0 && measuredRpoSeconds < 3600, String(measuredRpoSeconds));
        },
      },
    };
    assert.deepEqual(Object.keys(expect), ['status', 'recovery-points', 'disk-utilization', 'protected-computers', 'sla']);

    for (const [name, e] of Object.entries(expect)) {
      const [csv, html, pdf] = ['csv', 'html', 'pdf'].map((f) => join(work, `${name}.${f}`));
      // Two CLI processes at a time: the table with the CSV, then JSON with HTML, then the PDF.
      const [table, wroteCsv] = await Promise.all([ok(['report', 'show', name]), ok(['report', 'show', name, '--format', 'csv', '--out', csv!])]);
      const [jsonText] = await Promise.all([ok(['report', 'show', name, '--json']), ok(['report', 'show', name, '--format', 'html', '--out', html!])]);
      const wrotePdf = await ok(['report', 'show', name, '--format', 'pdf', '--out', pdf!]);

      // The table on the terminal.
      const [first, second] = table.split('\n');
      assert.ok(first!.startsWith(`${e.title}, `), `${name}: ${first}`);
      assert.match(first!.slice(e.title.length + 2), PERIOD, name);
      assert.ok(second!.length > 0, `${name}: a highlight under the title`);
      assert.match(table, e.tableRow, `${name} table:\n${table}`);

      // JSON.
      const json = JSON.parse(jsonText) as Report;
      assert.equal(json.title, e.title);
      assert.equal(new Date(json.to).getTime() - new Date(json.from).getTime(), 7 * 86_400_000, `${name}: the 7 days up to now`);
      e.json(json);

      // CSV: the main table, CRLF line ends.
      const csvText = readFileSync(csv!, 'utf8');
      assert.equal(wroteCsv, `${name} report (CSV, ${Buffer.byteLength(csvText)} bytes) written to ${csv}\n`);
      assert.ok(csvText.endsWith('\r\n'), `${name}: CRLF`);
      const lines = csvText.slice(0, -2).split('\r\n');
      assert.equal(lines[0], e.csvHeader, name);
      assert.equal(lines.filter((l) => e.csvRow.test(l)).length, 1, `${name}: one row ${e.csvRow} in\n${csvText}`);

      // HTML: one page, the chart as inline SVG for the two reports that have one.
      const htmlText = readFileSync(html!, 'utf8');
      assert.ok(htmlText.startsWith('<!DOCTYPE html>'), name);
      assert.ok(htmlText.includes(`<h1>${e.title}</h1>`), name);
      assert.ok(htmlText.includes(`<td>${e.name}</td>`), `${name}: ${e.name} in a cell`);
      assert.equal(htmlText.includes('<svg'), e.chart, `${name}: <svg ${e.chart ? 'expected' : 'not expected'}`);

      // PDF.
      assert.equal(wrotePdf, `${name} report (PDF, ${statSync(pdf!).size} bytes) written to ${pdf}\n`);
      assert.equal(readFileSync(pdf!).subarray(0, 5).toString('latin1'), '%PDF-', name);
      if (hasPdftotext) {
        const text = execFileSync('/usr/bin/pdftotext', [pdf!, '-'], { encoding: 'utf8' });
        assert.ok(text.includes(e.title), `${name}: title in the PDF text:\n${text}`);
        assert.ok(text.includes(e.name), `${name}: ${e.name} in the PDF text:\n${text}`);
      }
    }

    // Without --format, --out's extension decides.
    const byExt = join(work, 'by-extension.html');
    assert.equal(await ok(['report', 'show', 'status', '--out', byExt]), `status report (HTML, ${statSync(byExt).size} bytes) written to ${byExt}\n`);
    assert.ok(readFileSync(byExt, 'utf8').startsWith('<!DOCTYPE html>'));
    // A period given as dates: local midnight to the end of the --to day.
    const dated = JSON.parse(await ok(['report', 'show', 'status', '--json', '--from', day, '--to', day])) as Report;
    assert.equal(dated.from, `${day}T00:00:00.000Z`);
    assert.equal(new Date(dated.to).getTime() - new Date(dated.from).getTime(), 86_400_000);
    assert.equal(dated.report, 'status');
    if (dated.report === 'status') assert.deepEqual(dated.rows.filter((x) => x.group === 'office').map((x) => [x.kind, x.succeeded]), [['sync', 1]]);
  });

  test('report show refuses a reversed or malformed period, an unknown report and --format without --out: usage, one line', async () => {
    const out = join(work, 'refused.pdf');
    await Promise.all([
      refused(['report', 'show', 'status', '--from', '2026-03-10', '--to', '2026-03-01'], EXIT_USAGE, /the period is empty: from \(2026-03-10T00:00:00\.000Z\) must be before to \(2026-03-02T00:00:00\.000Z\)/),
      refused(['report', 'show', 'sla', '--from', '2026-03-10T12:00:00Z', '--to', '2026-03-10T12:00:00Z', '--json'], EXIT_USAGE, /the period is empty/),
    ]);
    await Promise.all([
      refused(['report', 'show', 'status', '--from', '2026-13-10'], EXIT_USAGE, /from "2026-13-10" is not a date: use YYYY-MM-DD or an ISO 8601 time/),
      refused(['report', 'show', 'recovery-points', '--to', '2026-02-30'], EXIT_USAGE, /to "2026-02-30" is not a date/),
    ]);
    await Promise.all([
      refused(['report', 'show', 'disk-utilization', '--from', 'yesterday'], EXIT_USAGE, /from "yesterday" is not a date/),
      refused(['report', 'show', 'status', '--from', '2026-03-02T08:00:00'], EXIT_USAGE, /is not a date/), // no zone
    ]);
    await refused(['report', 'show', 'status', '--from', '2024-01-01', '--to', '2026-01-01'], EXIT_USAGE, /a report covers at most 366 days/);
    await refused(['report', 'show', 'nope', '--out', out], EXIT_USAGE, /no report named "nope": the reports are status, recovery-points, disk-utilization, protected-computers, sla/);
    assert.equal(existsSync(out), false, 'an unknown report writes no file');
    await refused(['report', 'show', 'status', '--format', 'csv'], EXIT_USAGE, /--format needs --out FILE/);
    const badFormat = await server.cli(['report', 'show', 'status', '--format', 'docx', '--out', out]);
    assert.equal(badFormat.code, EXIT_USAGE, describeCli(['--format docx'], badFormat));
    assert.equal(existsSync(out), false, 'a bad --format writes no file');
  });

  test('a report refused by the server leaves --out as it was', async () => {
    const fresh = join(work, 'reversed.pdf');
    await refused(['report', 'show', 'status', '--from', '2026-03-10', '--to', '2026-03-01', '--out', fresh], EXIT_USAGE, /the period is empty/);
    const kept = join(work, 'kept.csv');
    writeFileSync(kept, 'last month\r\n');
    await refused(['report', 'show', 'status', '--from', 'yesterday', '--format', 'csv', '--out', kept], EXIT_USAGE, /is not a date/);
    assert.deepEqual(
      { created: existsSync(fresh), kept: readFileSync(kept, 'utf8') },
      { created: false, kept: 'last month\r\n' },
      'a refused report creates no file and leaves an existing one alone',
    );
  });

  test('report schedule, schedules and unschedule; a bad time or address changes nothing', async () => {
    const none = 'no report is scheduled (custos report schedule NAME --daily HH:MM --to ADDRESS)\n';
    assert.equal(await ok(['report', 'schedules']), none);
    assert.deepEqual(await server.cliJson(['report', 'schedules', '--json']), []);
    await refused(['report', 'schedule', 'status', '--daily', '25:00', '--to', 'ops@example.com'], EXIT_USAGE, /--daily takes HH:MM \(00:00 to 23:59\), not 25:00/);
    assert.deepEqual(await server.cliJson(['report', 'schedules', '--json']), [], 'a refused schedule is not made');

    const before = await server.clockNow();
    assert.equal(
      await ok(['report', 'schedule', 'status', '--daily', '07:00', '--to', 'ops@example.com', '--format', 'pdf']),
      'status report mailed every day at 07:00 (server local time) as PDF to ops@example.com\n',
    );
    const list = await server.cliJson<ScheduleJson[]>(['report', 'schedules', '--json']);
    const afterList = await server.clockNow();
    assert.equal(list.length, 1);
    const { createdAt, lastSentDay, ...s } = list[0]!;
    assert.deepEqual(s, { report: 'status', daily: '07:00', to: ['ops@example.com'], format: 'pdf' });
    assert.ok(new Date(createdAt).getTime() >= before.getTime() - 1000 && new Date(createdAt).getTime() <= afterList.getTime() + 1000, createdAt);
    // Scheduled after today's 07:00 (the server runs in UTC), the first mail is tomorrow's: today counts as sent.
    const side = (d: Date) => `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 16) >= '07:00'}`;
    if (side(before) === side(afterList)) assert.equal(lastSentDay, before.toISOString().slice(11, 16) >= '07:00' ? before.toISOString().slice(0, 10) : null);
    const table = await ok(['report', 'schedules']);
    const [head, row, ...rest] = table.split('\n');
    assert.match(head!, /^REPORT +DAILY +FORMAT +TO +LAST SENT$/);
    assert.match(row!, new RegExp(`^status +07:00 +pdf +ops@example\\.com +${esc(lastSentDay ?? '-')}$`));
    assert.deepEqual(rest, ['']);

    // Refused changes leave the schedule as it was.
    await refused(['report', 'schedule', 'status', '--daily', '25:00', '--to', 'other@example.com', '--format', 'csv'], EXIT_USAGE, /--daily takes HH:MM/);
    await refused(['report', 'schedule', 'status', '--daily', '7:00', '--to', 'other@example.com'], EXIT_USAGE, /--daily takes HH:MM/);
    await refused(['report', 'schedule', 'status', '--daily', '08:00', '--to', 'not an address'], EXIT_USAGE, /to\/0 must be one plain e-mail address/);
    await refused(['report', 'schedule', 'status', '--daily', '08:00', '--to', 'ok@example.com', '--to', 'x@example.com\r\nBcc: eve@evil.example'], EXIT_USAGE, /to\/1 must be one plain e-mail address/);
    await refused(['report', 'schedule', 'nope', '--daily', '08:00', '--to', 'ok@example.com'], EXIT_USAGE, /no report named "nope"/);
    assert.deepEqual(await server.cliJson<ScheduleJson[]>(['report', 'schedules', '--json']), list, 'refusals change nothing');

    assert.equal(await ok(['report', 'unschedule', 'status']), 'status report no longer mailed\n');
    assert.equal(await ok(['report', 'schedules']), none);
    assert.deepEqual(await server.cliJson(['report', 'schedules', '--json']), []);
    await refused(['report', 'unschedule', 'status'], EXIT_NOT_FOUND, /report schedule status does not exist/);
  });

  test('source allocate: --size, --grow, and what it refuses', async () => {
    const first = await sourceJson();
    const used = first.usedBytes;
    assert.ok(used > 1000, `the data source uses ${used} bytes after its first point`);
    // DPM's default for file data at the first replica: 1.5 × the data, plus 5 days × 2 % and 1,600 MiB.
    assert.equal(first.allocationBytes, Math.ceil(point.logicalBytes * 1.5 + point.logicalBytes * 5 * 0.02 + 1600 * 1024 * 1024));

    const set = await ok(['source', 'allocate', src, '--size', '50GiB']);
    assert.match(set, new RegExp(`^disk allocation of ${esc(src)}: \\d+\\.\\d KiB / 50\\.0 GiB used\\n$`));
    assert.equal((await sourceJson()).allocationBytes, 50 * GiB);

    // --grow: the larger of 1.25 × the allocation and used / 0.75; here 1.25 × 50 GiB.
    const grown = await server.cliJson<SourceJson>(['source', 'allocate', src, '--grow', '--json']);
    assert.equal(grown.allocationBytes, 67_108_864_000);
    assert.equal(grown.allocationBytes, Math.ceil(Math.max(1.25 * 50 * GiB, used / 0.75)));
    assert.equal((await sourceJson()).allocationBytes, 67_108_864_000);

    // Exactly what is used is allowed; growing from there takes used / 0.75 (more than 1.25 × used).
    assert.equal((await server.cliJson<SourceJson>(['source', 'allocate', src, '--size', String(used), '--json'])).allocationBytes, used);
    const fromUsed = await server.cliJson<SourceJson>(['source', 'allocate', src, '--grow', '--json']);
    assert.equal(fromUsed.allocationBytes, Math.ceil(used / 0.75));
    assert.notEqual(fromUsed.allocationBytes, Math.ceil(used * 1.25));
    const allocation = fromUsed.allocationBytes;

    // Below what is used: refused by the server, nothing changes.
    await refused(['source', 'allocate', src, '--size', String(used - 1)], EXIT_USAGE, new RegExp(`is less than the .* ${esc(src)} uses: give at least that, or --grow`));
    await refused(['source', 'allocate', src, '--size', '1'], EXIT_USAGE, new RegExp(`^custos: 1 B is less than the .* ${esc(src)} uses`));
    // Neither or both of --size and --grow.
    await refused(['source', 'allocate', src], EXIT_USAGE, /give --size SIZE or --grow/);
    await refused(['source', 'allocate', src, '--size', '50GiB', '--grow'], EXIT_USAGE, /give --size SIZE or --grow/);
    // Malformed sizes.
    const malformed = ['lots', '5XB', '0.5', '-5GiB'];
    for (let i = 0; i < malformed.length; i += 2) {
      await Promise.all(malformed.slice(i, i + 2).map((size) =>
        refused(['source', 'allocate', src, `--size=${size}`], EXIT_USAGE, new RegExp(`--size takes a size such as 500GiB or 2TB, not ${esc(JSON.stringify(size))}`))));
    }
    // Too large for the server (more than 2^53 - 1 bytes).
    await refused(['source', 'allocate', src, '--size', '99999PiB'], EXIT_USAGE, /bytes must be <= 9007199254740991/);
    const after = await sourceJson();
    assert.equal(after.allocationBytes, allocation, 'refusals change nothing');
    assert.equal(after.usedBytes, used);
  });
});
