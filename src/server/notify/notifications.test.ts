/**
 * Notifications end to end: a real protection server in this process, a
 * real SMTP server (smtp-server on loopback: plain, STARTTLS with a
 * certificate made here, implicit TLS, AUTH) and a real webhook receiver
 * (node:http). The server's clock is a ManualClock; the outbox is driven
 * by flush() (a pass now), never by sleeping.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../../base/index.js';
import type { Catalog } from '../../catalog/index.js';
import { createCertificateAuthority, issueServerCertificate, type KeyedCertificate } from '../../protocol/index.js';
import { DEFAULT_POLICY } from '../../protection/index.js';
import { readAdminToken, startServer, type RunningServer } from '../server.js';
import { cleanupTempDirs, makeTempDir, memoryTmpBase } from '../../../test/helpers/tree.js';
import { craftPoint } from '../../../test/helpers/craft-point.js';
import { MailTrap, startReceiver } from '../../../test/helpers/mail-trap.js';

// --- the protection server ------------------------------------------------------------------------

interface Harness {
  server: RunningServer;
  clock: ManualClock;
  catalog: Catalog;
  admin: string;
  viewer: string;
  logs: string[];
  dataDir: string;
  recoveryDir: string;
  call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, token?: string): Promise<{ status: number; json: any; text: string }>;
  flush(): Promise<void>;
}

const SMTP_PASSWORD = 'pw-Xq8#never-shown-9f2c';
/** 06:59 local time on a Monday, so the digest at 07:00 is a minute away. */
const START = new Date(2026, 2, 2, 6, 59, 0);

async function startHarness(options: { smtpCa?: string; dataDir?: string; clock?: ManualClock; logs?: string[] } = {}): Promise<Harness> {
  const dataDir = options.dataDir ?? join((await makeTempDir('custos-notify-', { base: memoryTmpBase() })).path, 'server');
  const recoveryDir = join(dataDir, '..', 'recovered');
  mkdirSync(recoveryDir, { recursive: true });
  const clock = options.clock ?? new ManualClock(START);
  const logs = options.logs ?? [];
  const server = await startServer({
    dataDir, host: '127.0.0.1', port: 0, clock, tickMs: 3_600_000, notifyTickMs: 3_600_000, log: (l) => logs.push(l), recoveryDirs: [recoveryDir],
    ...(options.smtpCa ? { smtpCa: options.smtpCa } : {}),
  });
  const admin = await readAdminToken(dataDir);
  const call: Harness['call'] = async (method, url, body, token = admin) => {
    const r = await server.inject({ method, url, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) });
    let json: any = null;
    try {
      json = JSON.parse(r.text);
    } catch {
      // not JSON
    }
    return { status: r.status, json, text: r.text };
  };
  // The first scheduler tick's own work (a catalog backup): done before the tests look.
  for (let i = 0; (await server.context.catalog.listJobs({ states: ['queued', 'running'], limit: 10 })).length > 0; i++) {
    if (i > 600) throw new Error('the server did not become idle');
    server.context.engine.kick();
    await new Promise((r) => setTimeout(r, 20));
  }
  const existing = (await server.context.catalog.listApiTokens()).some((t) => t.name === 'view');
  const viewer = existing ? '' : ((await call('POST', '/api/tokens', { name: 'view', role: 'viewer' })).json as { token: string }).token;
  return { server, clock, catalog: server.context.catalog, admin, viewer, logs, dataDir, recoveryDir, call, flush: () => server.context.notifications.flush() };
}

/** A data source in a protection group, straight into the catalog (no agent needed). */
async function addSource(c: Catalog, group: string, id: string): Promise<void> {
  const [agent, , path] = id.split(':');
  const existing = await c.group(group);
  const members = existing ? (await c.listSources({ group })).map((s) => s) : [];
  await c.saveGroup(
    { name: group, policy: JSON.stringify(DEFAULT_POLICY), now: START.toISOString(), create: !existing },
    [...members, {
      id, agent: agent!, kind: 'fs', path: path ?? '/x', group_name: group, replica_state: 'ok', allocation_bytes: 0, used_bytes: 0, created_at: START.toISOString(),
      last_sync_started_at: null, last_sync_ok_at: null, last_point_slot: null, last_check_slot: null, added_to_group_at: null,
    }],
  );
}

/** Flushes until `pick` finds something (a mail arrives a moment after the SMTP server accepted it). */
async function until<T>(h: Harness, pick: () => T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    await h.flush();
    const found = pick();
    if (found !== undefined) return found;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('notifications through a real SMTP server', () => {
  let h: Harness;
  let trap: MailTrap;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  before(async () => {
    trap = await new MailTrap().start();
    receiver = await startReceiver();
    h = await startHarness();
    await addSource(h.catalog, 'g1', 'laptop:fs:/home');
    await addSource(h.catalog, 'g2', 'db:fs:/srv');
    const smtp = await h.call('PUT', '/api/notifications/smtp', { host: '127.0.0.1', port: trap.port, tls: 'none', from: 'custos@example.com' });
    assert.equal(smtp.status, 200, smtp.text);
    for (const r of [
      { address: 'all@example.com', severity: 'info', resolved: true },
      { address: 'critical@example.com', severity: 'critical' },
      { address: 'g1@example.com', severity: 'warning', groups: ['g1'] },
    ]) assert.equal((await h.call('POST', '/api/notifications/recipients', r)).status, 201);
  });

  after(async () => {
    await h?.server.close();
    await trap?.stop();
    receiver?.server.close();
    await cleanupTempDirs();
  });

  test('an alert raised is mailed with its subject, message, recommended action and console link', async () => {
    await h.server.context.alerts.raise('sync-failed', 'laptop:fs:/home', 'sync job 7 failed: agent laptop went away', h.clock.now(), 7);
    const mail = await until(h, () => trap.to('all@example.com').find((m) => m.subject.includes('laptop:fs:/home')), 'the alert mail');
    assert.equal(mail.subject, '[Custos] CRITICAL: Synchronization failed — laptop:fs:/home');
    assert.equal(mail.from, 'custos@example.com');
    assert.deepEqual(mail.to, ['all@example.com'], 'one mail per recipient: nobody sees the others');
    assert.match(mail.body, /sync job 7 failed: agent laptop went away/);
    assert.match(mail.body, /Recommended action:\s+See the failed job's log \(custos job show 7\)/);
    assert.match(mail.body, new RegExp(`Alerts in the console: ${h.server.url.replace(/[.]/g, '\\.')}/#/monitoring/alerts`));
    const outbox = await h.catalog.listOutbox({ limit: 100 });
    assert.ok(outbox.filter((m) => m.subject === mail.subject).every((m) => m.state === 'sent'));
  });

  test('severity and group filters: each recipient gets only what it asked for', async () => {
    const before = trap.mails.length;
    // A warning about g2's data source: all@ (info and up) only — critical@ wants critical, g1@ wants group g1.
    await h.server.context.alerts.raise('allocation-warning', 'db:fs:/srv', 'disk allocation 81% used', h.clock.now());
    // A critical alert about g1's: all three.
    await h.server.context.alerts.raise('replica-inconsistent', 'laptop:fs:/home', 'the replica is inconsistent: test', h.clock.now());
    await until(h, () => (trap.mails.length >= before + 4 ? true : undefined), 'four mails');
    const fresh = trap.mails.slice(before);
    const got = (address: string) => fresh.filter((m) => m.to.includes(address)).map((m) => m.subject).sort();
    assert.deepEqual(got('all@example.com'), ['[Custos] CRITICAL: Replica is inconsistent — laptop:fs:/home', '[Custos] WARNING: Disk allocation 80% used — db:fs:/srv']);
    assert.deepEqual(got('critical@example.com'), ['[Custos] CRITICAL: Replica is inconsistent — laptop:fs:/home']);
    assert.deepEqual(got('g1@example.com'), ['[Custos] CRITICAL: Replica is inconsistent — laptop:fs:/home']);
    assert.equal(fresh.length, 4);
    // Resolved: only the recipient that asked for resolved mails.
    await h.server.context.alerts.resolve('replica-inconsistent', 'laptop:fs:/home', h.clock.now());
    const resolved = await until(h, () => trap.mails.slice(before + 4).find((m) => m.subject.startsWith('[Custos] RESOLVED')), 'the resolved mail');
    assert.deepEqual(resolved.to, ['all@example.com']);
    assert.equal(resolved.subject, '[Custos] RESOLVED: Replica is inconsistent — laptop:fs:/home');
    await h.flush();
    assert.equal(trap.mails.slice(before + 4).length, 1, 'critical@ and g1@ did not ask for resolved mails');
    // Resolved by hand (POST /api/alerts/:id/resolve): the same.
    const active = (await h.catalog.listAlerts('active')).find((a) => a.kind === 'allocation-warning')!;
    assert.equal((await h.call('POST', `/api/alerts/${active.id}/resolve`)).status, 200);
    const byHand = await until(h, () => trap.mails.slice(before + 5).find((m) => m.subject === '[Custos] RESOLVED: Disk allocation 80% used — db:fs:/srv'), 'the mail of a resolve by hand');
    assert.deepEqual(byHand.to, ['all@example.com']);
    assert.equal((await h.call('POST', `/api/alerts/${active.id}/resolve`)).status, 200);
    await h.flush();
    assert.equal(trap.mails.slice(before + 5).filter((m) => m.subject.startsWith('[Custos] RESOLVED')).length, 1, 'resolving it again mails nobody');
  });

  test('the daily digest goes out at its time: active alerts, jobs per group, newest point age', async () => {
    const c = h.catalog;
    h.clock.set(START); // 06:59 local
    assert.equal((await h.call('PUT', '/api/notifications/digest', { enabled: true, at: '07:00' })).status, 200);
    const t = h.clock.now().toISOString();
    const job = (kind: string, source: string, state: string) =>
      c.insertJob({ kind, state, source_id: source, agent: null, created_at: t, started_at: t, finished_at: t, attempts: 1, next_attempt_at: t, progress: '{}', error: null, result: null, params: '{}', slot: null });
    await job('sync', 'laptop:fs:/home', 'succeeded');
    await job('sync', 'laptop:fs:/home', 'succeeded');
    await job('recovery-point', 'laptop:fs:/home', 'failed');
    await job('sync', 'db:fs:/srv', 'succeeded');
    await c.insertPoint({ id: 'aa'.repeat(16), source_id: 'laptop:fs:/home', time: new Date(START.getTime() - 3 * 3_600_000).toISOString(), recovery_point: 1, partial: 0, files: 1, logical_bytes: 1, bytes_added: 1, job_id: null });
    await h.server.context.alerts.raise('agent-disconnected', 'laptop', 'agent laptop has been disconnected for an hour', h.clock.now());
    const before = trap.mails.length;
    await h.flush();
    await h.flush();
    assert.equal(trap.mails.slice(before).filter((m) => m.subject.includes('digest')).length, 0, 'not before 07:00');
    h.clock.advance(60_000); // 07:00 local
    const digest = await until(h, () => trap.to('all@example.com').find((m) => m.subject.startsWith('[Custos] Daily digest')), 'the digest');
    assert.match(digest.subject, /^\[Custos\] Daily digest: \d+ active alerts?, 1 failed job$/);
    assert.match(digest.body, /g1: 2 succeeded, 1 failed/);
    assert.match(digest.body, /g2: 1 succeeded, 0 failed/);
    assert.match(digest.body, /laptop:fs:\/home: 3 h old/);
    assert.match(digest.body, /db:fs:\/srv: none/);
    assert.match(digest.body, /CRITICAL {2}laptop:fs:\/home: sync job 7 failed/);
    // The g1 recipient sees g1 only.
    const g1 = await until(h, () => trap.to('g1@example.com').find((m) => m.subject.startsWith('[Custos] Daily digest')), 'g1 digest');
    assert.match(g1.body, /g1: 2 succeeded/);
    assert.match(g1.body, /WARNING {2}laptop: agent laptop has been disconnected/, 'an agent\'s alert belongs to the groups of its data sources');
    assert.doesNotMatch(g1.body, /g2:|db:fs/);
    // Once a day.
    h.clock.advance(3_600_000);
    await h.flush();
    assert.equal(trap.to('all@example.com').filter((m) => m.subject.startsWith('[Custos] Daily digest')).length, 1);
    h.clock.advance(23 * 3_600_000);
    await until(h, () => (trap.to('all@example.com').filter((m) => m.subject.startsWith('[Custos] Daily digest')).length === 2 ? true : undefined), 'the next day\'s digest');
    assert.equal((await h.call('PUT', '/api/notifications/digest', { enabled: false })).status, 200);
  });

  test('a webhook gets the alert as JSON, HMAC-signed over its timestamp and body; its severity filter holds', async () => {
    const secret = 'whsec-0123456789abcdef';
    const added = await h.call('POST', '/api/notifications/webhooks', { url: receiver.url, secret, severity: 'critical' });
    assert.equal(added.status, 201, added.text);
    assert.equal(JSON.stringify(added.json).includes(secret), false);
    const list = await h.call('GET', '/api/notifications/webhooks', undefined, h.viewer);
    assert.equal(list.status, 200);
    assert.equal(list.text.includes(secret), false, 'the secret is never shown');
    await h.server.context.alerts.raise('agent-disconnected', 'laptop', 'agent laptop has been disconnected', h.clock.now()); // a warning: not posted
    await h.server.context.alerts.raise('pool-damaged', 'db:fs:/srv', '2 recovery points damaged', h.clock.now());
    const hook = await until(h, () => receiver.hooks.find((x) => x.body.includes('pool-damaged')), 'the webhook');
    const ts = String(hook.headers['x-custos-timestamp']);
    assert.match(ts, /^\d+$/);
    assert.equal(Number(ts), Math.floor(h.clock.now().getTime() / 1000));
    const expected = `sha256=${createHmac('sha256', secret).update(`${ts}.${hook.body}`).digest('hex')}`;
    const sig = String(hook.headers['x-custos-signature']);
    assert.ok(timingSafeEqual(Buffer.from(sig), Buffer.from(expected)), `signature ${sig}`);
    assert.notEqual(sig, `sha256=${createHmac('sha256', secret).update(hook.body).digest('hex')}`, 'the timestamp is signed too');
    assert.equal(hook.headers['content-type'], 'application/json');
    const body = JSON.parse(hook.body) as { event: string; alert: { kind: string; severity: string; subject: string; recommendedAction: string } };
    assert.equal(body.event, 'alert.raised');
    assert.deepEqual([body.alert.kind, body.alert.severity, body.alert.subject], ['pool-damaged', 'critical', 'db:fs:/srv']);
    assert.match(body.alert.recommendedAction, /custos check db:fs:\/srv/);
    assert.equal(receiver.hooks.filter((x) => x.body.includes('agent-disconnected')).length, 0, 'a warning is below the webhook\'s severity');
    // Removing it: nothing more is posted to it.
    const id = (added.json as { id: number }).id;
    assert.equal((await h.call('DELETE', `/api/notifications/webhooks/${id}`)).status, 200);
    assert.deepEqual((await h.call('GET', '/api/notifications/webhooks')).json, []);
  });

  test('a recovery that asked for it mails what was recovered, where, the outcome and the counts', async () => {
    const pool = h.server.context.pool;
    const point = await craftPoint(pool, [{ path: '', type: 'dir' }, { path: 'a.txt', content: 'hello' }, { path: 'b.txt', content: 'world!' }], { sourcePath: '/home' });
    await h.catalog.insertPoint({ id: point.id, source_id: 'laptop:fs:/home', time: point.time, recovery_point: 1, partial: 0, files: 2, logical_bytes: 11, bytes_added: 11, job_id: null });
    const target = join(h.recoveryDir, 'r1');
    const asked = await h.call('POST', '/api/recoveries', { source: 'laptop:fs:/home', point: point.id, to: `server:${target}`, notify: ['ann@example.com', 'bob@example.com'] });
    assert.equal(asked.status, 202, asked.text);
    const jobId = (asked.json as { id: number }).id;
    const mail = await until(h, () => trap.to('ann@example.com').find((m) => m.subject.startsWith('[Custos] Recovery')), 'the recovery mail');
    const job = await h.catalog.job(jobId);
    assert.equal(job?.state, 'succeeded', job?.error ?? '');
    assert.equal(mail.subject, `[Custos] Recovery finished: laptop:fs:/home → server:${target}`);
    assert.match(mail.body, new RegExp(`Recovery job ${jobId} succeeded`));
    assert.match(mail.body, new RegExp(`Recovery point: ${point.id}`));
    assert.match(mail.body, /Items: +the whole recovery point/);
    assert.match(mail.body, /Counts: files 2, dirs \d+, .*bytes 11/);
    assert.ok(trap.to('bob@example.com').some((m) => m.subject === mail.subject));
    // The addresses are checked: a line break, a list, six of them, are refused before anything is queued.
    const jobsBefore = (await h.catalog.listJobs({ limit: 1000 })).length;
    for (const notify of [['ann@example.com\r\nBcc: eve@evil.example'], ['ann@example.com, eve@evil.example'], ['<ann@example.com>'], Array.from({ length: 6 }, (_, i) => `u${i}@example.com`)]) {
      const r = await h.call('POST', '/api/recoveries', { source: 'laptop:fs:/home', point: point.id, to: `server:${target}`, notify });
      assert.equal(r.status, 400, `${JSON.stringify(notify)}: ${r.text}`);
    }
    assert.equal((await h.call('POST', '/api/recoveries', { source: 'laptop:fs:/home', point: point.id, to: `server:${target}`, notify: 'ann@example.com' })).status, 400);
    assert.equal((await h.catalog.listJobs({ limit: 1000 })).length, jobsBefore);
  });

  test('the mail server down: the job still succeeds, the mail waits in the outbox and goes out once it is back', async () => {
    const port = trap.port;
    await trap.stop();
    const point = (await h.catalog.listPoints('laptop:fs:/home')).at(-1)!;
    const asked = await h.call('POST', '/api/recoveries', { source: 'laptop:fs:/home', point: point.id, to: `server:${join(h.recoveryDir, 'r2')}`, notify: ['carol@example.com'] });
    assert.equal(asked.status, 202, asked.text);
    const jobId = (asked.json as { id: number }).id;
    for (let i = 0; i < 500 && (await h.catalog.job(jobId))?.state !== 'succeeded'; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal((await h.catalog.job(jobId))?.state, 'succeeded', 'a mail server that is down never fails a job');
    await h.server.context.alerts.raise('disk-full', 'db:fs:/srv', 'ENOSPC', h.clock.now());
    const waiting = () => h.catalog.listOutbox({ state: 'queued' });
    for (let i = 0; i < 200 && !(await waiting()).some((m) => m.destination === 'carol@example.com' && m.attempts > 0); i++) await h.flush();
    const queued = (await waiting()).find((m) => m.destination === 'carol@example.com')!;
    assert.ok(queued.attempts >= 1 && queued.last_error, 'tried and failed');
    assert.match(queued.last_error!, /ECONNREFUSED|connect/i);
    assert.ok(h.logs.some((l) => l.includes('not sent, attempt 1') && l.includes('carol@example.com')));
    await trap.start(port);
    await h.flush();
    assert.equal(trap.to('carol@example.com').length, 0, 'not before its retry time (backoff)');
    h.clock.advance(61_000);
    const mail = await until(h, () => trap.to('carol@example.com')[0], 'the delayed mail');
    assert.match(mail.body, new RegExp(`Recovery job ${jobId} succeeded`));
    await until(h, () => trap.to('all@example.com').find((m) => m.subject.includes('Disk full')), 'the delayed alert mail');
  });

  test('hostile input is refused and changes nothing', async () => {
    const refused = async (method: 'PUT' | 'POST', url: string, body: unknown, token = h.admin) => {
      const r = await h.call(method, url, body, token);
      assert.ok(r.status === 400 || r.status === 413, `${url} ${JSON.stringify(body).slice(0, 120)}: ${r.status} ${r.text}`);
      return r;
    };
    const smtpBefore = (await h.call('GET', '/api/notifications/smtp')).text;
    const recipientsBefore = (await h.call('GET', '/api/notifications/recipients')).text;
    // Webhooks: plain http only to loopback; no credentials in the URL; not another scheme.
    for (const url of ['http://example.com/hook', 'http://10.0.0.5/hook', 'http://[fd00::1]/hook', 'http://127.0.0.1.example.com/x', 'https://user:pw@example.com/hook', 'ftp://example.com/x', 'file:///etc/passwd']) {
      const r = await refused('POST', '/api/notifications/webhooks', { url, secret: 's'.repeat(20) });
      assert.match(r.json.error.message, /loopback|this computer|user or password|https|must match/, r.text);
    }
    await refused('POST', '/api/notifications/webhooks', { url: 'https://example.com/hook', secret: 'short' });
    await refused('POST', '/api/notifications/webhooks', { url: 'https://example.com/hook', secret: 's'.repeat(513) });
    await refused('POST', '/api/notifications/webhooks', { url: 'https://example.com/hook', secret: 'line\r\nbreak-0123456789' });
    // Header injection through addresses and settings.
    for (const address of ['a@example.com\r\nBcc: eve@evil.example', 'a@example.com\nX: y', 'Ann <a@example.com>', 'a@example.com,eve@evil.example', 'a b@example.com', 'x'.repeat(300) + '@example.com']) {
      await refused('POST', '/api/notifications/recipients', { address });
      await refused('PUT', '/api/notifications/smtp', { host: '127.0.0.1', port: trap.port, tls: 'none', from: address });
      await refused('POST', '/api/notifications/test', { to: address });
    }
    await refused('PUT', '/api/notifications/smtp', { host: 'mail.example.com\r\nX-Evil: 1', from: 'custos@example.com' });
    await refused('PUT', '/api/notifications/smtp', { host: 'mail.example.com', user: 'u\r\nX: y', password: 'p', from: 'custos@example.com' });
    const plain = await refused('PUT', '/api/notifications/smtp', { host: 'mail.example.com', tls: 'none', from: 'custos@example.com' });
    assert.match(plain.json.error.message, /only to a mail server on this computer/);
    // Bounds, unknown fields, wrong types, unknown groups.
    await refused('POST', '/api/notifications/recipients', { address: 'a@example.com', groups: Array.from({ length: 101 }, (_, i) => `g${i}`) });
    await refused('POST', '/api/notifications/recipients', { address: 'a@example.com', groups: ['no-such-group'] });
    await refused('POST', '/api/notifications/recipients', { address: 'a@example.com', severity: 'urgent' });
    await refused('POST', '/api/notifications/recipients', { address: 'a@example.com', admin: true });
    await refused('POST', '/api/notifications/recipients', { address: ['a@example.com'] });
    await refused('PUT', '/api/notifications/digest', { enabled: true, at: '25:00' });
    await refused('PUT', '/api/notifications/smtp', { host: 'h', from: 'custos@example.com', password: 'x'.repeat(1025), user: 'u' });
    const huge = await h.call('POST', '/api/notifications/recipients', JSON.stringify({ address: 'a@example.com', pad: 'x'.repeat(2_000_000) }));
    assert.equal(huge.status, 413);
    // A viewer reads, never changes.
    for (const [method, url, body] of [
      ['PUT', '/api/notifications/smtp', { host: '127.0.0.1', tls: 'none', from: 'eve@evil.example' }],
      ['POST', '/api/notifications/recipients', { address: 'eve@evil.example' }],
      ['DELETE', '/api/notifications/recipients/all%40example.com', undefined],
      ['POST', '/api/notifications/webhooks', { url: 'https://evil.example/x', secret: 's'.repeat(20) }],
      ['PUT', '/api/notifications/digest', { enabled: true }],
      ['POST', '/api/notifications/test', {}],
    ] as const) {
      const r = await h.call(method, url, body, h.viewer);
      assert.equal(r.status, 403, `viewer ${method} ${url}: ${r.status}`);
    }
    assert.equal((await h.call('GET', '/api/notifications/recipients', undefined, h.viewer)).status, 200);
    assert.equal((await h.call('GET', '/api/notifications/smtp')).text, smtpBefore);
    assert.equal((await h.call('GET', '/api/notifications/recipients')).text, recipientsBefore);
  });

  test('a data source whose name holds a line break cannot add a header or a recipient to a mail', async () => {
    const evil = 'laptop:fs:/home/x\r\nBcc: eve@evil.example\r\nSubject: pwned';
    const before = trap.mails.length;
    await h.server.context.alerts.raise('agent-disconnected', evil, 'gone', h.clock.now());
    const mail = await until(h, () => trap.mails.slice(before).find((m) => m.to.includes('all@example.com')), 'the mail');
    assert.equal(mail.subject, '[Custos] WARNING: Protection agent unreachable — laptop:fs:/home/x Bcc: eve@evil.example Subject: pwned');
    const head = mail.raw.split('\r\n\r\n')[0]!;
    assert.doesNotMatch(head, /^Bcc:/im);
    assert.equal(head.match(/^Subject:/gim)?.length, 1);
    assert.ok(trap.mails.slice(before).every((m) => !m.to.includes('eve@evil.example')));
  });
});

describe('TLS, login and secrets', () => {
  let ca: KeyedCertificate;
  let cert: KeyedCertificate;

  before(async () => {
    ca = await createCertificateAuthority('notify test CA');
    cert = await issueServerCertificate(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  });

  after(cleanupTempDirs);

  test('STARTTLS with a login: the mail goes encrypted; the password is never in an answer, a log line or the audit log', async () => {
    const trap = await new MailTrap({ tls: 'starttls', cert, auth: { user: 'custos', pass: SMTP_PASSWORD } }).start();
    const h = await startHarness({ smtpCa: ca.certPem });
    try {
      const set = await h.call('PUT', '/api/notifications/smtp', { host: 'localhost', port: trap.port, tls: 'starttls', user: 'custos', password: SMTP_PASSWORD, from: 'custos@example.com' });
      assert.equal(set.status, 200, set.text);
      assert.deepEqual(set.json, { smtp: { host: 'localhost', port: trap.port, tls: 'starttls', user: 'custos', passwordSet: true, from: 'custos@example.com' } });
      assert.equal((await h.call('POST', '/api/notifications/recipients', { address: 'ops@example.com', severity: 'critical' })).status, 201);
      const test1 = await h.call('POST', '/api/notifications/test', {});
      assert.deepEqual(test1.json, { results: [{ channel: 'mail', destination: 'ops@example.com', ok: true, error: null }] });
      const mail = trap.to('ops@example.com')[0]!;
      assert.equal(mail.secure, true, 'upgraded with STARTTLS');
      assert.equal(mail.user, 'custos');
      assert.equal(mail.subject, '[Custos] Test notification');
      // Through the outbox too.
      await h.server.context.alerts.raise('sync-failed', 'laptop:fs:/home', 'failed', h.clock.now());
      const alert = await until(h, () => trap.to('ops@example.com').find((m) => m.subject.startsWith('[Custos] CRITICAL')), 'the alert mail');
      assert.equal(alert.secure, true);
      // Host changed, same user: the stored password is kept without being sent again.
      const kept = await h.call('PUT', '/api/notifications/smtp', { host: '127.0.0.1', port: trap.port, tls: 'starttls', user: 'custos', from: 'custos@example.com' });
      assert.equal(kept.json.smtp.passwordSet, true);
      assert.deepEqual((await h.call('POST', '/api/notifications/test', { to: 'x@example.com' })).json.results[0].ok, true);
      // A wrong password: the error says so, without the password (answer, log, audit).
      await h.call('PUT', '/api/notifications/smtp', { host: 'localhost', port: trap.port, tls: 'starttls', user: 'custos', password: `${SMTP_PASSWORD}-wrong`, from: 'custos@example.com' });
      const bad = await h.call('POST', '/api/notifications/test', {});
      assert.equal(bad.json.results[0].ok, false);
      assert.match(bad.json.results[0].error, /auth|535|login/i);
      await h.server.context.alerts.raise('replica-inconsistent', 'laptop:fs:/home', 'x', h.clock.now());
        for (let i = 0; i < 100 && !h.logs.some((l) => l.includes('not sent, attempt 1')); i++) await h.flush();
      assert.ok(h.logs.some((l) => l.includes('not sent, attempt 1')), 'the failed login was logged');
      const answers = [
        (await h.call('GET', '/api/notifications/smtp')).text,
        (await h.call('GET', '/api/notifications/smtp', undefined, h.viewer)).text,
        (await h.call('GET', '/api/audit?limit=10000')).text,
        bad.text,
        set.text,
        (await h.call('GET', '/api/openapi.json')).text,
      ];
      const audit = await h.catalog.listAudit({ limit: 10_000 });
      assert.ok(audit.some((a) => a.action === 'notify.smtp' && a.outcome === 'ok'), 'the change is audited');
      for (const text of [...answers, ...h.logs, ...audit.map((a) => JSON.stringify(a))]) {
        assert.equal(text.includes(SMTP_PASSWORD), false, `the password leaked: ${text.slice(0, 300)}`);
      }
    } finally {
      await h.server.close();
      await trap.stop();
    }
  });

  test('starttls is required, never plain text; implicit TLS works', async () => {
    const plain = await new MailTrap({ tls: 'none' }).start(); // offers no STARTTLS
    const implicit = await new MailTrap({ tls: 'implicit', cert }).start();
    const h = await startHarness({ smtpCa: ca.certPem });
    try {
      await h.call('PUT', '/api/notifications/smtp', { host: '127.0.0.1', port: plain.port, tls: 'starttls', from: 'custos@example.com' });
      const r = await h.call('POST', '/api/notifications/test', { to: 'x@example.com' });
      assert.equal(r.json.results[0].ok, false);
      assert.match(r.json.results[0].error, /STARTTLS/i);
      assert.equal(plain.mails.length, 0, 'nothing went in clear');
      await h.call('PUT', '/api/notifications/smtp', { host: '127.0.0.1', port: implicit.port, tls: 'implicit', from: 'custos@example.com' });
      const ok = await h.call('POST', '/api/notifications/test', { to: 'x@example.com' });
      assert.equal(ok.json.results[0].ok, true, ok.text);
      assert.equal(implicit.mails[0]?.secure, true);
    } finally {
      await h.server.close();
      await plain.stop();
      await implicit.stop();
    }
  });

  test('the outbox survives a restart, and gives up after 24 h with a log line and an audit entry', async () => {
    const trap = await new MailTrap().start();
    const port = trap.port;
    await trap.stop();
    const clock = new ManualClock(START);
    const logs: string[] = [];
    let h = await startHarness({ clock, logs });
    const dataDir = h.dataDir;
    try {
      await h.call('PUT', '/api/notifications/smtp', { host: '127.0.0.1', port, tls: 'none', from: 'custos@example.com' });
      await h.call('POST', '/api/notifications/recipients', { address: 'ops@example.com' });
      await h.server.context.alerts.raise('sync-failed', 'a:fs:/x', 'first', clock.now());
      await h.flush();
      await h.server.close();
      // Another message that never gets through, to see the give-up.
      h = await startHarness({ clock, logs, dataDir });
      await h.catalog.queueNotifications([{ channel: 'mail', destination: 'late@example.com', subject: 'old', body: 'x' }], new Date(START.getTime() - 25 * 3_600_000).toISOString());
      await trap.start(port);
      clock.advance(61_000);
      const mail = await until(h, () => trap.to('ops@example.com')[0], 'the mail queued before the restart');
      assert.match(mail.subject, /Synchronization failed — a:fs:\/x/);
      const failed = (await h.catalog.listOutbox({ state: 'failed' })).find((m) => m.destination === 'late@example.com');
      assert.ok(failed, 'a message older than 24 h is given up');
      assert.equal(trap.to('late@example.com').length, 0);
      assert.ok(logs.some((l) => l.includes('given up after') && l.includes('late@example.com')));
      const audit = await h.catalog.listAudit({ limit: 100, action: 'notification.give-up' });
      assert.equal(audit[0]?.target, 'late@example.com');
      assert.equal(audit[0]?.outcome, 'failed');
    } finally {
      await h.server.close();
      await trap.stop();
    }
  });
});
