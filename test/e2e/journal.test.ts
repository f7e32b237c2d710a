/**
 * The backup pipeline guided by changes (runBackup's `changes`), alone and
 * fed by a real FsChangeJournal: whatever the walk skips, the manifest must
 * come out entry for entry as a walk of the whole tree makes it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, linkSync, mkdirSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RecoveryPointId } from '../../src/base/index.js';
import type { ManifestEntry, ManifestPageRef } from '../../src/format/index.js';
import { Pool } from '../../src/pool/index.js';
import type { BackupResult, ChangeSet } from '../../src/agent/backup/backup.js';
import { backupWithChanges, manifestEntries, showEntry } from '../helpers/backup-harness.js';
import { FsChangeJournal, journalStateDir } from '../../src/agent/journal/index.js';
import { cleanupTempDirs, makeTempDir, seededText, writeTree, type TreeSpec } from '../helpers/tree.js';

let pool: Pool;

before(async () => {
  const dir = await makeTempDir('custos-journal-pool-');
  await Pool.init(join(dir.path, 'pool'));
  pool = await Pool.open(join(dir.path, 'pool'));
  await pool.loadIndex();
});
after(cleanupTempDirs);

function backup(source: string, previous: readonly ManifestPageRef[] | null, changes?: ChangeSet | null, excludes?: string[], journal?: FsChangeJournal): Promise<BackupResult> {
  return backupWithChanges(pool, source, previous, { changes: changes ?? null, ...(excludes ? { excludes } : {}), ...(journal ? { journal } : {}) });
}

const entries = (manifest: readonly ManifestPageRef[]): Promise<ManifestEntry[]> => manifestEntries(pool, manifest);
const show = showEntry;

/** Asserts that two backups made the same manifest, entry by entry, and the same counts. */
async function assertSameManifest(guided: BackupResult, full: BackupResult): Promise<ManifestEntry[]> {
  const a = await entries(guided.manifest);
  const b = await entries(full.manifest);
  const as = a.map(show);
  const bs = b.map(show);
  const diff: string[] = [];
  const n = Math.max(as.length, bs.length);
  for (let i = 0; i < n && diff.length < 10; i++) if (as[i] !== bs[i]) diff.push(`#${i}\n  guided: ${as[i]}\n  full:   ${bs[i]}`);
  assert.deepEqual(diff, [], `manifests differ (${a.length} vs ${b.length} entries)`);
  assert.deepEqual(guided.manifest, full.manifest, 'same manifest pages');
  const counts = (r: BackupResult) => {
    const { filesNew, filesChanged, filesUnchanged, dirs, others, bytesRead, logicalBytes } = r.summary;
    return { filesNew, filesChanged, filesUnchanged, dirs, others, bytesRead, logicalBytes };
  };
  assert.deepEqual(counts(guided), counts(full));
  return a;
}

const find = (list: ManifestEntry[], path: string) => list.find((e) => e.path.toString('utf8') === path);

describe('backup guided by changes', () => {
  test('2000 files in 100 directories: only changed paths are looked at, the manifest is that of a full walk', async () => {
    const dir = await makeTempDir('custos-changes-');
    const source = join(dir.path, 'src');
    const spec: Array<[string, string | Buffer]> = [];
    for (let d = 0; d < 100; d++) {
      for (let f = 0; f < 20; f++) spec.push([`d${String(d).padStart(3, '0')}/f${String(f).padStart(2, '0')}`, seededText(`${d}/${f}`, 200 + f)]);
    }
    await writeTree(source, spec, { mtimeMs: Date.now() - 60_000 });
    symlinkSync('d000/f00', join(source, 'link'));
    const first = await backup(source, null);
    assert.equal(first.summary.filesNew, 2000);

    // Nothing changed: not a single lstat or readdir.
    const idle = await backup(source, first.manifest, { paths: [] });
    assert.equal(idle.changesIgnored, null);
    assert.deepEqual(idle.walk, { itemsStatted: 0, dirsListed: 0, itemsReused: 2102 });
    assert.deepEqual(idle.manifest, first.manifest);
    assert.equal(idle.summary.filesUnchanged, 2000);
    assert.equal(idle.summary.bytesRead, 0);

    // Three files modified, one added in a new directory, one directory deleted.
    writeFileSync(join(source, 'd001/f03'), seededText('changed 1', 203)); // same size, new content
    appendFileSync(join(source, 'd010/f07'), 'appended');
    writeFileSync(join(source, 'd099/f19'), 'short');
    mkdirSync(join(source, 'dnew/sub'), { recursive: true });
    writeFileSync(join(source, 'dnew/sub/file'), 'a new file');
    rmSync(join(source, 'd050'), { recursive: true });
    const changed = ['d001/f03', 'd010/f07', 'd099/f19', 'dnew/sub/file'];
    const bytesChanged = changed.reduce((n, p) => n + statSync(join(source, p)).size, 0);
    // As a journal reports them: each path and its parent, every deleted item, the new directory as a subtree.
    const changes: ChangeSet = {
      paths: [
        ...changed,
        'd001',
        'd010',
        'd099',
        '',
        'dnew',
        'dnew/sub',
        'd050',
        ...Array.from({ length: 20 }, (_, f) => `d050/f${String(f).padStart(2, '0')}`),
      ],
      subtrees: ['dnew'],
    };

    const guided = await backup(source, first.manifest, changes);
    const full = await backup(source, first.manifest);
    assert.equal(guided.changesIgnored, null);
    const list = await assertSameManifest(guided, full);
    assert.equal(guided.summary.bytesRead, bytesChanged, 'only the changed and new files were read');
    assert.deepEqual(
      { filesNew: guided.summary.filesNew, filesChanged: guided.summary.filesChanged, filesUnchanged: guided.summary.filesUnchanged },
      { filesNew: 1, filesChanged: 3, filesUnchanged: 1977 },
    );
    assert.equal(find(list, 'd050'), undefined);
    assert.equal(find(list, 'dnew/sub/file')?.size, 10);

    // The full walk looked at everything...
    assert.equal(full.walk.dirsListed, 102);
    assert.ok(full.walk.itemsStatted > 2000);
    // ...the guided one listed the root, d001, d010, d099, dnew and dnew/sub (the new subtree twice: once
    // to check it for hard links) and stat'ed the 30 changed paths, then the root, d001, d010, d099, dnew,
    // the 3 changed files and the 2 items below dnew, plus dnew's 3 items for the hard link check; the
    // other 2074 of the 2084 entries were copied from the previous manifest.
    assert.deepEqual(guided.walk, { itemsStatted: 30 + 10 + 3, dirsListed: 6 + 2, itemsReused: 2074 });
  });

  test('hard links, a directory moved out and back, a replaced directory, excludes', async () => {
    const dir = await makeTempDir('custos-changes-');
    const source = join(dir.path, 'src');
    const outside = join(dir.path, 'outside');
    mkdirSync(outside);
    const spec: TreeSpec = [
      ['h/t', 'hard linked content'],
      ['h2/y', { type: 'hardlink', target: 'h/t' }],
      ['h3/z', { type: 'hardlink', target: 'h/t' }],
      ['m/f1', 'moved out and back'],
      ['m/f2', 'stays'],
      ['r/g', 'replaced'],
      ['keep/k', 'k'],
      ['keep/k.log', 'log'],
    ];
    await writeTree(source, spec, { mtimeMs: Date.now() - 60_000 });
    let prev = (await backup(source, null)).manifest;
    const round = async (changes: ChangeSet, excludes?: string[]) => {
      const guided = await backup(source, prev, changes, excludes);
      const full = await backup(source, prev, null, excludes);
      const list = await assertSameManifest(guided, full);
      prev = full.manifest;
      return { guided, list };
    };

    // Written through a second name: the first name's entry holds the content, so everything is walked.
    appendFileSync(join(source, 'h2/y'), ' more');
    let r = await round({ paths: ['h2/y', 'h2'] });
    assert.match(r.guided.changesIgnored ?? '', /hard links \(h2\/y\)/);

    // The group's first name deleted: the others are looked at and the group rebuilt.
    rmSync(join(source, 'h/t'));
    r = await round({ paths: ['h/t', 'h'] });
    assert.equal(r.guided.changesIgnored, null);
    assert.equal(find(r.list, 'h2/y')?.type, 'file');
    assert.equal(find(r.list, 'h3/z')?.type, 'hardlink');
    assert.equal(find(r.list, 'h3/z')?.target?.toString(), 'h2/y');

    // Moved out, changed where no watcher sees it, moved back (same inode): the journal marks it a subtree.
    renameSync(join(source, 'm'), join(outside, 'm'));
    writeFileSync(join(outside, 'm/f1'), 'changed while away');
    renameSync(join(outside, 'm'), join(source, 'm'));
    r = await round({ paths: ['m', ''], subtrees: ['m'] });
    assert.equal(find(r.list, 'm/f1')?.size, 'changed while away'.length);

    // Replaced by a new directory holding a file of the same name, size and mtime (often even the same inode
    // numbers): a directory that appeared is a subtree to walk whole.
    const old = statSync(join(source, 'r/g'));
    rmSync(join(source, 'r'), { recursive: true });
    mkdirSync(join(source, 'r'));
    writeFileSync(join(source, 'r/g'), 'REPLACED');
    utimesSync(join(source, 'r/g'), old.atime, old.mtime);
    r = await round({ paths: ['r', 'r/g', ''], subtrees: ['r'] });
    assert.ok(r.guided.summary.bytesRead >= 'REPLACED'.length);

    // Excludes apply to what is copied as well as to what is looked at.
    chmodSync(join(source, 'keep/k'), 0o600);
    r = await round({ paths: ['keep/k'] }, ['*.log']);
    assert.equal(find(r.list, 'keep/k.log'), undefined);
    assert.equal(find(r.list, 'keep/k')?.mode, 0o600);
  });

  test('synchronizations driven by a real change journal match full walks; after an agent restart a scan, then the journal again', async () => {
    const dir = await makeTempDir('custos-changes-');
    const source = join(dir.path, 'src');
    const spec: Array<[string, string | Buffer]> = [];
    for (let d = 0; d < 20; d++) for (let f = 0; f < 10; f++) spec.push([`d${d}/f${f}`, seededText(`${d}.${f}`, 100 + d)]);
    await writeTree(source, spec, { mtimeMs: Date.now() - 60_000 });
    const stateDir = journalStateDir(join(dir.path, 'agent'), source);
    let prev: readonly ManifestPageRef[] | null = null;
    let journal = new FsChangeJournal({ source, stateDir });
    await journal.start();

    const sync = async (expectMode: 'journal' | 'scan') => {
      const c = await journal.changesSince();
      assert.equal(c.mode, expectMode, c.mode === 'scan' ? c.reason : '');
      const guided = await backup(source, prev, c.mode === 'journal' ? c.changes : null, undefined, journal);
      const full = await backup(source, prev);
      await assertSameManifest(guided, full);
      prev = full.manifest;
      await journal.commit(c.marker, randomBytes(16).toString('hex') as RecoveryPointId, { scanned: c.mode === 'scan' || guided.changesIgnored !== null });
      return guided;
    };

    try {
      await sync('scan');

      writeFileSync(join(source, 'd1/f1'), 'modified');
      chmodSync(join(source, 'd2/f2'), 0o600);
      rmSync(join(source, 'd3'), { recursive: true });
      renameSync(join(source, 'd4/f4'), join(source, 'd5/moved'));
      renameSync(join(source, 'd6'), join(source, 'd6-renamed'));
      mkdirSync(join(source, 'new/deep'), { recursive: true });
      for (let i = 0; i < 50; i++) writeFileSync(join(source, `new/deep/n${i}`), `new ${i}`);
      // Out of sight of the watcher and back: only 'd10' itself has events.
      renameSync(join(source, 'd10'), join(dir.path, 'd10'));
      writeFileSync(join(dir.path, 'd10/f0'), 'changed elsewhere');
      renameSync(join(dir.path, 'd10'), join(source, 'd10'));
      let g = await sync('journal');

      g = await sync('journal');
      assert.ok(g.walk.itemsStatted < 5, `an idle synchronization stat'ed ${g.walk.itemsStatted} items`);

      // The agent restarts; meanwhile files change, one in a way no comparison of mtimes sees.
      await journal.stop();
      writeFileSync(join(source, 'd7/f7'), 'changed while the agent was down');
      rmSync(join(source, 'd8/f8'));
      writeFileSync(join(source, 'd9/added'), 'added while down');
      chmodSync(join(source, 'd9/f9'), 0o640);
      journal = new FsChangeJournal({ source, stateDir });
      await journal.start();
      await sync('scan');
      writeFileSync(join(source, 'd11/f1'), 'after the restart');
      g = await sync('journal');
      assert.ok(g.walk.dirsListed < 10, `listed ${g.walk.dirsListed} directories`);
    } finally {
      await journal.stop();
    }
  });

  test('hard links outside the tree: writes through them are in the next point, and the journal is used all along', async () => {
    const dir = await makeTempDir('custos-changes-outside-link-');
    const source = join(dir.path, 'src');
    const outside = join(dir.path, 'outside');
    const spec: Record<string, string> = { 'docs/shared.txt': 'first', 'docs/other.txt': 'o', 'docs/later.txt': 'l' };
    for (let i = 0; i < 50; i++) spec[`bulk/f${i}`] = `bulk ${i}`;
    await writeTree(source, spec, { mtimeMs: Date.now() - 60_000 });
    mkdirSync(outside);
    // Case 4 of issue 9: a link that existed before the first synchronization.
    linkSync(join(source, 'docs/shared.txt'), join(outside, 'shared-link'));
    const journal = new FsChangeJournal({ source, stateDir: journalStateDir(join(dir.path, 'agent'), source) });
    await journal.start();
    let prev: readonly ManifestPageRef[] | null = null;
    const content = (list: ManifestEntry[], path: string) => find(list, path)?.size;
    const sync = async (expectMode: 'journal' | 'scan') => {
      const c = await journal.changesSince();
      assert.equal(c.mode, expectMode, c.mode === 'scan' ? c.reason : '');
      const guided = await backup(source, prev, c.mode === 'journal' ? c.changes : null, undefined, journal);
      const list = await assertSameManifest(guided, await backup(source, prev));
      prev = guided.manifest;
      await journal.commit(c.marker, randomBytes(16).toString('hex') as RecoveryPointId, { scanned: c.mode === 'scan' });
      return { list, statted: guided.walk.itemsStatted };
    };
    try {
      await sync('scan');
      writeFileSync(join(outside, 'shared-link'), 'second, written through the outside link');
      let r = await sync('journal');
      assert.equal(content(r.list, 'docs/shared.txt'), 'second, written through the outside link'.length);
      // Looked at every time while it has another link, and nothing else is.
      r = await sync('journal');
      // (The linked file's directory is listed again: its 3 items, the directory and the root.)
      assert.ok(r.statted <= 6, `an idle synchronization stat'ed ${r.statted} of 56 items`);
      // A link made after the walk, written through and removed before the next synchronization.
      linkSync(join(source, 'docs/later.txt'), join(outside, 'brief'));
      writeFileSync(join(outside, 'brief'), 'written through a link that is gone now');
      rmSync(join(outside, 'brief'));
      r = await sync('journal');
      assert.equal(content(r.list, 'docs/later.txt'), 'written through a link that is gone now'.length);
    } finally {
      await journal.stop();
    }
  });
});
