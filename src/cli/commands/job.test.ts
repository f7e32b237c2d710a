import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CustosError } from '../../base/index.js';
import type { Job } from '../client.js';
import { pointNote, reportFinished } from './job.js';

const job = (over: Partial<Job>): Job => ({
  id: 7, kind: 'sync', state: 'succeeded', source: 'lap:fs:/home', agent: 'lap', createdAt: '2026-12-01T08:00:00Z', startedAt: null, finishedAt: null,
  attempts: 1, progress: { phase: '', filesDone: 0, bytesDone: 0, bytesTotal: null }, error: null, result: null, ...over,
});

test('pointNote: a replica-only point is named as such with the command that lists it; a recovery point needs no note', () => {
  assert.equal(
    pointNote(job({ result: { point: 'ab12', recoveryPoint: false } })),
    'note: ab12 is a replica-only synchronization point, not a recovery point (the next point replaces it; custos point list lap:fs:/home --all shows it)',
  );
  assert.equal(pointNote(job({ result: { point: 'ab12', recoveryPoint: true } })), null);
  assert.equal(pointNote(job({ result: { point: 'ab12' } })), null, 'an older server says nothing: no guess');
  assert.equal(pointNote(job({ result: null })), null);
});

test('reportFinished: a failure keeps job-failed unless its code is one the command reports as its own', () => {
  const failed = job({ kind: 'recovery', state: 'failed', error: 'recovery target /x is not a directory: …', result: { errorCode: 'bad-target' } });
  const codeOf = (f: () => void) => {
    try {
      f();
    } catch (err) {
      assert.ok(err instanceof CustosError);
      return err.code;
    }
    return 'ok';
  };
  assert.equal(codeOf(() => reportFinished(failed, false)), 'job-failed');
  assert.equal(codeOf(() => reportFinished(failed, false, ['bad-target', 'not-found'])), 'bad-target');
  assert.equal(codeOf(() => reportFinished({ ...failed, result: { errorCode: 'internal' } }, false, ['bad-target'])), 'job-failed');
  assert.equal(codeOf(() => reportFinished({ ...failed, result: null }, false, ['bad-target'])), 'job-failed');
});
