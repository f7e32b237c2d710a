import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setAttributeSync } from '@napi-rs/xattr';
import { LOST_NO_WATCHES, LOST_OVERFLOW, LOST_ROOT, TreeWatcher, type ChangeKind } from './tree-watcher.js';
import { parseEvents, IN_CREATE, IN_ISDIR } from './inotify.js';

// tmpfs when there is one: fast, and takes any bytes as a name.
const BASE = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A watcher on a fresh tree `<tmp>/src` that records what it reports. */
async function setup(dirs: string[] = [], files: Record<string, string> = {}) {
  const base = mkdtempSync(join(BASE, 'custos-tree-watcher-'));
  made.push(base);
  const root = join(base, 'src');
  const outside = join(base, 'outside');
  mkdirSync(root);
  mkdirSync(outside);
  for (const d of dirs) mkdirSync(join(root, d), { recursive: true });
  for (const [f, content] of Object.entries(files)) writeFileSync(join(root, f), content);
  const changes = new Map<string, Set<ChangeKind>>();
  const lost: string[] = [];
  const watcher = new TreeWatcher(root, {
    barrierDir: join(base, 'barrier'),
    onChange: (rel, kind) => {
      const kinds = changes.get(rel) ?? new Set<ChangeKind>();
      kinds.add(kind);
      changes.set(rel, kinds);
    },
    onLost: (reason) => lost.push(reason),
  });
  await watcher.start();
  const p = (rel: string) => join(root, rel);
  return {
    base,
    root,
    outside,
    watcher,
    changes,
    lost,
    p,
    items: () => [...changes.keys()].sort(),
    subtrees: () => [...changes].filter(([, k]) => k.has('subtree')).map(([rel]) => rel).sort(),
    /** Waits for everything made so far, then forgets it. */
    async settled() {
      await watcher.settle();
      const seen = { items: [...changes.keys()].sort(), lost: [...lost] };
      changes.clear();
      lost.length = 0;
      return seen;
    },
  };
}

describe('TreeWatcher', () => {
  test('start watches every directory below the root, follows no symbolic link and skips ignored ones', async () => {
    const base = mkdtempSync(join(BASE, 'custos-tree-watcher-'));
    made.push(base);
    const root = join(base, 'src');
    mkdirSync(join(root, 'a/b'), { recursive: true });
    mkdirSync(join(root, 'state/deep'), { recursive: true });
    mkdirSync(join(base, 'elsewhere/x'), { recursive: true });
    symlinkSync(join(base, 'elsewhere'), join(root, 'link'));
    const changes: string[] = [];
    const w = new TreeWatcher(root, {
      barrierDir: join(root, 'state', 'barrier'),
      ignore: [join(root, 'state')],
      onChange: (rel) => changes.push(rel),
      onLost: (reason) => assert.fail(reason),
    });
    await w.start();
    assert.deepEqual(w.watchedDirs(), ['', 'a', 'a/b']);
    assert.deepEqual(w.crossDevice(), []);
    writeFileSync(join(root, 'state/deep/f'), 'x');
    writeFileSync(join(root, 'a/b/f'), 'x');
    await w.stop();
    assert.deepEqual([...new Set(changes)].sort(), ['a/b', 'a/b/f']);
  });

  test('an edit in a subdirectory of a renamed directory is reported under the new path', async () => {
    const t = await setup(['d1/sub/deeper'], { 'd1/sub/f': 'x' });
    renameSync(t.p('d1'), t.p('d1r'));
    const rename = await t.settled();
    assert.deepEqual(rename.lost, []);
    assert.ok(rename.items.includes('d1') && rename.items.includes('d1r') && rename.items.includes(''), String(rename.items));
    assert.deepEqual(t.watcher.watchedDirs(), ['', 'd1r', 'd1r/sub', 'd1r/sub/deeper']);
    appendFileSync(t.p('d1r/sub/f'), 'y');
    writeFileSync(t.p('d1r/sub/deeper/g'), 'z');
    const edit = await t.settled();
    assert.deepEqual(edit.items, ['d1r/sub', 'd1r/sub/deeper', 'd1r/sub/deeper/g', 'd1r/sub/f']);
    await t.watcher.stop();
  });

  test('the renamed directory is reported as a subtree, its old and new parents as items', async () => {
    const t = await setup(['p1/d', 'p2']);
    renameSync(t.p('p1/d'), t.p('p2/e'));
    await t.watcher.settle();
    assert.deepEqual(t.subtrees(), ['p2/e']);
    assert.deepEqual(t.items(), ['p1', 'p1/d', 'p2', 'p2/e']);
    await t.watcher.stop();
  });

  test('mkdir -p a/b/c and a write at once: a is a subtree, and a later edit in a/b/c is reported', async () => {
    const t = await setup();
    mkdirSync(t.p('a/b/c'), { recursive: true });
    writeFileSync(t.p('a/b/c/f'), 'x');
    await t.watcher.settle();
    assert.ok(t.subtrees().includes('a'), String(t.subtrees()));
    assert.deepEqual(t.watcher.watchedDirs(), ['', 'a', 'a/b', 'a/b/c']);
    await t.settled();
    appendFileSync(t.p('a/b/c/f'), 'y');
    assert.deepEqual((await t.settled()).items, ['a/b/c', 'a/b/c/f']);
    await t.watcher.stop();
  });

  test('a directory moved in from outside is a subtree and edits deep inside it are reported', async () => {
    const t = await setup();
    mkdirSync(join(t.outside, 'x/y/z'), { recursive: true });
    writeFileSync(join(t.outside, 'x/y/z/f'), 'x');
    renameSync(join(t.outside, 'x'), t.p('in'));
    await t.watcher.settle();
    assert.deepEqual(t.subtrees(), ['in']);
    assert.deepEqual(t.items(), ['', 'in']);
    await t.settled();
    appendFileSync(t.p('in/y/z/f'), 'y');
    mkdirSync(t.p('in/y/z/new'));
    writeFileSync(t.p('in/y/z/new/g'), 'g');
    await t.watcher.settle();
    // g was made before 'new' was watched: the subtree report covers it.
    assert.deepEqual(t.subtrees(), ['in/y/z/new']);
    assert.deepEqual((await t.settled()).items, ['in/y/z', 'in/y/z/f', 'in/y/z/new']);
    appendFileSync(t.p('in/y/z/new/g'), 'h');
    assert.deepEqual((await t.settled()).items, ['in/y/z/new', 'in/y/z/new/g']);
    await t.watcher.stop();
  });

  test('a directory moved out is forgotten: no watch, no report of later edits, no stale path', async () => {
    const t = await setup(['m/n'], { 'm/n/f': 'x' });
    const before = t.watcher.watchCount;
    renameSync(t.p('m'), join(t.outside, 'm'));
    const move = await t.settled();
    assert.deepEqual(move.items, ['', 'm']);
    assert.equal(t.watcher.watchCount, before - 2);
    assert.deepEqual(t.watcher.watchedDirs(), ['']);
    appendFileSync(join(t.outside, 'm/n/f'), 'y');
    mkdirSync(join(t.outside, 'm/n/o'));
    assert.deepEqual((await t.settled()).items, []);
    // A new directory of the same name is a different one.
    mkdirSync(t.p('m/n'), { recursive: true });
    await t.settled();
    writeFileSync(t.p('m/n/g'), 'g');
    assert.deepEqual((await t.settled()).items, ['m/n', 'm/n/g']);
    await t.watcher.stop();
  });

  test('chmod, chown and an extended attribute are reported (IN_ATTRIB)', async () => {
    const t = await setup(['d'], { 'd/f': 'x' });
    chmodSync(t.p('d/f'), 0o600);
    assert.deepEqual((await t.settled()).items, ['d', 'd/f']);
    if (process.getuid?.() === 0) {
      chownSync(t.p('d/f'), 1234, 1234);
      assert.deepEqual((await t.settled()).items, ['d', 'd/f']);
    }
    let xattr = true;
    try {
      setAttributeSync(t.p('d/f'), 'user.custos', 'v');
    } catch {
      xattr = false; // no user.* attributes on this file system (tmpfs before Linux 6.6)
    }
    if (xattr) assert.deepEqual((await t.settled()).items, ['d', 'd/f']);
    chmodSync(t.p('d'), 0o700);
    assert.deepEqual((await t.settled()).items, ['', 'd']);
    await t.watcher.stop();
  });

  test('a queue overflow is lost, and directories made meanwhile are watched afterwards', async (t0) => {
    const max = Number(readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8'));
    if (max > 200_000) {
      t0.skip(`max_queued_events is ${max}: too many files to make`);
      return;
    }
    const t = await setup(['flood']);
    // Three events per file (create, modify, close), none read while this loop blocks.
    const files = Math.ceil(max / 3) + 500;
    for (let i = 0; i < files; i++) writeFileSync(t.p(`flood/${i}`), 'x');
    mkdirSync(t.p('late/deep'), { recursive: true }); // its IN_CREATE is dropped
    const overflow = await t.settled();
    assert.ok(overflow.lost.includes(LOST_OVERFLOW), String(overflow.lost));
    assert.ok(t.watcher.watchedDirs().includes('late/deep'), String(t.watcher.watchedDirs()));
    writeFileSync(t.p('late/deep/f'), 'x');
    const after = await t.settled();
    assert.deepEqual(after.lost, []);
    assert.deepEqual(after.items, ['late/deep', 'late/deep/f']);
    await t.watcher.stop();
  });

  test('a name that is not valid UTF-8 is lost, not reported', async () => {
    const t = await setup(['d']);
    const name = Buffer.concat([Buffer.from(t.p('d/')), Buffer.from([0x66, 0xff, 0xfe])]);
    writeFileSync(name, 'x');
    const seen = await t.settled();
    assert.ok(seen.lost.some((r) => r.includes('not valid UTF-8')), String(seen.lost));
    assert.deepEqual(seen.items, ['d']);
    await t.watcher.stop();
  });

  test('no callback after stop() resolves; what happened before it is reported', async () => {
    const t = await setup(['d']);
    writeFileSync(t.p('d/before'), 'x');
    await t.watcher.stop();
    assert.deepEqual(t.items(), ['d', 'd/before']);
    t.changes.clear();
    // A second watcher on the same tree proves the later changes were queued.
    const witness: string[] = [];
    const w2 = new TreeWatcher(t.root, { barrierDir: join(t.base, 'barrier2'), onChange: (r) => witness.push(r), onLost: () => {} });
    await w2.start();
    writeFileSync(t.p('d/after'), 'x');
    rmSync(t.root, { recursive: true });
    await w2.settle();
    assert.ok(witness.includes('d/after'));
    assert.deepEqual(t.items(), []);
    assert.deepEqual(t.lost, []);
    await w2.stop();
  });

  test('removing directories drops their watches', async () => {
    const t = await setup(['x/y/z', 'keep']);
    assert.equal(t.watcher.watchCount, 5);
    rmSync(t.p('x'), { recursive: true });
    const seen = await t.settled();
    assert.deepEqual(seen.items, ['', 'x', 'x/y', 'x/y/z']);
    assert.equal(t.watcher.watchCount, 2);
    assert.deepEqual(t.watcher.watchedDirs(), ['', 'keep']);
    await t.watcher.stop();
  });

  test('no inotify watches left (ENOSPC) is lost, at start and for a new directory', async (t) => {
    // A user namespace of our own has its own, lower limit on watches; the
    // machine's fs.inotify.max_user_watches is not touched.
    const probe = spawnSync('unshare', ['-U', '-r', 'true']);
    if (probe.status !== 0) {
      t.skip('cannot make a user namespace (unshare -U)');
      return;
    }
    const base = mkdtempSync(join(BASE, 'custos-tree-watcher-'));
    made.push(base);
    const root = join(base, 'src');
    for (const d of ['a', 'b', 'c', 'd']) mkdirSync(join(root, d), { recursive: true });
    const child = `
      const { TreeWatcher } = await import(${JSON.stringify(new URL('./tree-watcher.js', import.meta.url).href)});
      const { mkdirSync } = await import('node:fs');
      const lost = [];
      const w = new TreeWatcher(process.argv[1], { barrierDir: process.argv[2], onChange: () => {}, onLost: (r) => lost.push(r) });
      await w.start();
      const atStart = { lost: [...lost], watches: w.watchCount };
      lost.length = 0;
      mkdirSync(process.argv[1] + '/e');
      await w.settle();
      const later = [...lost];
      lost.length = 0;
      const complete = w.complete;
      // Watches freed: resync() watches what was missed.
      const { rmSync } = await import('node:fs');
      for (const d of ['a', 'b', 'c', 'd']) rmSync(process.argv[1] + '/' + d, { recursive: true, force: true });
      await w.settle();
      const resynced = w.resync();
      console.log(JSON.stringify({ atStart, later, complete, resynced, afterResync: { lost, complete: w.complete, dirs: w.watchedDirs() } }));
      await w.stop();`;
    // Barrier and root and two more directories: then the limit.
    const script = 'echo 4 > /proc/sys/user/max_inotify_watches && exec "$0" --input-type=module -e "$1" "$2" "$3"';
    const r = spawnSync('unshare', ['-U', '-r', 'sh', '-c', script, process.execPath, child, root, join(base, 'barrier')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(out.atStart, { lost: [LOST_NO_WATCHES], watches: 3 });
    assert.deepEqual(out.later, [LOST_NO_WATCHES]);
    assert.equal(out.complete, false);
    assert.equal(out.resynced, true);
    assert.deepEqual(out.afterResync, { lost: [], complete: true, dirs: ['', 'e'] });
  });

  test('unref() lets the process exit while watching', () => {
    const base = mkdtempSync(join(BASE, 'custos-tree-watcher-'));
    made.push(base);
    mkdirSync(join(base, 'src'));
    const child = `
      const { TreeWatcher } = await import(${JSON.stringify(new URL('./tree-watcher.js', import.meta.url).href)});
      const w = new TreeWatcher(process.argv[1], { barrierDir: process.argv[2], onChange: () => {}, onLost: () => {} });
      await w.start();
      w.unref();
      console.log(w.watchCount);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', child, join(base, 'src'), join(base, 'barrier')], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.signal, null, 'the child did not exit by itself');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '1');
  });

  test('the root deleted or moved is lost and ends watching', async () => {
    const t = await setup(['d']);
    renameSync(t.root, join(t.outside, 'moved'));
    await t.watcher.settle();
    assert.deepEqual(t.lost, [LOST_ROOT]);
    assert.equal(t.watcher.watchCount, 0);
    await t.watcher.stop(); // resolves at once
    const u = await setup();
    rmSync(u.root, { recursive: true });
    await u.watcher.settle();
    assert.deepEqual(u.lost, [LOST_ROOT]);
  });
});

/** Every directory under `root`, relative, '' included (what the watcher must watch). */
function dirsOf(root: string): string[] {
  const out = [''];
  const walk = (rel: string) => {
    for (const e of readdirSync(rel === '' ? root : join(root, rel), { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const child = rel === '' ? e.name : `${rel}/${e.name}`;
      out.push(child);
      walk(child);
    }
  };
  walk('');
  return out.sort();
}

describe('TreeWatcher under random operations', () => {
  for (const seed of [1, 2, 3, 4]) {
    test(`seed ${seed}: every directory is watched and every write is reported, as an item or below a subtree`, async () => {
      let state = seed;
      const rand = (n: number) => {
        state = (state * 1103515245 + 12345) % 2147483648;
        return Math.floor((state / 2147483648) * n);
      };
      const t = await setup();
      const pick = (list: string[]) => list[rand(list.length)] as string;
      const fresh = () => `n${rand(1000)}`;
      for (let batch = 0; batch < 25; batch++) {
        const written: string[] = [];
        for (let op = 0; op < 12; op++) {
          const dirs = dirsOf(t.root);
          const dir = pick(dirs);
          const at = (name: string) => (dir === '' ? name : `${dir}/${name}`);
          switch (rand(6)) {
            case 0:
              mkdirSync(t.p(`${at(fresh())}/${fresh()}`), { recursive: true });
              break;
            case 1:
            case 2: {
              const f = at(`f${rand(20)}`);
              try {
                appendFileSync(t.p(f), 'x');
                written.push(f);
              } catch {
                // a directory of that name
              }
              break;
            }
            case 3: {
              // Rename a directory somewhere else in the tree (not into itself).
              if (dir === '') break;
              const target = pick(dirs.filter((d) => d !== dir && !d.startsWith(`${dir}/`)));
              const to = target === '' ? fresh() : `${target}/${fresh()}`;
              if (!existsSync(t.p(to))) renameSync(t.p(dir), t.p(to));
              break;
            }
            case 4: {
              // Move a directory out, or one in from outside.
              if (dir !== '' && rand(2) === 0) {
                renameSync(t.p(dir), join(t.outside, `out${batch}-${op}`));
              } else {
                const name = `in${batch}-${op}`;
                mkdirSync(join(t.outside, name, 'sub'), { recursive: true });
                writeFileSync(join(t.outside, name, 'sub', 'f'), 'x');
                renameSync(join(t.outside, name), t.p(at(name)));
              }
              break;
            }
            case 5:
              if (dir !== '' && rand(3) === 0) rmSync(t.p(dir), { recursive: true });
              break;
          }
        }
        await t.watcher.settle();
        assert.deepEqual(t.lost, []);
        assert.deepEqual(t.watcher.watchedDirs(), dirsOf(t.root), `batch ${batch}`);
        const subtrees = t.subtrees();
        for (const f of written) {
          if (!existsSync(t.p(f))) continue; // moved or removed since: that was reported
          const covered = t.changes.has(f) || subtrees.some((s) => s === '' || f.startsWith(`${s}/`));
          assert.ok(covered, `batch ${batch}: ${f} not reported`);
        }
        t.changes.clear();
      }
      await t.watcher.stop();
    });
  }
});

describe('TreeWatcher start() on a tree that changes while it is walked', () => {
  test('renames, new directories and writes made during the walk leave every directory watched', async () => {
    const base = mkdtempSync(join(BASE, 'custos-tree-watcher-'));
    made.push(base);
    const root = join(base, 'src');
    for (let i = 0; i < 30; i++) for (let j = 0; j < 30; j++) mkdirSync(join(root, `d${i}`, `e${j}`), { recursive: true });
    const changes = new Set<string>();
    const lost: string[] = [];
    const w = new TreeWatcher(root, { barrierDir: join(base, 'barrier'), onChange: (rel) => changes.add(rel), onLost: (r) => lost.push(r) });
    const started = w.start();
    let step = 0;
    let walking = true;
    void started.finally(() => (walking = false));
    // Between the walk's slices: rename directories, make new ones, write.
    while (walking) {
      await new Promise((r) => setImmediate(r));
      const i = step++ % 30;
      if (existsSync(join(root, `d${i}`))) renameSync(join(root, `d${i}`), join(root, `r${step}`));
      mkdirSync(join(root, `new${step}`, 'x', 'y'), { recursive: true });
      writeFileSync(join(root, `new${step}`, 'x', 'y', 'f'), 'f');
    }
    await started;
    assert.ok(step > 2, `the walk yielded ${step} times`);
    await w.settle();
    assert.deepEqual(lost, []);
    assert.deepEqual(w.watchedDirs(), dirsOf(root));
    changes.clear();
    const dirs = dirsOf(root);
    for (const d of dirs) writeFileSync(join(root, d, 'g'), 'g');
    await w.settle();
    for (const d of dirs) assert.ok(changes.has(d === '' ? 'g' : `${d}/g`), `${d}/g reported`);
    await w.stop();
  });

  test('stop() while start() still walks waits for it, then closes', async () => {
    const base = mkdtempSync(join(BASE, 'custos-tree-watcher-'));
    made.push(base);
    const root = join(base, 'src');
    for (let i = 0; i < 1000; i++) mkdirSync(join(root, `d${i}`), { recursive: true });
    const lost: string[] = [];
    const w = new TreeWatcher(root, { barrierDir: join(base, 'barrier'), onChange: () => {}, onLost: (r) => lost.push(r) });
    const started = w.start();
    writeFileSync(join(root, 'd1', 'f'), 'x');
    await w.stop();
    await started;
    assert.deepEqual(lost, []);
    assert.equal(w.watchCount, 0);
  });
});

describe('the inotify binding', () => {
  test('a worker that ends with instances open, closed and closing does not crash the process', () => {
    const url = JSON.stringify(new URL('./inotify.js', import.meta.url).href);
    const worker = `
      const { Inotify } = await import(${url});
      const { parentPort } = await import('node:worker_threads');
      const open = new Inotify({ onEvents: () => {}, onError: () => {} });
      open.addWatch(process.argv[1], 0x100);
      const closed = new Inotify({ onEvents: () => {}, onError: () => {} });
      closed.close();
      parentPort.postMessage('ready');
      new Inotify({ onEvents: () => {}, onError: () => {} }).close(); // its close still pending
    `;
    const main = `
      const { Worker } = await import('node:worker_threads');
      for (let i = 0; i < 10; i++) {
        const w = new Worker(${JSON.stringify(worker)}, { eval: true, type: 'module', argv: [process.argv[1]] });
        await new Promise((r, j) => { w.once('message', r); w.once('error', j); });
        await w.terminate();
      }
      console.log('done');`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', main, BASE], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.signal, null, `ended by ${r.signal}`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'done');
  });
});

describe('parseEvents', () => {
  test('reads wd, mask, cookie and the NUL-padded name of each record', () => {
    const rec = (wd: number, mask: number, cookie: number, name: Buffer) => {
      const len = name.length === 0 ? 0 : (name.length + 1 + 15) & ~15;
      const b = Buffer.alloc(16 + len);
      b.writeInt32LE(wd, 0);
      b.writeUInt32LE(mask, 4);
      b.writeUInt32LE(cookie, 8);
      b.writeUInt32LE(len, 12);
      name.copy(b, 16);
      return b;
    };
    const buf = Buffer.concat([rec(3, IN_CREATE | IN_ISDIR, 0, Buffer.from([0x61, 0xff])), rec(-1, 0x4000, 7, Buffer.alloc(0))]);
    assert.deepEqual(parseEvents(buf), [
      { wd: 3, mask: IN_CREATE | IN_ISDIR, cookie: 0, name: Buffer.from([0x61, 0xff]) },
      { wd: -1, mask: 0x4000, cookie: 7, name: null },
    ]);
    assert.throws(() => parseEvents(buf.subarray(0, 20)), /truncated/);
  });
});
