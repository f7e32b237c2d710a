/**
 * The change journal against its model (issue 9): random sequences of file
 * system operations, a synchronization after each batch guided by a real
 * FsChangeJournal, and the same tree walked whole (a metadata scan) beside
 * it — the two manifests must be the same, entry for entry. The journal may
 * always say "scan"; it may never vouch for a tree it has not seen change.
 * When a sequence fails, the test prints it (seed and every operation), so
 * it can be replayed.
 *
 * The operations: create, append, truncate, a same-size rewrite with the
 * mtime restored, chmod, chown, setxattr, rename of files and directories
 * across levels, mkdir and mkdir -p filled at once, a tree moved in from
 * outside, a directory moved out, create and remove within one batch, rm -rf,
 * symbolic links, hard links inside the tree (some sequences), directory
 * modes, and clean agent restarts.
 *
 * Not in the set yet (CUSTOS_JOURNAL_MODEL_PENDING=1 adds the first, to see
 * it fail): a hard link made outside the tree to a file in it and written
 * through between two synchronizations, and a hard link made inside the
 * tree and removed again before the next synchronization (links here live
 * in links/, which nothing removes) — the other name's inode changes with
 * no event in its directory. A link that existed at the last full walk is
 * handled (such trees are scanned); a new one needs a watch on the whole
 * file system (fanotify).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setAttributeSync } from '@napi-rs/xattr';
import type { RecoveryPointId } from '../../src/base/index.js';
import type { ManifestEntry, ManifestPageRef } from '../../src/format/index.js';
import { Pool } from '../../src/pool/index.js';
import type { BackupResult, ChangeSet } from '../../src/agent/backup/backup.js';
import { backupWithChanges, manifestEntries, manifestOf, showEntry } from '../helpers/backup-harness.js';
import { FsChangeJournal, JournalAudit, journalStateDir } from '../../src/agent/journal/index.js';
import { Rng } from '../../bench/rng.js';
import { cleanupTempDirs, makeTempDir, memoryTmpBase } from '../helpers/tree.js';

/** Operations the journal misses today (see the file comment): CUSTOS_JOURNAL_MODEL_PENDING=1 adds them, to see it fail. */
const PENDING = process.env['CUSTOS_JOURNAL_MODEL_PENDING'] === '1' ? ['outside-link-write'] : [];

/** Sequences, batches per sequence and operations per batch: 10 × 6 × 10 = 600 operations. */
const SEQUENCES = Number(process.env['CUSTOS_JOURNAL_MODEL_SEQUENCES'] ?? 10);
const BATCHES = 6;
const OPS_PER_BATCH = 10;

let pool: Pool;

before(async () => {
  const dir = await makeTempDir('custos-journal-model-pool-', { base: memoryTmpBase() });
  await Pool.init(join(dir.path, 'pool'));
  pool = await Pool.open(join(dir.path, 'pool'));
  await pool.loadIndex();
});
after(cleanupTempDirs);

function backup(source: string, previous: readonly ManifestPageRef[] | null, changes: ChangeSet | null, onEntry?: (e: ManifestEntry) => void): Promise<BackupResult> {
  return backupWithChanges(pool, source, previous, { changes, workers: 1, ...(onEntry ? { onEntry } : {}) });
}

async function lines(manifest: readonly ManifestPageRef[]): Promise<string[]> {
  return (await manifestEntries(pool, manifest)).map(showEntry);
}

/** The items of the tree now, relative paths, directories and files apart (symlinks count as files). */
function items(root: string): { dirs: string[]; files: string[] } {
  const dirs: string[] = [];
  const files: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel))) {
      const r = rel === '' ? name : `${rel}/${name}`;
      if (lstatSync(join(root, r)).isDirectory()) {
        dirs.push(r);
        walk(r);
      } else files.push(r);
    }
  };
  walk('');
  return { dirs: dirs.sort(), files: files.sort() };
}

/** One random operation on the tree; returns what it did, for the printed sequence. */
function operate(rng: Rng, root: string, outside: string, counter: { n: number }, links: boolean): string {
  const all = items(root);
  // Hard links live in links/, which nothing removes or moves: a link made and removed between two synchronizations is a known gap.
  const files = all.files;
  const dirs = all.dirs.filter((d) => d !== 'links' && !d.startsWith('links/'));
  const dirOrRoot = () => (dirs.length === 0 || rng.int(4) === 0 ? '' : dirs[rng.int(dirs.length)]!);
  const at = (rel: string) => join(root, rel);
  const fresh = (base: string) => `${base === '' ? '' : `${base}/`}n${counter.n++}`;
  const regular = files.filter((f) => lstatSync(at(f)).isFile());
  const pick = () => regular[rng.int(regular.length)]!;
  // A hard link makes every later synchronization a scan: only some sequences make them, so the others exercise the journal.
  const kinds = ['create', 'write', 'truncate', 'same-size', 'chmod', 'chown', 'xattr', 'rename-file', 'rm', 'mkdir', 'mkdir-p', 'rename-dir', 'move-in', 'move-out', 'create-rm', 'rm-rf', 'symlink', 'dir-mode', ...(links ? ['hardlink'] : []), ...PENDING];
  const kind = kinds[rng.int(kinds.length)]!;
  if (regular.length === 0 && !['create', 'mkdir', 'mkdir-p', 'rename-dir', 'move-in', 'move-out', 'create-rm', 'symlink', 'rm-rf', 'dir-mode'].includes(kind)) return operate(rng, root, outside, counter, links);
  switch (kind) {
    case 'create': {
      const p = fresh(dirOrRoot());
      writeFileSync(at(p), randomBytes(rng.int(3000)));
      return `create ${p}`;
    }
    case 'write': {
      const p = pick();
      writeFileSync(at(p), randomBytes(1 + rng.int(3000)), { flag: 'a' });
      return `append ${p}`;
    }
    case 'truncate': {
      const p = pick();
      truncateSync(at(p), rng.int(Math.max(1, statSync(at(p)).size)));
      return `truncate ${p}`;
    }
    case 'same-size': {
      const p = pick();
      const st = statSync(at(p));
      writeFileSync(at(p), randomBytes(st.size));
      utimesSync(at(p), st.atime, st.mtime);
      return `rewrite ${p} (same size, mtime restored)`;
    }
    case 'chmod': {
      const p = pick();
      chmodSync(at(p), [0o600, 0o640, 0o644, 0o755][rng.int(4)]!);
      return `chmod ${p}`;
    }
    case 'chown': {
      const p = pick();
      chownSync(at(p), 1000 + rng.int(3), 1000 + rng.int(3));
      return `chown ${p}`;
    }
    case 'xattr': {
      const p = pick();
      setAttributeSync(at(p), `user.k${rng.int(3)}`, randomBytes(1 + rng.int(20)));
      return `setxattr ${p}`;
    }
    case 'rename-file': {
      const p = pick();
      const q = fresh(dirOrRoot());
      renameSync(at(p), at(q));
      return `rename ${p} → ${q}`;
    }
    case 'rm': {
      const p = pick();
      if (p.startsWith('links/')) return operate(rng, root, outside, counter, links);
      rmSync(at(p));
      return `rm ${p}`;
    }
    case 'mkdir': {
      const p = fresh(dirOrRoot());
      mkdirSync(at(p));
      writeFileSync(at(`${p}/f`), randomBytes(rng.int(500)));
      return `mkdir ${p} and write ${p}/f`;
    }
    case 'mkdir-p': {
      const p = `${fresh(dirOrRoot())}/x${counter.n++}/y${counter.n++}`;
      mkdirSync(at(p), { recursive: true });
      writeFileSync(at(`${p}/deep`), randomBytes(rng.int(500)));
      return `mkdir -p ${p} and write ${p}/deep`;
    }
    case 'rename-dir': {
      if (dirs.length === 0) return operate(rng, root, outside, counter, links);
      const p = dirs[rng.int(dirs.length)]!;
      const into = dirOrRoot();
      if (into === p || into.startsWith(`${p}/`)) return operate(rng, root, outside, counter, links);
      const q = fresh(into);
      renameSync(at(p), at(q));
      return `mv ${p} ${q}`;
    }
    case 'move-in': {
      const o = join(outside, `tree${counter.n++}`);
      mkdirSync(join(o, 'sub'), { recursive: true });
      writeFileSync(join(o, 'sub', 'in'), randomBytes(rng.int(500)));
      const q = fresh(dirOrRoot());
      renameSync(o, at(q));
      return `mv OUTSIDE/tree ${q} (with sub/in)`;
    }
    case 'move-out': {
      if (dirs.length === 0) return operate(rng, root, outside, counter, links);
      const p = dirs[rng.int(dirs.length)]!;
      const o = join(outside, `out${counter.n++}`);
      renameSync(at(p), o);
      writeFileSync(join(o, 'written-outside'), 'x');
      return `mv ${p} OUTSIDE and write there`;
    }
    case 'create-rm': {
      const p = fresh(dirOrRoot());
      writeFileSync(at(p), 'brief');
      rmSync(at(p));
      return `create and rm ${p}`;
    }
    case 'rm-rf': {
      if (dirs.length === 0) return operate(rng, root, outside, counter, links);
      const p = dirs[rng.int(dirs.length)]!;
      rmSync(at(p), { recursive: true });
      return `rm -rf ${p}`;
    }
    case 'symlink': {
      const p = fresh(dirOrRoot());
      symlinkSync(`target-${rng.int(5)}`, at(p));
      return `symlink ${p}`;
    }
    case 'hardlink': {
      const p = pick();
      mkdirSync(at('links'), { recursive: true });
      const q = fresh('links');
      linkSync(at(p), at(q));
      return `ln ${p} ${q}`;
    }
    case 'outside-link-write': {
      const p = pick();
      const o = join(outside, `o${counter.n++}`);
      linkSync(at(p), o);
      writeFileSync(o, randomBytes(1 + rng.int(2000)), { flag: 'a' });
      return `ln ${p} OUTSIDE, append through OUTSIDE`;
    }
    case 'dir-mode': {
      if (dirs.length === 0) return operate(rng, root, outside, counter, links);
      const p = dirs[rng.int(dirs.length)]!;
      chmodSync(at(p), [0o700, 0o750, 0o755][rng.int(3)]!);
      return `chmod dir ${p}`;
    }
  }
  throw new Error(`unknown operation ${kind}`);
}

describe('the change journal against a full scan', { timeout: 600_000 }, () => {
  test(`${SEQUENCES} random sequences of ${BATCHES} batches × ${OPS_PER_BATCH} operations (and clean agent restarts): every guided point equals the full walk`, async () => {
    let operations = 0;
    let journalSyncs = 0;
    let audited = 0;
    for (let seq = 0; seq < SEQUENCES; seq++) {
      const seed = `journal-model-${seq}`;
      const rng = new Rng(seed);
      const dir = await makeTempDir('custos-journal-model-', { base: memoryTmpBase() });
      const root = join(dir.path, 'src');
      const outside = join(dir.path, 'outside');
      mkdirSync(outside);
      mkdirSync(join(root, 'a/b'), { recursive: true });
      for (let i = 0; i < 8; i++) writeFileSync(join(root, i % 2 ? 'a' : 'a/b', `seed${i}`), randomBytes(100 + i * 50));
      const stateDir = journalStateDir(join(dir.path, 'agent'), root);
      let journal = new FsChangeJournal({ source: root, stateDir });
      await journal.start();
      const done: string[] = [];
      let previous: readonly ManifestPageRef[] | null = null;
      const counter = { n: 0 };
      try {
        for (let batch = 0; batch <= BATCHES; batch++) {
          if (batch > 0) {
            if (rng.int(6) === 0) {
              await journal.stop();
              done.push('-- agent stopped and started');
              journal = new FsChangeJournal({ source: root, stateDir });
              await journal.start();
            }
            for (let k = 0; k < OPS_PER_BATCH; k++) {
              done.push(operate(rng, root, outside, counter, seq % 4 === 3));
              operations++;
            }
          }
          const c = await journal.changesSince();
          if (c.mode === 'journal') journalSyncs++;
          const guided = await backup(root, previous, c.mode === 'journal' ? c.changes : null);
          // The verification scan's audit beside it: the full walk must find no change the journal did not record.
          const audit = c.mode === 'journal' ? new JournalAudit(c.changes) : null;
          if (audit && previous) for await (const e of manifestOf(pool, previous)) audit.addPrevious(e);
          const full = await backup(root, previous, null, audit ? (e) => audit.seen(e) : undefined);
          const missed = audit?.finish();
          // As on the agent: a tree with hard-linked files is not the journal's to vouch for (the guided walk falls back), so no verdict.
          if (missed && full.walk.linkedFiles === 0) {
            if (missed.count > 0) assert.fail(`seed ${seed}, after batch ${batch}: the audit says the journal missed ${missed.paths.join(', ')}\n${done.join('\n')}`);
            audited++;
          }
          const [g, f] = [await lines(guided.manifest), await lines(full.manifest)];
          if (JSON.stringify(g) !== JSON.stringify(f)) {
            const diff = f.filter((x) => !g.includes(x)).slice(0, 5).concat(g.filter((x) => !f.includes(x)).slice(0, 5));
            assert.fail(`seed ${seed}, after batch ${batch} (${c.mode === 'journal' ? `journal: ${[...c.changes.paths].join(', ')}` : c.reason}):\n${done.join('\n')}\ndiffering entries:\n${diff.join('\n')}`);
          }
          previous = full.manifest;
          await journal.commit(c.marker, randomBytes(16).toString('hex') as RecoveryPointId, { scanned: c.mode === 'scan' || guided.changesIgnored !== null, linkedFiles: full.walk.linkedFiles });
          done.push(`-- point (${c.mode})`);
        }
      } finally {
        await journal.stop();
      }
      assert.ok(existsSync(root));
    }
    // The journal must have been used, not only scans (else the test proves nothing).
    assert.ok(journalSyncs > SEQUENCES, `only ${journalSyncs} synchronizations used the journal`);
    assert.ok(audited > SEQUENCES, `only ${audited} audits`);
    process.stdout.write(`# ${operations} operations, ${journalSyncs} synchronizations guided by the journal, ${audited} of them audited by the full walk\n`);
  });
});
