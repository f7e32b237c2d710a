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
 * mtime restored, chmod, chown, setxattr, a POSIX ACL, rename of files and
 * directories across levels, mkdir and mkdir -p filled at once, a tree moved
 * in from outside, a directory moved out, create and remove within one
 * batch, rm -rf, symbolic links, directory modes, hard links inside the
 * tree, a hard link made outside the tree and written through (then kept or
 * removed), a link made inside, written through and moved out, a write
 * through an open descriptor of an outside link already removed, a bind
 * mount over a directory of the tree (written through, unmounted later), and
 * agent restarts at random moments: a clean stop (SIGTERM) or a kill -9
 * (FsChangeJournal.abandon: nothing settled, nothing written).
 *
 * CUSTOS_JOURNAL_MODEL_SEQUENCES=N runs N sequences (default 10).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
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

/** Whether this process may bind mount (root with CAP_SYS_ADMIN): the bind-mount operation is left out when not. */
function canBindMount(dir: string): boolean {
  try {
    mkdirSync(join(dir, 'probe-a'));
    mkdirSync(join(dir, 'probe-b'));
    execFileSync('mount', ['--bind', join(dir, 'probe-a'), join(dir, 'probe-b')], { stdio: 'ignore' });
    execFileSync('umount', [join(dir, 'probe-b')], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

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

function backup(source: string, previous: readonly ManifestPageRef[] | null, changes: ChangeSet | null, options: { onEntry?: (e: ManifestEntry) => void; journal?: FsChangeJournal } = {}): Promise<BackupResult> {
  return backupWithChanges(pool, source, previous, { changes, workers: 1, ...options });
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

/** What a sequence's operations share: where, a counter for fresh names, and the bind mount in place (if any). */
interface World {
  readonly root: string;
  readonly outside: string;
  readonly counter: { n: number };
  /** The directory of the tree a bind mount covers now. */
  mounted: string | null;
  readonly canMount: boolean;
}

/** One random operation on the tree; returns what it did, for the printed sequence. */
function operate(rng: Rng, w: World): string {
  const { root, outside, counter } = w;
  const again = () => operate(rng, w);
  const all = items(root);
  const files = all.files;
  // The mounted directory and what is below it are left alone until unmounted.
  const dirs = all.dirs.filter((d) => w.mounted === null || (d !== w.mounted && !d.startsWith(`${w.mounted}/`) && !w.mounted.startsWith(`${d}/`)));
  const dirOrRoot = () => (dirs.length === 0 || rng.int(4) === 0 ? '' : dirs[rng.int(dirs.length)]!);
  const at = (rel: string) => join(root, rel);
  const fresh = (base: string) => `${base === '' ? '' : `${base}/`}n${counter.n++}`;
  const regular = files.filter((f) => (w.mounted === null || !f.startsWith(`${w.mounted}/`)) && lstatSync(at(f)).isFile());
  const pick = () => regular[rng.int(regular.length)]!;
  const kinds = ['create', 'write', 'truncate', 'same-size', 'chmod', 'chown', 'xattr', 'acl', 'rename-file', 'rm', 'mkdir', 'mkdir-p', 'rename-dir', 'move-in', 'move-out', 'create-rm', 'rm-rf', 'symlink', 'dir-mode', 'hardlink', 'outside-link-write', 'inside-link-out', 'held-descriptor', ...(w.canMount ? ['bind-mount'] : [])];
  const kind = kinds[rng.int(kinds.length)]!;
  if (regular.length === 0 && !['create', 'mkdir', 'mkdir-p', 'rename-dir', 'move-in', 'move-out', 'create-rm', 'symlink', 'rm-rf', 'dir-mode', 'bind-mount'].includes(kind)) return again();
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
      // Ids far above the ones useradd hands out: tests that add users (end-user recovery, My files) may run at the
      // same time, and an id that gets a name between two points would differ in the owner's name, not in the file.
      chownSync(at(p), 61000 + rng.int(3), 61000 + rng.int(3));
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
      if (dirs.length === 0) return again();
      const p = dirs[rng.int(dirs.length)]!;
      const into = dirOrRoot();
      if (into === p || into.startsWith(`${p}/`)) return again();
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
      if (dirs.length === 0) return again();
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
      if (dirs.length === 0) return again();
      const p = dirs[rng.int(dirs.length)]!;
      rmSync(at(p), { recursive: true });
      return `rm -rf ${p}`;
    }
    case 'symlink': {
      const p = fresh(dirOrRoot());
      symlinkSync(`target-${rng.int(5)}`, at(p));
      return `symlink ${p}`;
    }
    case 'acl': {
      const p = pick();
      execFileSync('setfacl', ['-m', `u:${1000 + rng.int(3)}:${['r', 'rw', 'rx'][rng.int(3)]}`, at(p)]);
      return `setfacl ${p}`;
    }
    case 'hardlink': {
      const p = pick();
      const q = fresh(dirOrRoot());
      linkSync(at(p), at(q));
      return `ln ${p} ${q}`;
    }
    case 'outside-link-write': {
      const p = pick();
      const o = join(outside, `o${counter.n++}`);
      linkSync(at(p), o);
      writeFileSync(o, randomBytes(1 + rng.int(2000)), { flag: 'a' });
      if (rng.int(2) === 0) return `ln ${p} OUTSIDE, append through OUTSIDE (kept)`;
      rmSync(o);
      return `ln ${p} OUTSIDE, append through OUTSIDE, rm OUTSIDE`;
    }
    case 'inside-link-out': {
      const p = pick();
      const q = fresh(dirOrRoot());
      linkSync(at(p), at(q));
      writeFileSync(at(q), randomBytes(1 + rng.int(2000)));
      renameSync(at(q), join(outside, `moved${counter.n++}`));
      return `ln ${p} ${q}, write through ${q}, mv ${q} OUTSIDE`;
    }
    case 'held-descriptor': {
      const p = pick();
      const o = join(outside, `h${counter.n++}`);
      linkSync(at(p), o);
      const fd = openSync(o, 'a');
      rmSync(o);
      writeSync(fd, randomBytes(1 + rng.int(2000)));
      closeSync(fd);
      return `ln ${p} OUTSIDE, open it, rm OUTSIDE, write through the descriptor`;
    }
    case 'bind-mount': {
      // Each mount and unmount makes the next synchronization a scan: rarer than the others, so the journal is exercised.
      if (rng.int(3) !== 0) return again();
      if (w.mounted !== null) {
        const m = w.mounted;
        execFileSync('umount', [at(m)]);
        w.mounted = null;
        return `umount ${m}`;
      }
      if (dirs.length === 0) return again();
      const p = dirs[rng.int(dirs.length)]!;
      const o = join(outside, `mnt${counter.n++}`);
      mkdirSync(o);
      writeFileSync(join(o, 'on-the-mount'), randomBytes(1 + rng.int(500)));
      execFileSync('mount', ['--bind', o, at(p)]);
      w.mounted = p;
      writeFileSync(at(`${p}/written-through-the-mount`), randomBytes(1 + rng.int(500)));
      return `mount --bind OUTSIDE ${p}, write ${p}/written-through-the-mount`;
    }
    case 'dir-mode': {
      if (dirs.length === 0) return again();
      const p = dirs[rng.int(dirs.length)]!;
      chmodSync(at(p), [0o700, 0o750, 0o755][rng.int(3)]!);
      return `chmod dir ${p}`;
    }
  }
  throw new Error(`unknown operation ${kind}`);
}

describe('the change journal against a full scan', { timeout: 600_000 }, () => {
  test(`${SEQUENCES} random sequences of ${BATCHES} batches × ${OPS_PER_BATCH} operations (and agent restarts, clean and killed): every guided point equals the full walk`, async () => {
    let operations = 0;
    let mountable = false;
    let kills = 0;
    let lostReported = 0;
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
      const lost: string[] = [];
      const start = async () => {
        const j = new FsChangeJournal({ source: root, stateDir, onLost: (r) => lost.push(r) });
        await j.start();
        return j;
      };
      let journal = await start();
      const done: string[] = [];
      let previous: readonly ManifestPageRef[] | null = null;
      const world: World = { root, outside, counter: { n: 0 }, mounted: null, canMount: seq === 0 ? canBindMount(dir.path) : mountable };
      mountable = world.canMount;
      try {
        for (let batch = 0; batch <= BATCHES; batch++) {
          for (let k = 0; batch > 0 && k < OPS_PER_BATCH; k++) {
            // The agent restarts at random moments: a clean stop (SIGTERM), or killed (nothing settled or written).
            const restart = rng.int(120);
            if (restart === 0) {
              await journal.stop();
              done.push('-- agent stopped (SIGTERM) and started');
              journal = await start();
            } else if (restart === 1) {
              await journal.abandon();
              done.push('-- agent killed (kill -9) and started');
              journal = await start();
            }
            done.push(operate(rng, world));
            operations++;
          }
          const c = await journal.changesSince();
          if (c.mode === 'journal') journalSyncs++;
          const guided = await backup(root, previous, c.mode === 'journal' ? c.changes : null, { journal });
          // The verification scan's audit beside it: the full walk must find no change the journal did not record.
          const audit = c.mode === 'journal' ? new JournalAudit(c.changes) : null;
          if (audit && previous) for await (const e of manifestOf(pool, previous)) audit.addPrevious(e);
          const full = await backup(root, previous, null, audit ? { onEntry: (e) => audit.seen(e) } : {});
          const missed = audit?.finish();
          if (missed) {
            if (missed.count > 0) assert.fail(`seed ${seed}, after batch ${batch}: the audit says the journal missed ${missed.paths.join(', ')}\n${done.join('\n')}`);
            audited++;
          }
          const [g, f] = [await lines(guided.manifest), await lines(full.manifest)];
          if (JSON.stringify(g) !== JSON.stringify(f)) {
            const diff = f.filter((x) => !g.includes(x)).slice(0, 5).concat(g.filter((x) => !f.includes(x)).slice(0, 5));
            assert.fail(`seed ${seed}, after batch ${batch} (${c.mode === 'journal' ? `journal: ${[...c.changes.paths].join(', ')}` : c.reason}):\n${done.join('\n')}\ndiffering entries:\n${diff.join('\n')}`);
          }
          previous = full.manifest;
          await journal.commit(c.marker, randomBytes(16).toString('hex') as RecoveryPointId, { scanned: c.mode === 'scan' || guided.changesIgnored !== null });
          done.push(`-- point (${c.mode === 'journal' ? 'journal' : c.reason})`);
        }
      } finally {
        await journal.stop();
        if (world.mounted !== null) execFileSync('umount', [join(root, world.mounted)]);
      }
      kills += done.filter((d) => d.startsWith('-- agent killed')).length;
      lostReported += lost.length;
      assert.ok(existsSync(root));
    }
    // The journal must have been used, not only scans (else the test proves nothing).
    assert.ok(journalSyncs > SEQUENCES, `only ${journalSyncs} synchronizations used the journal`);
    assert.ok(audited > SEQUENCES, `only ${audited} audits`);
    // A kill is a loss the server is told of (journal-lost) when the journal had a commit to lose.
    assert.ok(kills === 0 || lostReported > 0, `${kills} kills, no loss reported`);
    process.stdout.write(`# ${operations} operations, ${journalSyncs} synchronizations guided by the journal, ${audited} of them audited by the full walk; ${kills} kills, ${lostReported} losses reported; bind mounts ${mountable ? 'in' : 'left out (not root)'}\n`);
  });
});
