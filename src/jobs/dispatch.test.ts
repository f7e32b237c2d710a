import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LIMITS, pickJobs, type JobSlot } from './dispatch.js';
import { dueMaintenance } from './scheduler.js';
import type { JobKind } from './kinds.js';

let nextId = 1;
const job = (kind: JobKind, agent: string | null = null, source: string | null = null): JobSlot => ({ id: nextId++, kind, agent, source });
const kinds = (slots: ReadonlyArray<{ kind: JobKind }>) => slots.map((s) => s.kind);

describe('pickJobs: pool maintenance', () => {
  const connected = new Set(['a1']);

  it('does not start gc beside pruning or verification, nor a second gc', () => {
    for (const busy of ['prune', 'verify', 'gc'] as const) {
      assert.deepEqual(kinds(pickJobs([job('gc')], [job(busy)], connected, DEFAULT_LIMITS)), [], `gc beside ${busy}`);
    }
  });

  it('starts gc beside backups and recoveries (they are coordinated in the pool, not by the dispatcher)', () => {
    const running = [job('sync', 'a1', 's1'), job('recovery', 'a1', 's2')];
    assert.deepEqual(kinds(pickJobs([job('gc')], running, connected, DEFAULT_LIMITS)), ['gc']);
    assert.deepEqual(kinds(pickJobs([job('sync', 'a1', 's3')], [job('gc')], connected, DEFAULT_LIMITS)), ['sync']);
  });

  it('of prune, gc and verify queued together, gc waits for the others', () => {
    const picked = pickJobs([job('prune'), job('gc'), job('verify')], [], connected, DEFAULT_LIMITS);
    assert.deepEqual(kinds(picked), ['prune', 'verify']);
    assert.deepEqual(kinds(pickJobs([job('gc')], [job('verify')], connected, DEFAULT_LIMITS)), []);
    assert.deepEqual(kinds(pickJobs([job('gc')], [], connected, DEFAULT_LIMITS)), ['gc']);
  });

  it('does not start verify beside gc or another verify', () => {
    assert.deepEqual(kinds(pickJobs([job('verify')], [job('gc')], connected, DEFAULT_LIMITS)), []);
    assert.deepEqual(kinds(pickJobs([job('verify'), job('verify')], [], connected, DEFAULT_LIMITS)), ['verify']);
  });
});

describe('dueMaintenance', () => {
  const at = (d: number, hh: number): Date => new Date(2024, 10, d, hh, 0, 0);

  it('queues pruning, gc and verification at the first tick of each day', () => {
    assert.deepEqual(kinds(dueMaintenance({ lastPruneAt: at(19, 0), active: new Set() }, at(20, 0))), ['prune', 'gc', 'verify']);
    assert.deepEqual(dueMaintenance({ lastPruneAt: at(20, 0), active: new Set() }, at(20, 23)), []);
  });

  it('does not queue a kind that is already queued or running', () => {
    assert.deepEqual(kinds(dueMaintenance({ lastPruneAt: null, active: new Set<JobKind>(['gc']) }, at(20, 1))), ['prune', 'verify']);
  });
});
