/**
 * The change journal's audit ("trust, but verify"): while a synchronization
 * walks the whole tree, the entries it makes are compared with the previous
 * recovery point's, and every item that changed is checked against what the
 * journal said changed since that point. An item the journal did not cover
 * is a miss: the journal is not to be trusted, and the replica it would have
 * made is suspect (the agent tells the server, which marks the replica
 * inconsistent and counts the miss).
 *
 * Covered means the guided walk would have looked at it: a changed item
 * whose path is among the changed paths or below a changed subtree; an item
 * that appeared or is gone whose parent the guided walk lists again (a
 * changed path, an ancestor of one, below a changed subtree — or a parent
 * that itself appeared or is gone and is covered).
 */
import type { ManifestEntry } from '../../format/index.js';
import type { ChangeSet } from '../backup/walker.js';

/** What of an entry a metadata scan compares: a difference is a change. */
/** Whether two entries of one path say the same of the item (what a change to it would alter). */
function sameItem(a: ManifestEntry, b: ManifestEntry): boolean {
  return (
    a.type === b.type &&
    a.mode === b.mode &&
    a.uid === b.uid &&
    a.gid === b.gid &&
    a.size === b.size &&
    a.mtimeNs === b.mtimeNs &&
    a.ctimeNs === b.ctimeNs &&
    a.ino === b.ino &&
    a.error === b.error &&
    (a.target === undefined ? b.target === undefined : b.target !== undefined && a.target.equals(b.target))
  );
}

const key = (path: Buffer | string): string => (typeof path === 'string' ? Buffer.from(path, 'utf8') : path).toString('latin1');

/** Proper ancestors of a latin1 path key, nearest first; '' (the root) last. */
function* ancestors(k: string): Generator<string> {
  for (let i = k.lastIndexOf('/'); i >= 0; i = k.lastIndexOf('/', i - 1)) yield k.slice(0, i);
  if (k !== '') yield '';
}

export class JournalAudit {
  private readonly previous = new Map<string, ManifestEntry>();
  private readonly paths = new Set<string>();
  /** Proper ancestors of changed paths: the guided walk lists them too. */
  private readonly onPath = new Set<string>();
  private readonly subtrees = new Set<string>();
  /** Items of the new manifest the previous point did not have. */
  private readonly added = new Set<string>();
  private readonly missed: string[] = [];
  private missedCount = 0;

  constructor(changes: ChangeSet, private readonly keep = 20) {
    for (const p of changes.paths) this.paths.add(key(p));
    for (const p of changes.subtrees ?? []) this.subtrees.add(key(p));
    for (const k of [...this.paths, ...this.subtrees]) for (const a of ancestors(k)) this.onPath.add(a);
  }

  /** An entry of the previous recovery point (before the walk). */
  addPrevious(e: ManifestEntry): void {
    this.previous.set(e.path.toString('latin1'), e);
  }

  /** An entry of the new manifest, as the full walk makes it (in walk order: parents first). */
  seen(e: ManifestEntry): void {
    const k = e.path.toString('latin1');
    const before = this.previous.get(k);
    this.previous.delete(k);
    if (before !== undefined && sameItem(before, e)) return;
    if (before === undefined) {
      this.added.add(k);
      if (!this.appearedOrGoneCovered(k, this.added)) this.miss(k);
    } else if (!this.changedCovered(k)) this.miss(k);
  }

  /** The paths the journal missed (at most `keep` of them, then how many in all). */
  finish(): { readonly count: number; readonly paths: readonly string[] } {
    // What is left of the previous point is gone from the tree.
    const gone = new Set(this.previous.keys());
    for (const k of gone) if (!this.appearedOrGoneCovered(k, gone)) this.miss(k);
    this.previous.clear();
    this.added.clear();
    return { count: this.missedCount, paths: this.missed };
  }

  private underSubtree(k: string): boolean {
    if (this.subtrees.has(k)) return true;
    for (const a of ancestors(k)) if (this.subtrees.has(a)) return true;
    return false;
  }

  private changedCovered(k: string): boolean {
    return this.paths.has(k) || this.underSubtree(k);
  }

  private appearedOrGoneCovered(k: string, same: ReadonlySet<string>): boolean {
    for (let at = k; ; ) {
      if (this.changedCovered(at)) return true;
      if (at === '') return false;
      const slash = at.lastIndexOf('/');
      const parent = slash < 0 ? '' : at.slice(0, slash);
      if (this.paths.has(parent) || this.onPath.has(parent) || this.underSubtree(parent)) return true;
      // A parent that appeared or went too is covered when it is.
      if (!same.has(parent)) return false;
      at = parent;
    }
  }

  private miss(k: string): void {
    this.missedCount++;
    if (this.missed.length < this.keep) this.missed.push(Buffer.from(k, 'latin1').toString('utf8') || '.');
  }
}
