import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeInto } from './merge.js';

const job = (id: number, kind: string, source: string | null, state: string) => ({ id, kind, source, state });

test('a request merges into the oldest queued job of the same kind for the same data source', () => {
  const jobs = [job(7, 'recovery-point', 'a', 'queued'), job(3, 'recovery-point', 'a', 'queued'), job(9, 'sync', 'a', 'queued')];
  assert.equal(mergeInto('recovery-point', 'a', jobs), 3);
  assert.equal(mergeInto('sync', 'a', jobs), 9);
  assert.equal(mergeInto('consistency-check', 'a', jobs), null, 'another kind');
  assert.equal(mergeInto('recovery-point', 'b', jobs), null, 'another data source');
});

test('a running job does not absorb a request (one more is queued); finished ones never do', () => {
  for (const state of ['running', 'succeeded', 'failed', 'cancelled']) {
    assert.equal(mergeInto('sync', 'a', [job(1, 'sync', 'a', state)]), null, state);
  }
  assert.equal(mergeInto('sync', 'a', [job(1, 'sync', 'a', 'running'), job(2, 'sync', 'a', 'queued')]), 2);
});

test('recoveries and jobs without a data source never merge', () => {
  assert.equal(mergeInto('recovery', 'a', [job(1, 'recovery', 'a', 'queued')]), null);
  assert.equal(mergeInto('prune', null, [job(1, 'prune', null, 'queued')]), null);
});
