import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { catalogBackupDue, catalogBackupsToDelete, type CatalogBackupMarks } from './catalog-backups.js';

const t = (iso: string) => new Date(iso);
const base: CatalogBackupMarks = {
  lastBackupAt: t('2026-03-02T10:00:00Z'),
  lastQueuedAt: t('2026-03-02T10:00:00Z'),
  backedUpFingerprint: 'A',
  fingerprint: 'A',
  fingerprintSince: t('2026-03-01T00:00:00Z'),
  active: false,
};

describe('catalogBackupDue', () => {
  it('is due at once when there has never been a backup', () => {
    assert.equal(catalogBackupDue({ ...base, lastBackupAt: null, lastQueuedAt: null }, t('2026-03-02T10:00:00Z'))?.reason, 'scheduled');
  });

  it('is due once a day, not before', () => {
    assert.equal(catalogBackupDue(base, t('2026-03-03T09:59:00Z')), null);
    assert.equal(catalogBackupDue(base, t('2026-03-03T10:00:00Z'))?.reason, 'scheduled');
  });

  it('after a configuration change: only once it has been still for the debounce (2 min)', () => {
    const changed = { ...base, fingerprint: 'B', fingerprintSince: t('2026-03-02T12:00:00Z') };
    assert.equal(catalogBackupDue(changed, t('2026-03-02T12:01:59Z')), null);
    assert.equal(catalogBackupDue(changed, t('2026-03-02T12:02:00Z'))?.reason, 'configuration change');
    // Changed back to what the backup holds: nothing to do.
    assert.equal(catalogBackupDue({ ...changed, fingerprint: 'A' }, t('2026-03-02T12:30:00Z')), null);
  });

  it('never while one is queued or running', () => {
    assert.equal(catalogBackupDue({ ...base, active: true, lastBackupAt: null }, t('2026-03-09T00:00:00Z')), null);
  });

  it('after a failed one, waits 15 min before the schedule tries again', () => {
    const failed = { ...base, fingerprint: 'B', fingerprintSince: t('2026-03-02T11:00:00Z'), lastQueuedAt: t('2026-03-02T12:00:00Z') };
    assert.equal(catalogBackupDue(failed, t('2026-03-02T12:14:00Z')), null);
    assert.equal(catalogBackupDue(failed, t('2026-03-02T12:15:00Z'))?.reason, 'configuration change');
    const neverOk = { ...base, lastBackupAt: null, lastQueuedAt: t('2026-03-02T12:00:00Z') };
    assert.equal(catalogBackupDue(neverOk, t('2026-03-02T12:05:00Z')), null);
    assert.equal(catalogBackupDue(neverOk, t('2026-03-02T12:15:00Z'))?.reason, 'scheduled');
  });
});

describe('catalogBackupsToDelete', () => {
  const now = t('2026-03-31T12:00:00Z');

  it('keeps the newest N and the newest of each of the last days', () => {
    const backups = [
      { id: 'd29-a', time: t('2026-03-29T08:00:00Z') },
      { id: 'd29-b', time: t('2026-03-29T20:00:00Z') },
      { id: 'd30-a', time: t('2026-03-30T01:00:00Z') },
      { id: 'd30-b', time: t('2026-03-30T02:00:00Z') },
      { id: 'd31-a', time: t('2026-03-31T09:00:00Z') },
      { id: 'd31-b', time: t('2026-03-31T11:00:00Z') },
      { id: 'd20', time: t('2026-03-20T11:00:00Z') },
      { id: 'old', time: t('2026-02-01T11:00:00Z') },
    ];
    // keep the last 2 (d31-b, d31-a) and the newest of each of 3 days (d31-b, d30-b, d29-b)
    assert.deepEqual(catalogBackupsToDelete(backups, now, { keepLast: 2, keepDays: 3 }).sort(), ['d20', 'd29-a', 'd30-a', 'old']);
  });

  it('with the defaults (30 and 30 days) a month of hourly backups keeps 30 + one per older day', () => {
    const backups = [];
    for (let h = 0; h < 31 * 24; h++) {
      const time = new Date(Date.parse('2026-03-01T00:30:00Z') + h * 3_600_000);
      backups.push({ id: time.toISOString(), time });
    }
    const deleted = new Set(catalogBackupsToDelete(backups, t('2026-03-31T23:59:00Z')));
    const kept = backups.filter((b) => !deleted.has(b.id));
    // 30 newest (all on Mar 31 and Mar 30) + newest of Mar 2..29 (28 days); Mar 1 is outside the 30 days
    assert.equal(kept.length, 30 + 28);
    assert.ok(kept.some((b) => b.id === '2026-03-02T23:30:00.000Z'));
    assert.ok(!kept.some((b) => b.id.startsWith('2026-03-01')));
  });

  it('never deletes the newest, even when it is old', () => {
    assert.deepEqual(catalogBackupsToDelete([{ id: 'only', time: t('2020-01-01T00:00:00Z') }], now, { keepLast: 1, keepDays: 1 }), []);
  });
});
