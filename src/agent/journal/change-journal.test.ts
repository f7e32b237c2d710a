import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RecoveryPointId } from '../../base/index.js';
import { cleanupTempDirs, makeTempDir, writeTree } from '../../../test/helpers/tree.js';
import { FsChangeJournal, JOURNAL_FILES, journalStateDir, type JournalChanges } from './index.js';

const point = (n: number): RecoveryPointId => n.toString(16).padStart(32, '0') as RecoveryPointId;

/** Polls `cond` until it holds; the watcher delivers events after 50–500 ms. */
async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function assertRecorded(j: FsChangeJournal, ...paths: string[]): void {
  const got = j.recordedPaths().paths;
  for (const p of paths) assert.ok(got.includes(p), `${p} recorded: ${got}`);
}

function journalMode(c: JournalChanges): { paths: string[]; subtrees: string[]; since: string } {
  assert.equal(c.mode, 'journal', c.mode === 'scan' ? c.reason : '');
  if (c.mode !== 'journal') throw new Error('unreachable');
  return {
    paths: [...c.changes.paths].map(String).sort(),
    subtrees: [...(c.changes.subtrees ?? [])].map(String).sort(),
    since: c.since,
  };
}

async function setup(spec: Record<string, string>) {
  const dir = await makeTempDir('custos-journal-');
  const source = join(dir.path, 'src');
  await writeTree(source, spec);
  const stateDir = journalStateDir(join(dir.path, 'agent'), source);
  return { source, stateDir, make: () => new FsChangeJournal({ source, stateDir }) };
}

describe('FsChangeJournal', () => {
  after(cleanupTempDirs);

  test('records changed paths with their parents; commit forgets them but keeps what came during the synchronization', async () => {
    const { source, make } = await setup({ 'a/x': 'x', 'b/y': 'y', 'c/z': 'z', 'e/q': 'q' });
    const j = make();
    await j.start();
    try {
      const first = await j.changesSince();
      assert.equal(first.mode, 'scan');
      assert.match(first.mode === 'scan' ? first.reason : '', /no synchronization committed/);
      assert.equal(j.lostReason(), null, 'no baseline yet is not a loss');
      await j.commit(first.marker, point(1));

      writeFileSync(join(source, 'a/new'), 'new');
      appendFileSync(join(source, 'b/y'), 'more');
      rmSync(join(source, 'c/z'));
      chmodSync(join(source, 'e/q'), 0o600);
      mkdirSync(join(source, 'd'));
      writeFileSync(join(source, 'd/w'), 'w');
      await j.settle();
      assertRecorded(j, 'a/new', 'b/y', 'c/z', 'e/q', 'd');

      const c1Full = await j.changesSince();
      const c1 = journalMode(c1Full);
      assert.equal(c1.since, point(1));
      for (const p of ['a/new', 'a', 'b/y', 'b', 'c/z', 'c', 'e/q', 'e', 'd', '']) assert.ok(c1.paths.includes(p), `${p} in ${c1.paths}`);
      assert.ok(!c1.paths.includes('a/x'), 'an untouched file is not recorded');
      // A new directory is walked whole: the file written into it raced the watcher.
      assert.deepEqual(c1.subtrees, ['d']);

      // A change while the synchronization runs belongs to the next one.
      writeFileSync(join(source, 'a/late'), 'late');
      await j.settle();
      assertRecorded(j, 'a/late');
      await j.commit(c1Full.marker, point(2));

      const c2Full = await j.changesSince();
      const c2 = journalMode(c2Full);
      assert.equal(c2.since, point(2));
      assert.ok(c2.paths.includes('a/late'), `a/late survives the commit: ${c2.paths}`);
      for (const p of ['a/new', 'b/y', 'c/z', 'e/q', 'd']) assert.ok(!c2.paths.includes(p), `${p} was forgotten: ${c2.paths}`);
      assert.deepEqual(c2.subtrees, []);

      await j.commit(c2Full.marker, point(3));
      const c3Full = await j.changesSince();
      assert.deepEqual(journalMode(c3Full).paths, []);
      await j.commit(c3Full.marker, point(4));

      // No waiting: a change made before changesSince() is in it.
      writeFileSync(join(source, 'b/now'), 'now');
      assert.deepEqual(journalMode(await j.changesSince()).paths, ['b', 'b/now']);
    } finally {
      await j.stop();
    }
  });

  test('after a restart: recorded paths come back from the journal file, changes made while stopped from the snapshot', async () => {
    const { source, stateDir, make } = await setup({ 'a/x': 'x', 'b/y': 'y', 'c/z': 'z', 'keep/k': 'k' });
    const j1 = make();
    await j1.start();
    const first = await j1.changesSince();
    await j1.commit(first.marker, point(1));
    // A chmod: the snapshot comparison cannot see it, only the journal file can bring it back.
    chmodSync(join(source, 'a/x'), 0o600);
    await j1.settle();
    assertRecorded(j1, 'a/x');
    await j1.stop();

    // While the agent is down.
    writeFileSync(join(source, 'a/new'), 'new');
    rmSync(join(source, 'b/y'));
    writeFileSync(join(source, 'c/z'), 'changed');
    utimesSync(join(source, 'c/z'), new Date(2_000_000_000_000), new Date(2_000_000_000_000));

    const j2 = make();
    await j2.start();
    try {
      const c = journalMode(await j2.changesSince());
      assert.equal(c.since, point(1));
      for (const p of ['a/x', 'a/new', 'a', 'b/y', 'b', 'c/z', 'c']) assert.ok(c.paths.includes(p), `${p} in ${c.paths}`);
      assert.ok(!c.paths.includes('keep/k') && !c.paths.includes('keep'), `nothing under keep: ${c.paths}`);
      assert.equal(j2.lostReason(), null);
    } finally {
      await j2.stop();
    }

    // Without the snapshot a restart cannot know what happened meanwhile.
    rmSync(join(stateDir, JOURNAL_FILES.snapshot));
    const j3 = make();
    await j3.start();
    try {
      const c = await j3.changesSince();
      assert.equal(c.mode, 'scan');
      assert.match(c.mode === 'scan' ? c.reason : '', /agent restarted without a snapshot.*metadata scan/);
      assert.match(j3.lostReason() ?? '', /without a snapshot/);
      // A committed full scan makes the journal trustworthy again.
      await j3.commit(c.marker, point(2));
      assert.equal(j3.lostReason(), null);
      writeFileSync(join(source, 'keep/k2'), 'k2');
      await j3.settle();
      assertRecorded(j3, 'keep/k2');
      const after = journalMode(await j3.changesSince());
      assert.equal(after.since, point(2));
      assert.ok(after.paths.includes('keep/k2'));
    } finally {
      await j3.stop();
    }
  });

  test('a journal file that does not belong to the last commit is a loss', async () => {
    const { stateDir, make } = await setup({ 'a/x': 'x' });
    const j1 = make();
    await j1.start();
    await j1.commit((await j1.changesSince()).marker, point(1));
    await j1.stop();
    writeFileSync(join(stateDir, JOURNAL_FILES.journal), '{"journal":1,"epoch":"someone else","point":null}\n');
    const j2 = make();
    await j2.start();
    try {
      const c = await j2.changesSince();
      assert.equal(c.mode, 'scan');
      assert.match(j2.lostReason() ?? '', /journal file does not match/);
    } finally {
      await j2.stop();
    }
  });

  test('a loss while running: the source directory removed, a name that is not UTF-8', async () => {
    const { source, make } = await setup({ 'a/x': 'x' });
    const j = make();
    await j.start();
    try {
      await j.commit((await j.changesSince()).marker, point(1));
      writeFileSync(Buffer.concat([Buffer.from(`${source}/a/`), Buffer.from([0xff, 0x41])]), 'latin1 name');
      await j.settle();
      assert.match(j.lostReason() ?? '', /not valid UTF-8/);
      const c = await j.changesSince();
      assert.equal(c.mode, 'scan');
      // A scan that started after the loss restores trust.
      await j.commit(c.marker, point(2));
      assert.equal(j.lostReason(), null);

      rmSync(source, { recursive: true });
      await waitFor('the loss', () => j.lostReason() !== null);
      assert.match(j.lostReason() ?? '', /deleted or moved/);
    } finally {
      await j.stop();
    }
  });

  test('too many changes for the journal to hold make it lost', async () => {
    const { source, stateDir } = await setup({ 'a/x': 'x' });
    const j = new FsChangeJournal({ source, stateDir, maxPaths: 20 });
    await j.start();
    try {
      await j.commit((await j.changesSince()).marker, point(1));
      for (let i = 0; i < 30; i++) writeFileSync(join(source, `a/n${i}`), 'n');
      const c = await j.changesSince();
      assert.equal(c.mode, 'scan');
      assert.match(c.mode === 'scan' ? c.reason : '', /more than 20 changed paths/);
      assert.ok(j.recordedPaths().paths.length <= 20, 'memory stays bounded');
    } finally {
      await j.stop();
    }
  });

  test('a scan is asked for when the last full scan is too old', async () => {
    const { source, stateDir } = await setup({ 'a/x': 'x' });
    let now = Date.parse('2030-01-01T00:00:00Z');
    const clock = { now: () => new Date(now) };
    const j = new FsChangeJournal({ source, stateDir, clock, fullScanEveryMs: 3_600_000 });
    await j.start();
    try {
      await j.commit((await j.changesSince()).marker, point(1));
      now += 30 * 60_000;
      const c1 = await j.changesSince();
      assert.equal(c1.mode, 'journal');
      await j.commit(c1.marker, point(2)); // a journal synchronization is not a full scan
      now += 31 * 60_000;
      const c2 = await j.changesSince();
      assert.equal(c2.mode, 'scan');
      assert.match(c2.mode === 'scan' ? c2.reason : '', /periodic metadata scan/);
    } finally {
      await j.stop();
    }
  });
});
