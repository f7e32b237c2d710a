import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog } from '../catalog/index.js';
import { POINT_LATE_ALERT_MS } from '../protection/index.js';
import { AlertService } from './alerts.js';

test('a scheduled recovery point that has not started an hour after it was due is reported missed, and resolved by the next one', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'custos-alerts-'));
  const catalog = await Catalog.openSqlite(join(dir, 'catalog.sqlite'));
  try {
    let connected = new Set<string>();
    const alerts = new AlertService(catalog, () => connected, () => undefined);
    const due = new Date('2026-03-02T20:00:00Z');
    const id = await catalog.insertJob({
      kind: 'recovery-point', state: 'queued', source_id: 'lap:fs:/home', agent: 'lap', created_at: due.toISOString(), started_at: null,
      finished_at: null, attempts: 0, next_attempt_at: due.toISOString(), progress: '{}', error: null, result: null, params: '{}', slot: '2026-03-02T20:00',
    });
    const missed = async () => (await catalog.listAlerts('active')).filter((a) => a.kind === 'recovery-point-missed');

    await alerts.evaluate(new Date(due.getTime() + POINT_LATE_ALERT_MS - 60_000));
    assert.deepEqual(await missed(), [], 'not yet late');

    await alerts.evaluate(new Date(due.getTime() + POINT_LATE_ALERT_MS));
    const [raised, ...more] = await missed();
    assert.equal(more.length, 0);
    assert.equal(raised?.subject, 'lap:fs:/home');
    assert.match(raised!.message, /scheduled for 2026-03-02T20:00 has not been created: agent lap is not connected \(job \d+\)/);

    // Raised once, however often the condition is evaluated.
    connected = new Set(['lap']);
    await alerts.evaluate(new Date(due.getTime() + 2 * POINT_LATE_ALERT_MS));
    assert.equal((await missed()).length, 1);

    const job = (await catalog.job(id))!;
    await catalog.updateJob(id, { state: 'succeeded', finished_at: new Date().toISOString() });
    await alerts.jobFinished({ ...job, state: 'succeeded' }, 'succeeded', null, new Date(due.getTime() + 3 * POINT_LATE_ALERT_MS));
    assert.deepEqual(await missed(), []);
  } finally {
    await catalog.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a job retrying on a full disk raises one disk-full warning, resolved when a job of that data source succeeds', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'custos-alerts-'));
  const catalog = await Catalog.openSqlite(join(dir, 'catalog.sqlite'));
  try {
    const alerts = new AlertService(catalog, () => new Set(), () => undefined);
    const now = new Date('2026-03-02T20:00:00Z');
    const insert = (source: string) => catalog.insertJob({
      kind: 'sync', state: 'queued', source_id: source, agent: 'lap', created_at: now.toISOString(), started_at: null,
      finished_at: null, attempts: 1, next_attempt_at: now.toISOString(), progress: '{}', error: null, result: null, params: '{}', slot: null,
    });
    const job = (await catalog.job(await insert('lap:fs:/home')))!;
    const diskFull = async () => (await catalog.listAlerts('active')).filter((a) => a.kind === 'disk-full');

    await alerts.jobRetrying(job, 'the agent disconnected while the job ran', now);
    assert.deepEqual(await diskFull(), [], 'other transient failures raise nothing');

    await alerts.jobRetrying(job, "ENOSPC: no space left on device, write '/srv/custos/pool/tmp/1a2b.tmp'", now);
    await alerts.jobRetrying(job, "ENOSPC: no space left on device, write '/srv/custos/pool/tmp/3c4d.tmp'", now);
    const [raised, ...more] = await diskFull();
    assert.equal(more.length, 0, 'raised once, however many attempts fail');
    assert.equal(raised?.severity, 'warning');
    assert.equal(raised?.subject, 'lap:fs:/home');
    assert.match(raised!.message, new RegExp(`^sync job ${job.id} is retrying: ENOSPC`));
    assert.match(raised!.recommended_action, /^Free space on the disk named in the message/);

    const other = (await catalog.job(await insert('lap:fs:/srv')))!;
    await alerts.jobFinished({ ...other, state: 'succeeded' }, 'succeeded', null, now);
    assert.equal((await diskFull()).length, 1, 'another data source succeeding says nothing about this one');
    await alerts.jobFinished({ ...job, state: 'succeeded' }, 'succeeded', null, now);
    assert.deepEqual(await diskFull(), []);
  } finally {
    await catalog.close();
    await rm(dir, { recursive: true, force: true });
  }
});
