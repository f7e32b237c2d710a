/**
 * Which paths of a tree each inode has, and which items have more than one
 * link: what the change journal needs to turn a whole-file-system event
 * (fanotify reports the changed inode, whichever path it was changed
 * through) into paths of the tree, and to look at every multi-link item on
 * every synchronization.
 *
 * The index is filled by the synchronizations' walks (observe(): every item
 * they stat) and is complete after a full walk; a walk guided by the journal
 * stats every created, moved or changed item, so it stays complete between
 * full walks. It may also name paths that no longer hold the inode (renamed
 * away, deleted): those only make a synchronization look at a path once
 * more. A full walk builds a fresh index, which replaces the old one when
 * that synchronization is committed (commitScan), so stale paths do not
 * pile up.
 *
 * Generations are the journal's: a full walk started with marker
 * generation G observes in generations above G.
 */
import { isUtf8 } from 'node:buffer';

type Paths = string | string[];

export class InodeIndex {
  private inodes = new Map<number, Paths>();
  /** The index a full walk is building, and the marker generation it started with. */
  private next: { readonly generation: number; readonly inodes: Map<number, Paths> } | null = null;
  /** Items with more than one link → the generation in which that was last seen. */
  private readonly linked = new Map<string, number>();

  /** How many inodes are known (for diagnostics and tests). */
  get size(): number {
    return this.inodes.size;
  }

  /**
   * A walk looked at `rel` (an item other than a directory) and found inode
   * `ino` with `nlink` links. Names that are not UTF-8 are not indexed (the
   * journal does not vouch for a tree that has them).
   */
  observe(rel: Buffer | string, ino: bigint, nlink: bigint | number, generation: number): void {
    if (typeof rel !== 'string') {
      if (!isUtf8(rel)) return;
      rel = rel.toString('utf8');
    }
    const key = Number(ino);
    add(this.inodes, key, rel);
    if (this.next) add(this.next.inodes, key, rel);
    if (nlink > 1) this.linked.set(rel, generation);
    else this.linked.delete(rel);
  }

  /** The paths `ino` was seen at in the tree (none for an inode outside it). */
  pathsOf(ino: bigint): readonly string[] {
    const p = this.inodes.get(Number(ino));
    return p === undefined ? [] : typeof p === 'string' ? [p] : p;
  }

  /** An event says the item at `rel` has more than one link now. */
  markLinked(rel: string, generation: number): void {
    this.linked.set(rel, generation);
  }

  /** Every item last seen with more than one link: a synchronization looks at each. */
  linkedPaths(): string[] {
    return [...this.linked.keys()];
  }

  /** A full walk starts with marker generation `generation`; it builds a fresh index. */
  beginScan(generation: number): void {
    this.next = { generation, inodes: new Map() };
  }

  /** A walk guided by the journal starts: no fresh index is built. */
  beginGuided(): void {
    this.next = null;
  }

  /**
   * The full walk that began with `generation` was committed: its index
   * replaces the old one, and items it did not see with more than one link
   * (gone, excluded) are no longer looked at on every synchronization.
   */
  commitScan(generation: number): void {
    if (this.next?.generation !== generation) return;
    this.inodes = this.next.inodes;
    this.next = null;
    for (const [rel, g] of this.linked) if (g <= generation) this.linked.delete(rel);
  }
}

function add(map: Map<number, Paths>, key: number, rel: string): void {
  const p = map.get(key);
  if (p === undefined) map.set(key, rel);
  else if (typeof p === 'string') {
    if (p !== rel) map.set(key, [p, rel]);
  } else if (!p.includes(rel)) p.push(rel);
}
