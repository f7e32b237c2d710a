import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import type { AlertRow } from '../../catalog/index.js';
import { alertMail, digestMail, oneLine, recoveryMail, severityReaches } from './messages.js';
import { notifyRetryDelayMs, localClockTime, localDay } from './notifications.js';
import { checkWebhookUrl, isLoopbackHost } from './notify-settings.js';
import { webhookSignature } from './senders.js';

const alert = (subject: string, severity = 'critical'): AlertRow => ({
  id: 1, kind: 'sync-failed', subject, severity, state: 'active', message: 'failed\r\nBcc: x@y.z', recommended_action: 'do this', raised_at: '2026-03-02T09:00:00.000Z', resolved_at: null,
});

test('a subject is one line whatever the alert holds: no CR, LF, other control characters or U+2028', () => {
  const m = alertMail('a@example.com', alert('laptop:fs:/x\r\nBcc: eve@evil.example\u2028X: 1\u0000'), 'Synchronization failed', null, false);
  assert.equal(m.subject, '[Custos] CRITICAL: Synchronization failed — laptop:fs:/x Bcc: eve@evil.example X: 1');
  assert.doesNotMatch(m.subject, /[\u0000-\u001f\u2028\u2029]/);
  assert.equal(oneLine('a'.repeat(500), 10), `${'a'.repeat(9)}…`);
  const r = recoveryMail('a@example.com', { job: 1, source: 's\n1', point: 'p', target: 't\r\nX: y', items: [], state: 'failed', error: 'e', result: null, requestedBy: null });
  assert.doesNotMatch(r.subject, /[\r\n]/);
  assert.equal(r.subject, '[Custos] Recovery failed: s 1 → t X: y');
});

test('the alert mail: severity in the subject, message, recommended action, and the console link when the address is known', () => {
  const m = alertMail('a@example.com', alert('laptop:fs:/home'), 'Synchronization failed', 'https://backup.example:8440', false);
  assert.equal(m.subject, '[Custos] CRITICAL: Synchronization failed — laptop:fs:/home');
  assert.match(m.text, /Recommended action:\ndo this/);
  assert.match(m.text, /https:\/\/backup\.example:8440\/#\/monitoring\/alerts/);
  assert.doesNotMatch(alertMail('a@example.com', alert('x'), 't', null, false).text, /monitoring/);
  assert.match(alertMail('a@example.com', { ...alert('x'), resolved_at: '2026-03-02T10:00:00.000Z' }, 't', null, true).subject, /^\[Custos\] RESOLVED: t — x$/);
});

test('severity: a recipient of warning and up hears of critical and warning, not info', () => {
  assert.ok(severityReaches('critical', 'warning'));
  assert.ok(severityReaches('warning', 'warning'));
  assert.ok(!severityReaches('info', 'warning'));
  assert.ok(!severityReaches('warning', 'critical'));
  assert.ok(severityReaches('info', 'info'));
});

test('the digest counts failed jobs across groups and says how old each newest point is', () => {
  const now = new Date('2026-03-02T07:00:00Z');
  const m = digestMail('a@example.com', {
    now, alerts: [alert('s1')], jobs: new Map([['g', { succeeded: 3, failed: 2 }], ['', { succeeded: 1, failed: 0 }]]),
    sources: [{ id: 's1', group: 'g', newestPoint: '2026-03-02T06:30:00Z' }, { id: 's2', group: 'g', newestPoint: '2026-02-27T07:00:00Z' }, { id: 's3', group: 'g', newestPoint: null }],
  }, null);
  assert.equal(m.subject, '[Custos] Daily digest: 1 active alert, 2 failed jobs');
  assert.match(m.text, /\(no group\): 1 succeeded, 0 failed/);
  assert.match(m.text, /s1: 30 min old/);
  assert.match(m.text, /s2: 3 days old/);
  assert.match(m.text, /s3: none/);
});

test('webhook signature: HMAC-SHA256 of TIMESTAMP.BODY, hex, prefixed sha256=', () => {
  const body = '{"event":"test"}';
  assert.equal(webhookSignature('k'.repeat(16), '1772442000', body), `sha256=${createHmac('sha256', 'k'.repeat(16)).update(`1772442000.${body}`).digest('hex')}`);
  assert.notEqual(webhookSignature('k'.repeat(16), '1772442001', body), webhookSignature('k'.repeat(16), '1772442000', body));
});

test('webhook URLs: https anywhere, http to loopback only, no credentials', () => {
  for (const ok of ['https://chat.example.com/hooks/1', 'http://127.0.0.1:8080/x', 'http://localhost/x', 'http://[::1]:9/x', 'http://127.3.4.5/']) assert.doesNotThrow(() => checkWebhookUrl(ok), ok);
  for (const bad of ['http://example.com/', 'http://192.168.1.1/', 'http://[::ffff:10.0.0.1]/', 'https://u:p@example.com/', 'ftp://x/', 'not a url', 'javascript:alert(1)']) {
    assert.throws(() => checkWebhookUrl(bad), (e: Error & { code?: string }) => e.code === 'usage', bad);
  }
  assert.ok(isLoopbackHost('::ffff:127.0.0.1'));
  assert.ok(!isLoopbackHost('127.0.0.1.nip.io'));
});

test('retries back off from 1 min, doubling, to at most 1 h', () => {
  assert.deepEqual([1, 2, 3, 4, 7, 8, 20].map(notifyRetryDelayMs), [60_000, 120_000, 240_000, 480_000, 3_600_000, 3_600_000, 3_600_000]);
});

test('the digest time is the server\'s local time of day', () => {
  const d = new Date(2026, 2, 2, 7, 5);
  assert.equal(localClockTime(d), '07:05');
  assert.equal(localDay(d), '2026-03-02');
});
