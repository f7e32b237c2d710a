import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RecoveryPointId } from '../../base/index.js';
import type { PointSummary } from '../../format/index.js';
import { cleanupTempDirs, makeTempDir, writeTree } from '../../../test/helpers/tree.js';
import { journalStateDir } from '../journal/index.js';
import { SourceJournals, type PlanRequest } from './source-journals.js';

after(cleanupTempDirs);

const point = (n: number): RecoveryPointId => n.toString(16).padStart(32, '0') as RecoveryPointId;
const summary: PointSummary = { filesNew: 2, filesChanged: 0, filesUnchanged: 0, dirs: 2, others: 0, errors: 0, changedDuringRead: 0, bytesRead: 4, bytesAdded: 100, logicalBytes: 4, durationMs: 5 };

test('plan says unchanged only when nothing changed since the clean point this agent committed last', async () => {
  const dir = await makeTempDir('custos-source-journals-');
  const source = join(dir.path, 'src');
  await writeTree(source, { 'a/x': 'x', 'a/y': 'y' });
  const agentData = join(dir.path, 'agent');
  const journals = new SourceJournals(agentData, () => {}, { ms: null, syncs: null });
  const request = (previous: RecoveryPointId | null): PlanRequest => ({ path: source, previous, excludes: [], fullScan: false });
  /** One synchronization: plan, then commit as `point` with `clean`; returns the plan. */
  const sync = async (previous: RecoveryPointId | null, committedAs: RecoveryPointId, clean = true) => {
    const plan = await journals.plan(request(previous));
    journals.committed(plan, request(previous), committedAs, !plan.changes, { summary, clean });
    return plan;
  };
  try {
    assert.equal((await sync(null, point(1))).unchanged, undefined, 'the first synchronization scans');
    assert.deepEqual((await sync(point(1), point(2))).unchanged, summary, 'nothing changed since the clean point 1');
    writeFileSync(join(source, 'a/x'), 'changed');
    assert.equal((await sync(point(2), point(3), false)).unchanged, undefined, 'a change');
    assert.equal((await sync(point(3), point(4))).unchanged, undefined, 'point 3 was not clean');
    assert.equal((await sync(point(99), point(5))).unchanged, undefined, 'the server compares with another point than this agent committed last');
    await sync(point(5), point(6));
    assert.deepEqual((await journals.plan(request(point(6)))).unchanged, summary, 'a plan waits for the commit before it');
    writeFileSync(join(journalStateDir(agentData, source), 'last-commit.json'), '{"point": "damaged"');
    assert.equal((await journals.plan(request(point(6)))).unchanged, undefined, 'an unreadable record');
  } finally {
    await journals.stopAll();
  }
});
