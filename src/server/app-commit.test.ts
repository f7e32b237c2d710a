import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CustosError, type RecoveryPointId } from '../base/index.js';
import { POINT_VERSION, type AppPointMeta, type RecoveryPointRecord } from '../format/index.js';
import { checkAppCommit } from './job-engine.js';

const full: AppPointMeta = {
  kind: 'postgres', point: 'full', logMode: 'logs', version: 150018, systemIdentifier: '7716592498700678075', walSegmentSize: 16 << 20, blockSize: 8192, timeline: 1,
  startLsn: '0/2000028', stopLsn: '0/2000100', startTime: '2026-12-07T18:00:00Z', stopTime: '2026-12-07T18:00:01Z', dataChecksums: false,
  walSegments: ['000000010000000000000002', '000000010000000000000002'],
};
const point = (id: string, app: AppPointMeta): RecoveryPointRecord => ({
  version: POINT_VERSION, id: id.repeat(32) as RecoveryPointId, time: '2026-12-07T18:00:02Z', source: { host: 'db1', path: '5432' }, parent: null, manifest: [],
  summary: { filesNew: 0, filesChanged: 0, filesUnchanged: 0, dirs: 0, others: 0, errors: 0, changedDuringRead: 0, bytesRead: 0, bytesAdded: 0, logicalBytes: 0, durationMs: 0 },
  partial: false, excludes: [], app,
});
const log = (base: string, walEnd: string, last: string): AppPointMeta => ({
  ...full, point: 'log', base, walEnd, marker: { name: 'custos-job-9', lsn: walEnd, xid: '750', time: '2026-12-07T18:15:00Z' }, walSegments: [full.walSegments[0], last],
});

test("an agent's application metadata is taken only for the point its job makes, after the point it follows", () => {
  const f = point('a', full);
  const l1 = log(f.id, '0/3000060', '000000010000000000000003');
  const denied = (meta: AppPointMeta, kind: 'sync' | 'recovery-point', newest: RecoveryPointRecord | null, why: RegExp) =>
    assert.throws(() => checkAppCommit(meta, kind, newest), (e: unknown) => e instanceof CustosError && e.code === 'denied' && why.test(e.message), why.source);
  checkAppCommit(full, 'recovery-point', null);
  checkAppCommit(full, 'recovery-point', point('b', l1));
  checkAppCommit(l1, 'sync', f);
  // The next log point names the same base, and goes on from the previous end.
  checkAppCommit(log(f.id, '0/4000000', '000000010000000000000003'), 'sync', point('b', l1));
  denied(l1, 'recovery-point', f, /commits an express full, not a log point/);
  denied(full, 'sync', f, /a log synchronization commits a log point/);
  denied(l1, 'sync', null, /a log synchronization commits a log point after a point/);
  denied({ ...full, systemIdentifier: '1' }, 'recovery-point', f, /another cluster/);
  denied(log('c'.repeat(32), '0/3000060', '000000010000000000000003'), 'sync', f, /names base c+, not a+/);
  denied({ ...l1, stopLsn: '0/2000200' }, 'sync', f, /stopLsn is not its base's/);
  denied({ ...l1, timeline: 2 }, 'sync', f, /timeline is not its base's/);
  denied(log(f.id, '0/2000100', '000000010000000000000002'), 'sync', point('b', l1), /ends at 0\/2000100, before the previous point's end/);
  denied({ ...l1, walSegments: ['000000010000000000000001', '000000010000000000000003'] }, 'sync', f, /does not start where its base's does/);
});
