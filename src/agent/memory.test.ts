/** The memory trimmer's decision (memory.ts), with readings given by the test, and the real trim. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadBinding } from './journal/native.js';
import { MemoryTrimmer, trimMemory, type MemorySample } from './memory.js';

const MiB = 1024 * 1024;

test('trims when the part of the resident set JavaScript does not account for grew by the slack since the last trim, and only then', () => {
  let sample: MemorySample = { rss: 100 * MiB, accounted: 60 * MiB };
  let trims = 0;
  let afterTrim: MemorySample | null = null;
  const t = new MemoryTrimmer({
    slackBytes: 32 * MiB,
    cpuMicros: () => 0,
    sample: () => sample,
    trim: () => {
      trims++;
      if (afterTrim) sample = afterTrim;
      return true;
    },
  });
  // Idle: nothing changes, nothing is trimmed.
  assert.equal(t.check(), null);
  // A job's buffers are live (accounted): the resident set grew with them, no slack.
  sample = { rss: 300 * MiB, accounted: 255 * MiB };
  assert.equal(t.check(), null);
  // The job ended and freed them: accounted fell, the resident set stayed. Trim.
  sample = { rss: 300 * MiB, accounted: 60 * MiB };
  afterTrim = { rss: 110 * MiB, accounted: 60 * MiB };
  assert.equal(t.check(), 'trimmed');
  assert.equal(trims, 1);
  // The new baseline is what remained after the trim: small growth does not trim again.
  sample = { rss: 130 * MiB, accounted: 60 * MiB };
  assert.equal(t.check(), null);
  // Growth again, but a trim was just done: not before 15 looks have passed since.
  sample = { rss: 145 * MiB, accounted: 60 * MiB };
  afterTrim = { rss: 105 * MiB, accounted: 60 * MiB };
  for (let look = 2; look < 15; look++) assert.equal(t.check(), null, `look ${look}`);
  assert.equal(t.check(), 'trimmed');
  assert.equal(trims, 2);
  // The baseline follows the unaccounted part down.
  sample = { rss: 80 * MiB, accounted: 60 * MiB };
  assert.equal(t.check(), null);
  sample = { rss: 113 * MiB, accounted: 60 * MiB };
  afterTrim = null;
  for (let look = 2; look < 15; look++) assert.equal(t.check(), null, `look ${look}`);
  assert.equal(t.check(), 'trimmed');
  assert.equal(t.trims, 3);
});

test('a process that goes quiet after work settles once: a full collection, then a trim at the next look', () => {
  let cpu = 0;
  const done: string[] = [];
  const t = new MemoryTrimmer({
    everyMs: 1000,
    cpuMicros: () => cpu,
    sample: () => ({ rss: 100 * MiB, accounted: 90 * MiB }),
    collect: () => done.push('collect'),
    trim: () => done.push('trim') > 0,
  });
  const look = (cpuMs: number) => {
    cpu += cpuMs * 1000;
    return t.check();
  };
  assert.equal(look(0), null, 'idle');
  assert.equal(look(900), null, 'working (90% of a core)');
  assert.equal(look(1500), null, 'still working');
  assert.equal(look(10), 'settled', 'quiet after work');
  assert.deepEqual(done, ['collect']);
  assert.equal(look(10), 'trimmed', 'the trim, a look after the collection');
  assert.deepEqual(done, ['collect', 'trim']);
  assert.equal(look(10), null, 'quiet: nothing more');
  assert.equal(look(150), null, 'a little work (15%) is not work');
  assert.equal(look(0), null);
  assert.equal(t.settles, 1);
});

test('the real trim is there on glibc', () => {
  const glibc = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime;
  if (glibc !== undefined) assert.equal(typeof loadBinding().trimMemory, 'function', 'the binding has trimMemory');
  const held: Buffer[] = [];
  for (let i = 0; i < 20_000; i++) {
    const b = Buffer.allocUnsafeSlow(1000 + (i % 50) * 1000);
    b.fill(1);
    if (i % 4 === 0) held.push(b);
  }
  held.length = 0;
  // Whether anything was free to give back depends on the collector's timing: only the call is checked.
  assert.equal(typeof trimMemory(), 'boolean');
});
