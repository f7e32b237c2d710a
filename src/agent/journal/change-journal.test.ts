import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, closeSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { RecoveryPointId } from '../../base/index.js';
import { cleanupTempDirs, makeTempDir, writeTree } from '../../../test/helpers/tree.js';
import { FsChangeJournal, JOURNAL_FILES, journalStateDir, mountsAtOrBelow, type JournalChanges } from './index.js';

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

  test('after a clean restart: a metadata scan (nothing while stopped left an event), and no loss reported', async () => {
    const { source, make } = await setup({ 'a/x': 'x', 'keep/k': 'k' });
    const lost: string[] = [];
    const j1 = make();
    await j1.start();
    await j1.commit((await j1.changesSince()).marker, point(1));
    await j1.stop();
    // While the agent is down: a chmod, which the old snapshot comparison could not see.
    chmodSync(join(source, 'a/x'), 0o600);

    const j2 = new FsChangeJournal({ source, stateDir: j1.stateDir, onLost: (r) => lost.push(r) });
    await j2.start();
    try {
      const c = await j2.changesSince();
      assert.equal(c.mode, 'scan');
      assert.match(c.mode === 'scan' ? c.reason : '', /agent restarted .*metadata scan/);
      assert.deepEqual(lost, [], 'a clean stop is no loss');
      // A committed full scan makes the journal trustworthy again.
      await j2.commit(c.marker, point(2));
      assert.equal(j2.lostReason(), null);
      writeFileSync(join(source, 'keep/k2'), 'k2');
      const after = journalMode(await j2.changesSince());
      assert.equal(after.since, point(2));
      assert.ok(after.paths.includes('keep/k2'));
    } finally {
      await j2.stop();
    }
  });

  test('a stop that did not settle the journal (kill -9, a crash) is a loss the agent reports at the next start', async () => {
    const { source, stateDir, make } = await setup({ 'a/x': 'x' });
    const j1 = make();
    await j1.start();
    await j1.commit((await j1.changesSince()).marker, point(1));
    // As after kill -9: the state still says running (the process never got to stop()).
    const state = JSON.parse(readFileSync(join(stateDir, JOURNAL_FILES.state), 'utf8')) as { running: boolean };
    assert.equal(state.running, true);
    await j1.stop();
    writeFileSync(join(stateDir, JOURNAL_FILES.state), JSON.stringify({ ...JSON.parse(readFileSync(join(stateDir, JOURNAL_FILES.state), 'utf8')), running: true }));
    const lost: string[] = [];
    const j2 = new FsChangeJournal({ source, stateDir, onLost: (r) => lost.push(r) });
    await j2.start();
    try {
      assert.equal(lost.length, 1);
      assert.match(lost[0]!, /stopped without settling/);
      assert.equal((await j2.changesSince()).mode, 'scan');
    } finally {
      await j2.stop();
    }
  });

  test('a graceful stop right after a change keeps it: stop settles before it unwatches', async () => {
    const { source, stateDir, make } = await setup({ 'a/x': 'x', 'b/y': 'y' });
    const j1 = make();
    await j1.start();
    await j1.commit((await j1.changesSince()).marker, point(1));
    chmodSync(join(source, 'b/y'), 0o640);
    await j1.stop();
    const lines = readFileSync(join(stateDir, JOURNAL_FILES.journal), 'utf8');
    assert.match(lines, /"b\/y"/, `the change is in the journal file: ${lines}`);
  });

  test('an ancestor renamed and recreated, or a link in the source path retargeted: a loss, watched anew, then trusted again', async () => {
    const dir = await makeTempDir('custos-journal-anchor-');
    await writeTree(join(dir.path, 'real1', 'src'), { 'f.txt': 'one' });
    await writeTree(join(dir.path, 'real2', 'src'), { 'f.txt': 'two', 'g.txt': 'other tree' });
    symlinkSync('real1', join(dir.path, 'link'));
    const source = join(dir.path, 'link', 'src');
    const lost: string[] = [];
    const j = new FsChangeJournal({ source, stateDir: join(dir.path, 'state'), onLost: (r) => lost.push(r) });
    await j.start();
    try {
      await j.commit((await j.changesSince()).marker, point(1));
      assert.equal((await j.changesSince()).mode, 'journal');
      // The link now points at another tree: the watcher still watches the old one.
      rmSync(join(dir.path, 'link'));
      symlinkSync('real2', join(dir.path, 'link'));
      const c = await j.changesSince();
      assert.equal(c.mode, 'scan');
      assert.match(lost.join('\n'), /ancestors was replaced, moved or retargeted/);
      await j.commit(c.marker, point(2));
      // Watched anew: a change in the new tree is seen.
      writeFileSync(join(source, 'g.txt'), 'changed');
      const after = journalMode(await j.changesSince());
      assert.ok(after.paths.includes('g.txt'), `${after.paths}`);

      // An ancestor renamed away and a new one made in its place.
      renameSync(join(dir.path, 'real2'), join(dir.path, 'real2-old'));
      await writeTree(join(dir.path, 'real2', 'src'), { 'f.txt': 'three' });
      assert.equal((await j.changesSince()).mode, 'scan');
      assert.equal(lost.length, 2, lost.join('\n'));
    } finally {
      await j.stop();
    }
  });

  test('a mount appearing or going at or below the source is a loss', async () => {
    const { source, stateDir } = await setup({ 'd/x': 'x' });
    const table = join(source, '..', 'mountinfo');
    const base = '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n';
    writeFileSync(table, base);
    const lost: string[] = [];
    const j = new FsChangeJournal({ source, stateDir, mountInfoPath: table, onLost: (r) => lost.push(r) });
    await j.start();
    try {
      await j.commit((await j.changesSince()).marker, point(1));
      writeFileSync(table, base + `97 22 0:55 /other ${source.replace(/ /g, '\\040')}/d rw - tmpfs tmpfs rw\n`);
      assert.equal((await j.changesSince()).mode, 'scan');
      assert.match(lost.join('\n'), /mounted or unmounted at or below the source/);
    } finally {
      await j.stop();
    }
    assert.deepEqual(mountsAtOrBelow('1 0 8:1 / /data/x rw\n2 1 8:2 / /data/xy rw\n3 1 8:3 / /data/x/in\\040it rw\n', '/data/x'), {
      lines: '1 0 8:1 / /data/x\n3 1 8:3 / /data/x/in\\040it',
      points: ['/data/x', '/data/x/in it'],
    });
  });

  test('an item seen with more than one link is looked at on every synchronization until it is seen with one', async () => {
    const { make } = await setup({ 'a/x': 'x', 'a/y': 'y' });
    const j = make();
    await j.start();
    const item = (ino: bigint, nlink: bigint) => ({ ino, nlink, isDirectory: () => false });
    try {
      const scan = await j.changesSince();
      j.observe('a/x', item(5n, 2n));
      j.observe('a/y', item(6n, 1n));
      await j.commit(scan.marker, point(1));
      for (const n of [2, 3]) {
        const c = await j.changesSince();
        assert.deepEqual(journalMode(c).paths, ['a/x'], `synchronization ${n}`);
        await j.commit(c.marker, point(n));
      }
      const c = await j.changesSince();
      j.observe('a/x', item(5n, 1n));
      await j.commit(c.marker, point(4));
      assert.deepEqual(journalMode(await j.changesSince()).paths, []);
    } finally {
      await j.stop();
    }
  });

  test('a write, chmod or new link through a path outside the tree is recorded under the tree path (fanotify)', async () => {
    const { source, make } = await setup({ 'a/x': 'x', 'a/y': 'y', 'b/z': 'z' });
    const outside = join(source, '..', 'outside');
    mkdirSync(outside);
    const j = make();
    await j.start();
    const look = (rel: string) => j.observe(rel, lstatSync(join(source, rel), { bigint: true }));
    try {
      const scan = await j.changesSince();
      for (const rel of ['a/x', 'a/y', 'b/z']) look(rel);
      await j.commit(scan.marker, point(1));
      // A link made outside, written through and removed: the tree's directories see no event.
      linkSync(join(source, 'a/x'), join(outside, 'x'));
      appendFileSync(join(outside, 'x'), ' and more');
      rmSync(join(outside, 'x'));
      // A link kept outside and a chmod through it.
      linkSync(join(source, 'b/z'), join(outside, 'z'));
      chmodSync(join(outside, 'z'), 0o600);
      let c = await j.changesSince();
      assert.deepEqual(journalMode(c).paths, ['a/x', 'b/z']);
      look('a/x');
      look('b/z');
      await j.commit(c.marker, point(2));
      // b/z still has its outside link: looked at every time.
      c = await j.changesSince();
      assert.deepEqual(journalMode(c).paths, ['b/z']);
      await j.commit(c.marker, point(3));
      // A write through a descriptor of an outside link that is gone by now.
      linkSync(join(source, 'a/y'), join(outside, 'y'));
      const fd = openSync(join(outside, 'y'), 'a');
      rmSync(join(outside, 'y'));
      writeSync(fd, 'late');
      closeSync(fd);
      c = await j.changesSince();
      assert.deepEqual(journalMode(c).paths, ['a/y', 'b/z']);
    } finally {
      await j.stop();
    }
  });

  test("fanotify's queue overflowing (a flood of writes elsewhere on the file system) makes the next synchronization a scan, without reporting a loss", async () => {
    const { source, make } = await setup({ 'a/x': 'x' });
    const flood = join(source, '..', 'flood');
    mkdirSync(flood);
    const limit = Number(readFileSync('/proc/sys/fs/fanotify/max_queued_events', 'utf8'));
    const lost: string[] = [];
    const j = new FsChangeJournal({ source, stateDir: make().stateDir, onLost: (r) => lost.push(r) });
    await j.start();
    try {
      await j.commit((await j.changesSince()).marker, point(1));
      // Synchronous: the event loop does not read the queue meanwhile.
      for (let i = 0; i <= limit + 100; i++) writeFileSync(join(flood, `f${i}`), 'x');
      const c = await j.changesSince();
      assert.equal(c.mode, 'scan');
      assert.match(c.mode === 'scan' ? c.reason : '', /the fanotify queue overflowed/);
      assert.deepEqual(lost, []);
      await j.commit(c.marker, point(2));
      assert.equal((await j.changesSince()).mode, 'journal');
    } finally {
      await j.stop();
    }
  });

  test('without fanotify (an agent that is not root) the journal cannot vouch: every synchronization scans', async (t) => {
    // A user namespace of our own: root in it, without the capabilities of the machine's root.
    if (spawnSync('unshare', ['-U', '-r', 'true']).status !== 0) return t.skip('cannot make a user namespace (unshare -U)');
    const dir = await makeTempDir('custos-journal-unprivileged-');
    const script = `
      const { FsChangeJournal } = await import(${JSON.stringify(new URL('./index.js', import.meta.url).href)});
      const { mkdirSync } = await import('node:fs');
      const base = process.argv[1];
      mkdirSync(base + '/src/a', { recursive: true });
      const j = new FsChangeJournal({ source: base + '/src', stateDir: base + '/state' });
      await j.start();
      await j.commit((await j.changesSince()).marker, '${point(1)}');
      const c = await j.changesSince();
      await j.stop();
      console.log(JSON.stringify({ mode: c.mode, reason: c.reason ?? null }));`;
    const r = spawnSync('unshare', ['-U', '-r', process.execPath, '--input-type=module', '-e', script, dir.path], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { mode: string; reason: string };
    assert.equal(out.mode, 'scan');
    assert.match(out.reason, /writes through hard links outside the tree cannot be seen without fanotify \(EPERM.*the agent must run as root\): metadata scan/);
  });

  test('watching anew (what a consistency check does) closes a blind spot: directories that could not be watched are watched', async (t) => {
    // A user namespace of our own has its own, lower limit on inotify watches.
    if (spawnSync('unshare', ['-U', '-r', 'true']).status !== 0) return t.skip('cannot make a user namespace (unshare -U)');
    const dir = await makeTempDir('custos-journal-rewatch-');
    for (const d of ['a', 'b', 'c', 'd']) mkdirSync(join(dir.path, 'src', d), { recursive: true });
    mkdirSync(join(dir.path, 'other1'));
    mkdirSync(join(dir.path, 'other2'));
    const child = `
      const { FsChangeJournal } = await import(${JSON.stringify(new URL('./index.js', import.meta.url).href)});
      const { Inotify } = await import(${JSON.stringify(new URL('./inotify.js', import.meta.url).href)});
      const base = process.argv[1];
      // Another instance holds two watches while the journal starts, then lets them go: no event in the tree.
      const other = new Inotify({ onEvents: () => {}, onError: () => {} });
      other.addWatch(base + '/other1', 0x100);
      other.addWatch(base + '/other2', 0x100);
      const j = new FsChangeJournal({ source: base + '/src', stateDir: base + '/state' });
      await j.start();
      other.close();
      await j.settle();
      const before = j.watchedDirs();
      await j.rewatch();
      const after = j.watchedDirs();
      await j.stop();
      console.log(JSON.stringify({ before, after }));`;
    // Two for the other instance, the barrier, the source and two of its four directories: then the limit.
    const script = 'echo 6 > /proc/sys/user/max_inotify_watches && exec "$0" --input-type=module -e "$1" "$2"';
    const r = spawnSync('unshare', ['-U', '-r', 'sh', '-c', script, process.execPath, child, dir.path], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { before: string[]; after: string[] };
    assert.equal(out.before.length, 3, `a blind spot before: watched ${out.before}`);
    assert.deepEqual(out.after.sort(), ['', 'a', 'b', 'c', 'd']);
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
      rmSync(Buffer.concat([Buffer.from(`${source}/a/`), Buffer.from([0xff, 0x41])]));
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

  test('after N synchronizations by the journal a scan verifies it (with what it recorded, for the audit)', async () => {
    const { source, stateDir } = await setup({ 'a/x': 'x' });
    const j = new FsChangeJournal({ source, stateDir, fullScanEverySyncs: 2 });
    await j.start();
    try {
      await j.commit((await j.changesSince()).marker, point(1));
      for (let n = 2; n <= 3; n++) {
        writeFileSync(join(source, 'a/x'), `v${n}`);
        const c = journalMode(await j.changesSince());
        assert.ok(c.paths.includes('a/x'));
        await j.commit((await j.changesSince()).marker, point(n));
      }
      writeFileSync(join(source, 'a/y'), 'new');
      const c = await j.changesSince();
      assert.equal(c.mode, 'scan');
      assert.match(c.mode === 'scan' ? c.reason : '', /verifies the change journal \(2 synchronizations by the journal/);
      assert.ok(c.mode === 'scan' && c.audit && [...c.audit.changes.paths].includes('a/y') && c.audit.since === point(3), 'the scan carries what the journal recorded');
      await j.commit(c.marker, point(4), { scanned: true });
      assert.equal((await j.changesSince()).mode, 'journal');
    } finally {
      await j.stop();
    }
  });

  test('a scan is asked for when the last full scan is too old', async (t) => {
    // The fanotify group sees the whole file system: other tests running beside this one can make it lose
    // events (a queue overflow, a change that cannot be traced to its file), a loss that rightly asks for a
    // scan. Such a run says nothing about the clock, so it is tried again (three times at most; the last
    // attempt must hold), never taken as a pass.
    for (let attempt = 1; ; attempt++) {
      const { source, stateDir } = await setup({ 'a/x': 'x' });
      let now = Date.parse('2030-01-01T00:00:00Z');
      const clock = { now: () => new Date(now) };
      const j = new FsChangeJournal({ source, stateDir, clock, fullScanEveryMs: 3_600_000 });
      await j.start();
      try {
        await j.commit((await j.changesSince()).marker, point(1));
        now += 30 * 60_000;
        const c1 = await j.changesSince();
        const lost = (c: Awaited<ReturnType<typeof j.changesSince>>) => c.mode === 'scan' && !/periodic metadata scan/.test(c.reason) && attempt < 3;
        if (lost(c1)) {
          t.diagnostic(`attempt ${attempt}: ${c1.mode === 'scan' ? c1.reason : ''}`);
          continue;
        }
        assert.equal(c1.mode, 'journal', c1.mode === 'scan' ? c1.reason : '');
        await j.commit(c1.marker, point(2)); // a journal synchronization is not a full scan
        now += 31 * 60_000;
        const c2 = await j.changesSince();
        if (lost(c2)) {
          t.diagnostic(`attempt ${attempt}: ${c2.mode === 'scan' ? c2.reason : ''}`);
          continue;
        }
        assert.equal(c2.mode, 'scan');
        assert.match(c2.mode === 'scan' ? c2.reason : '', /periodic metadata scan/);
        return;
      } finally {
        await j.stop();
      }
    }
  });
});
