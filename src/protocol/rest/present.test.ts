import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeProgress, formatBytes, formatDuration, plural, progressFigures, resultFields } from './present.js';

test('sizes, durations and plurals as people read them', () => {
  assert.deepEqual([0, 512, 1536, 3 * 2 ** 30].map(formatBytes), ['0 B', '512 B', '1.5 KiB', '3.0 GiB']);
  assert.deepEqual([400, 45_000, 200_000, 180_000, 7_500_000, 7_200_000].map(formatDuration), ['0 s', '45 s', '3 min 20 s', '3 min', '2 h 5 min', '2 h']);
  assert.deepEqual([plural(1, 'file'), plural(2, 'file'), plural(1024, 'entry', 'entries')], ['1 file', '2 files', '1,024 entries']);
});

test('a running job: percentage, rate and time left from its start', () => {
  const start = '2026-12-07T10:00:00.000Z';
  const now = Date.parse(start) + 10_000;
  const p = { phase: 'copying', filesDone: 1200, bytesDone: 100 * 2 ** 20, bytesTotal: 400 * 2 ** 20 };
  const f = progressFigures(p, start, now);
  assert.equal(f.percent, 25);
  assert.equal(f.rate, 10 * 2 ** 20);
  assert.equal(f.etaMs, 30_000);
  assert.equal(describeProgress(p, start, now), 'copying, 1,200 files, 100.0 MiB of 400.0 MiB (25%), 10.0 MiB/s, 30 s left');
  assert.deepEqual(progressFigures({ ...p, bytesTotal: null }, start, now), { percent: null, rate: 10 * 2 ** 20, etaMs: null }, 'no total: no percentage, no time left');
  assert.deepEqual(progressFigures(p, null, now), { percent: 25, rate: null, etaMs: null }, 'not started: no rate');
  assert.equal(describeProgress({ phase: '', filesDone: 0, bytesDone: 0, bytesTotal: null }, null, now), '');
});

test('a result is named fields, not a dump of camelCase keys', () => {
  const fields = resultFields({ point: 'ab12', recoveryPoint: true, bytesAdded: 0, partial: false, summary: { filesChanged: 3, bytesAdded: 9, durationMs: 65_000 }, walk: [1], itemsRecovered: 2048 });
  assert.deepEqual(fields, [
    ['point', 'ab12'],
    ['kind of point', 'recovery point'],
    ['new data in the pool', '0 B'],
    ['some items not read', 'no'],
    ['files changed', '3'],
    ['duration', '1 min 5 s'],
    ['items recovered', '2,048'],
  ]);
  assert.deepEqual(resultFields({ recoveryPoint: false }), [['kind of point', 'replica-only synchronization point']]);
  assert.deepEqual(resultFields(null), []);
  // A new PostgreSQL instance's port is shown as it is written.
  assert.deepEqual(resultFields({ instance: { port: 5499, state: 'promoted' } }), [['port', '5499'], ['state', 'promoted']]);
});
