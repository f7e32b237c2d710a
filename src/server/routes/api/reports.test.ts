/**
 * Reports through the whole HTTP pipeline of a server in this process (a
 * fake clock), and a scheduled PDF report received by a real SMTP server
 * (smtp-server on loopback) whose text is checked — driven by the clock and
 * the outbox's flush(), never by sleeping a fixed time.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../../base/index.js';
import { readAdminToken, startServer, type RunningServer } from '../../server.js';
import { MailTrap, type Received } from '../../../../test/helpers/mail-trap.js';
import { pdfText } from '../../../../test/helpers/pdf-text.js';

/** Monday 2026-03-09 06:58 local time: a report scheduled at 07:00 is two minutes away. */
const START = new Date(2026, 2, 9, 6, 58);
/** A data source whose path is hostile markup. */
const SOURCE = 'laptop:fs:/home/<script>x</script>';
const at = (daysBefore: number, hour: number, minute = 0) => new Date(2026, 2, 9 - daysBefore, hour, minute).toISOString();

/** The attachment of a multipart mail, decoded. */
function attachmentOf(mail: Received, type: string): Buffer | null {
  const boundary = /boundary="?([^";\r\n]+)"?/i.exec(mail.raw)?.[1];
  if (!boundary) return null;
  for (const part of mail.raw.split(`--${boundary}`)) {
    const [head = '', ...body] = part.split('\r\n\r\n');
    if (new RegExp(`Content-Type: ${type}`, 'i').test(head)) return Buffer.from(body.join('\r\n\r\n').replace(/\s/g, ''), 'base64');
  }
  return null;
}

describe('reports over REST, and mailed on a schedule', () => {
  let server: RunningServer;
  let dir: string;
  let admin: string;
  let viewer: string;
  let trap: MailTrap;
  const clock = new ManualClock(START);
  const call = async (method: 'GET' | 'PUT' | 'DELETE' | 'POST' | 'PATCH', url: string, token: string, body?: unknown) =>
    server.inject({ method, url, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'custos-reports-'));
    trap = await new MailTrap().start();
    server = await startServer({ dataDir: dir, host: '127.0.0.1', port: 0, clock, tickMs: 3_600_000, notifyTickMs: 3_600_000, log: () => undefined });
    admin = await readAdminToken(dir);
    viewer = (JSON.parse((await call('POST', '/api/tokens', admin, { name: 'v', role: 'viewer' })).text) as { token: string }).token;
    const c = server.context.catalog;
    await c.insertAgent({ name: 'laptop', cert_serial: '01', cert_fingerprint: 'ff', hostname: 'laptop.lan', attached_at: at(10, 9), last_seen: at(0, 6), version: '0.9.0', revoked_at: null });
    clock.set(new Date(2026, 2, 1, 9, 0)); // the group exists since Sunday a week before
    const created = await call('POST', '/api/protection-groups', admin, { name: 'homes', sources: [SOURCE], points: '20:00', rpoTarget: '1d', rtoTarget: '1h' });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual([JSON.parse(created.text).group.rpoTargetMinutes, JSON.parse(created.text).group.rtoTargetMinutes], [1440, 60]);
    clock.set(START);
    assert.equal((await call('PATCH', '/api/protection-groups/homes', admin, { rtoTarget: 'soon' })).status, 400);
    // Jobs of the last days: 3 succeeded and 1 failed synchronizations, a recovery of 30 minutes.
    const job = (kind: string, state: string, d: number, h: number, minutes = 5) =>
      c.insertJob({ kind, state, source_id: SOURCE, agent: 'laptop', created_at: at(d, h), started_at: at(d, h), finished_at: at(d, h, minutes), attempts: 1, next_attempt_at: at(d, h), progress: '{}', error: null, result: null, params: '{}', slot: null });
    await job('sync', 'succeeded', 2, 10);
    await job('sync', 'succeeded', 2, 11);
    await job('sync', 'failed', 2, 12);
    await job('sync', 'succeeded', 1, 10);
    await job('recovery', 'succeeded', 1, 14, 30);
    let i = 0;
    for (const d of [3, 2]) {
      await c.insertPoint({ id: `p${i++}`, source_id: SOURCE, time: at(d, 20), recovery_point: 1, partial: 0, files: 10, logical_bytes: 5_000_000, bytes_added: 1_000_000, job_id: null });
    }
  });

  after(async () => {
    await server?.close();
    await trap?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('a viewer reads every report as JSON, and as HTML, CSV and PDF', async () => {
    const status = await call('GET', '/api/reports/status', viewer);
    assert.equal(status.status, 200, status.text);
    const r = JSON.parse(status.text);
    assert.deepEqual(r.totals, { succeeded: 4, failed: 1, cancelled: 0 });
    assert.equal(r.days.length, 8, 'the 7 days up to now touch 8 calendar days');
    const sla = JSON.parse((await call('GET', '/api/reports/sla', viewer)).text);
    assert.deepEqual(sla.groups.map((g: any) => [g.group, g.measuredRtoSeconds, g.rtoMet]), [['homes', 1800, true]]);
    assert.equal(sla.groups[0].rpoMet, false, 'no point from Monday to Friday 20:00: more than a day');
    const computers = JSON.parse((await call('GET', '/api/reports/protected-computers', viewer)).text);
    assert.deepEqual(computers.computers.map((x: any) => [x.name, x.status, x.version, x.dataSources]), [['laptop', 'disconnected', '0.9.0', 1]]);
    const disk = JSON.parse((await call('GET', '/api/reports/disk-utilization?from=2026-03-02&to=2026-03-08', viewer)).text);
    assert.deepEqual(disk.groups.map((g: any) => [g.group, g.logicalBytes, g.bytesAdded]), [['homes', 5_000_000, 2_000_000]]);
    const rp = JSON.parse((await call('GET', '/api/reports/recovery-points', viewer)).text);
    // Points Friday and Saturday 20:00: Monday to Thursday's slots missed; Sunday's is not judged before Monday 20:00.
    assert.deepEqual([rp.sources[0].source, rp.sources[0].pointsExpected, rp.sources[0].pointsMissed, rp.sources[0].missedRpo], [SOURCE, 6, 4, true]);
    const html = await call('GET', '/api/reports/recovery-points?format=html', viewer);
    assert.equal(html.status, 200);
    assert.ok(!html.text.includes('<script>x'), 'the path is escaped');
    assert.ok(html.text.includes('&lt;script&gt;x&lt;/script&gt;'));
    const csv = await call('GET', '/api/reports/status?format=csv&from=2026-03-07&to=2026-03-08', viewer);
    assert.equal(csv.text.split('\r\n')[0], 'Group,Day,Kind,Succeeded,Failed,Cancelled');
    assert.ok(csv.text.includes('homes,2026-03-07,sync,2,1,0\r\n'), csv.text);
    const pdf = await call('GET', '/api/reports/disk-utilization?format=pdf', viewer);
    assert.ok(pdf.text.startsWith('%PDF-1.4'));
  });

  test('bad names, dates and formats are refused with 400', async () => {
    for (const url of [
      '/api/reports/tape', '/api/reports/status?format=xls', '/api/reports/status?from=2026-13-01', '/api/reports/status?from=yesterday',
      '/api/reports/status?from=2026-03-09&to=2026-03-01', '/api/reports/status?from=2024-01-01&to=2026-01-01', '/api/reports/status?color=red',
    ]) {
      const r = await call('GET', url, viewer);
      assert.equal(r.status, 400, `${url}: ${r.text}`);
    }
  });

  test('a viewer may not schedule; a bad schedule is refused', async () => {
    const body = { report: 'status', daily: '07:00', to: ['ops@example.com'] };
    assert.equal((await call('PUT', '/api/report-schedules', viewer, body)).status, 403);
    assert.equal((await call('GET', '/api/report-schedules', viewer)).status, 403);
    assert.equal((await call('PUT', '/api/report-schedules', admin, { ...body, daily: '7am' })).status, 400);
    assert.equal((await call('PUT', '/api/report-schedules', admin, { ...body, to: ['not an address'] })).status, 400);
    assert.equal((await call('PUT', '/api/report-schedules', admin, { ...body, to: Array.from({ length: 11 }, (_, i) => `a${i}@example.com`) })).status, 400);
    assert.equal((await call('DELETE', '/api/report-schedules/status', admin)).status, 404);
  });

  test('a scheduled report is mailed once a day at its time as a PDF whose text is checked', async () => {
    assert.equal((await call('PUT', '/api/notifications/smtp', admin, { host: '127.0.0.1', port: trap.port, tls: 'none', from: 'custos@example.com' })).status, 200);
    const put = await call('PUT', '/api/report-schedules', admin, { report: 'status', daily: '07:00', to: ['ops@example.com', 'boss@example.com'] });
    assert.equal(put.status, 200, put.text);
    assert.equal(JSON.parse(put.text).format, 'pdf');
    const n = server.context.notifications;
    await n.flush();
    assert.equal(trap.mails.length, 0, 'not before 07:00');
    clock.set(new Date(2026, 2, 9, 7, 0));
    let mail: Received | undefined;
    for (let i = 0; i < 200 && trap.to('boss@example.com').length === 0; i++) {
      await n.flush();
      await new Promise((r) => setImmediate(r));
    }
    for (let i = 0; i < 200 && !(mail = trap.to('ops@example.com')[0]); i++) await n.flush();
    assert.ok(mail, 'the report arrived');
    assert.equal(mail.subject, '[Custos] Status report, 2026-03-09');
    // The server's own jobs (catalog backups) count too: the mail says what the report over the same period says.
    const same = JSON.parse((await call('GET', `/api/reports/status?from=${encodeURIComponent(new Date(2026, 2, 2, 7, 0).toISOString())}&to=${encodeURIComponent(new Date(2026, 2, 9, 7, 0).toISOString())}`, admin)).text);
    const line = `${same.totals.succeeded} jobs succeeded, 1 failed, 0 cancelled`;
    assert.ok(mail.body.includes(line), mail.body);
    const pdf = attachmentOf(mail, 'application/pdf');
    assert.ok(pdf, 'a PDF is attached');
    const text = pdfText(pdf);
    assert.match(text, /Status report/);
    assert.ok(text.includes(line), text);
    assert.match(text, /homes/);
    // Later the same day, and after the clock moves on within it: no second mail.
    clock.set(new Date(2026, 2, 9, 18, 0));
    await n.flush();
    assert.equal(trap.to('ops@example.com').length, 1, 'once a day');
    const list = JSON.parse((await call('GET', '/api/report-schedules', admin)).text);
    assert.deepEqual(list.map((s: any) => [s.report, s.lastSentDay, s.to.length]), [['status', '2026-03-09', 2]]);
    assert.equal((await call('DELETE', '/api/report-schedules/status', admin)).status, 200);
  });
});
