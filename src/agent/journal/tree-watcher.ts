/**
 * TreeWatcher: watches a directory tree recursively with inotify (our own
 * binding, ./inotify.ts) and reports which paths changed, relative to the
 * root; says when it cannot vouch for that (onLost). The change journal
 * records what it reports; a lost watcher means "walk everything".
 *
 * Rules (docs/design/change-journal.md has the long form):
 * - Every event reports its item and the item's parent directory ('item';
 *   the root is ''). A directory that appears (created, or moved in from
 *   outside or from elsewhere in the tree) is watched with everything below
 *   it FIRST and then reported as 'subtree': whatever was made in it before
 *   the watches were in place is found by the caller's walk of the subtree.
 * - A rename inside the tree (IN_MOVED_FROM + IN_MOVED_TO, same cookie)
 *   re-keys the watches of the directory and its descendants to the new path,
 *   so later changes are reported under the new name; the new place is then
 *   walked again (a rename racing a walk leaves nothing unwatched). A
 *   directory moved out (no matching IN_MOVED_TO in the same read) loses its
 *   watches; a late IN_MOVED_TO is then treated as a move in, which is
 *   correct too.
 * - onLost: inotify queue overflow (the watches are then resynchronised with
 *   a walk of the tree), no watches left (fs.inotify.max_user_watches; the
 *   directories concerned stay unwatched until resync() or until they are
 *   made again: call resync() before the walk that recovers), a
 *   changed name that is not valid UTF-8 (the caller names paths as
 *   strings), the root deleted or moved (the watcher then stops), settle()
 *   timing out, or a watch that fails for another reason. It may be called
 *   more than once.
 * - Symbolic links are never followed; directories on another file system
 *   (mount points inside the tree) are watched too and listed in
 *   crossDevice(). Directories in `ignore` (and the barrier directory) are
 *   neither watched nor reported.
 *
 * Names are bytes on Linux: inside, relative paths are "binary strings"
 * (latin1: one char per byte, lossless) and are converted to UTF-8 strings
 * only when reported.
 *
 * Walks (readdir + lstat of directories + inotify_add_watch) are synchronous
 * when an event calls for one, so the maps never see an event between a
 * walk's steps; start()'s walk of the whole tree yields to the event loop
 * every 100 directories and holds the events back until it is done. A
 * rename or move-in of a large directory blocks the loop for its walk.
 */
import { isUtf8 } from 'node:buffer';
import { lstatSync, readdirSync, type Dirent } from 'node:fs';
import { lstat, mkdir, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { errorMessage, isErrno } from '../../base/index.js';
import {
  IN_ATTRIB,
  IN_CLOSE_WRITE,
  IN_CREATE,
  IN_DELETE,
  IN_DELETE_SELF,
  IN_DONT_FOLLOW,
  IN_EXCL_UNLINK,
  IN_IGNORED,
  IN_ISDIR,
  IN_MODIFY,
  IN_MOVE_SELF,
  IN_MOVED_FROM,
  IN_MOVED_TO,
  IN_ONLYDIR,
  IN_Q_OVERFLOW,
  IN_UNMOUNT,
  Inotify,
  type InotifyEvent,
} from './inotify.js';

export type ChangeKind = 'item' | 'subtree';

export interface TreeWatcherOptions {
  /** A path changed ('item'), or a directory appeared whose whole subtree must be walked ('subtree'). '' is the root. */
  readonly onChange: (rel: string, kind: ChangeKind) => void;
  /** Changes may have been missed since the last report; see the header for when. */
  readonly onLost: (reason: string) => void;
  /**
   * A directory the watcher owns (created when missing) where settle() makes
   * a file; outside the tree, or inside it and then ignored.
   */
  readonly barrierDir: string;
  /** Absolute directories inside the tree that are not watched nor reported (e.g. the journal's state). */
  readonly ignore?: readonly string[];
  /** settle() gives up (onLost) when its own change is not reported within this time (default 10 s). */
  readonly settleTimeoutMs?: number;
}

const DIR_MASK =
  IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE |
  IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK;
const BARRIER_MASK = IN_CREATE | IN_ONLYDIR | IN_DONT_FOLLOW;
const SLASH = Buffer.from('/');
/** Events kept during start()'s walk before it counts as an overflow (bounded memory). */
const MAX_HELD_EVENTS = 100_000;
/** start()'s walk yields to the event loop after this many directories (a few ms). */
const WALK_SLICE = 100;

export const LOST_OVERFLOW = 'inotify queue overflow';
export const LOST_NO_WATCHES = 'no inotify watches left (fs.inotify.max_user_watches)';
export const LOST_ROOT = 'the source directory was deleted or moved';

/** How a watch attempt ended: watched, gone meanwhile (its event tells), or no watches left. */
type WatchResult = 'watched' | 'gone' | 'full';

export class TreeWatcher {
  private readonly root: string;
  private readonly rootBytes: Buffer;
  private readonly barrierDir: string;
  private readonly onChange: TreeWatcherOptions['onChange'];
  private readonly onLost: TreeWatcherOptions['onLost'];
  private readonly settleTimeoutMs: number;
  /** Binary relative paths not watched nor reported. */
  private readonly ignored = new Set<string>();

  private inotify: Inotify | null = null;
  /** start()'s work; settle() waits for it (events are held until it is done). */
  private starting: Promise<void> | null = null;
  /** Events that arrived during start()'s walk ('overflow': too many to keep). */
  private held: InotifyEvent[] | 'overflow' | null = null;
  /** A directory could not be watched for want of watches. */
  private incomplete = false;
  private rootDev = 0;
  private barrierWd = -1;
  private readonly wdPath = new Map<number, string>();
  private readonly pathWd = new Map<string, number>();
  private readonly crossDev = new Set<string>();
  /** A directory's IN_MOVED_FROM waiting for its IN_MOVED_TO. */
  private pendingMove: { cookie: number; rel: string } | null = null;
  private readonly settleWaiters = new Map<string, () => void>();
  private settleSeq = 0;

  constructor(root: string, options: TreeWatcherOptions) {
    this.root = resolve(root);
    this.rootBytes = Buffer.from(this.root);
    this.barrierDir = resolve(options.barrierDir);
    this.onChange = options.onChange;
    this.onLost = options.onLost;
    this.settleTimeoutMs = options.settleTimeoutMs ?? 10_000;
    for (const dir of [...(options.ignore ?? []), this.barrierDir]) {
      const rel = relative(this.root, resolve(dir));
      if (rel !== '' && rel !== '..' && !rel.startsWith('../') && !isAbsolute(rel)) {
        this.ignored.add(Buffer.from(rel).toString('latin1'));
      }
    }
  }

  // -------------------------------------------------------------------------
  // Life cycle

  /**
   * Watches the root and every directory below it. Throws when the root or
   * the barrier directory cannot be watched; a directory below that cannot
   * be watched is an onLost.
   */
  start(): Promise<void> {
    if (this.starting !== null) throw new Error('TreeWatcher.start: already started');
    this.starting = this.startWatching();
    return this.starting;
  }

  private async startWatching(): Promise<void> {
    const st = await lstat(this.root);
    if (!st.isDirectory()) throw new Error(`cannot watch ${this.root}: not a directory`);
    this.rootDev = st.dev;
    await mkdir(this.barrierDir, { recursive: true });
    const inotify = new Inotify({
      onEvents: (events) => this.onEvents(events),
      onError: (err) => this.die(`inotify failed: ${err.message}`),
    });
    this.inotify = inotify;
    try {
      this.barrierWd = inotify.addWatch(this.barrierDir, BARRIER_MASK);
      const rootWd = inotify.addWatch(this.rootBytes, DIR_MASK);
      this.setWatch(rootWd, '', st.dev);
    } catch (err) {
      this.close();
      throw new Error(`cannot watch ${this.root}: ${errorMessage(err)}`, { cause: err });
    }
    // The first walk may be long: it yields to the event loop, and events
    // wait until it is done so the maps never change under it.
    this.held = [];
    try {
      await this.addTreeAsync('');
    } finally {
      // (A cast: the compiler does not see onEvents() change it during the await.)
      const held = this.held as InotifyEvent[] | 'overflow' | null;
      this.held = null;
      if (held === null || this.inotify === null) {
        // closed meanwhile
      } else if (held === 'overflow') {
        this.resync();
        this.lost(LOST_OVERFLOW);
      } else if (held.length > 0) {
        this.onEvents(held);
      }
    }
  }

  /**
   * Resolves once every event queued before the call has been delivered:
   * makes a file in the barrier directory and waits for its event (one
   * inotify instance delivers in order).
   */
  async settle(): Promise<void> {
    await this.starting?.catch(() => {});
    if (this.inotify === null) return;
    const name = `settle-${process.pid}-${++this.settleSeq}`;
    const path = join(this.barrierDir, name);
    let timer: NodeJS.Timeout | undefined;
    const arrived = new Promise<boolean>((done) => {
      this.settleWaiters.set(name, () => done(true));
      timer = setTimeout(() => done(false), this.settleTimeoutMs);
    });
    try {
      await writeFile(path, '');
      if (!(await arrived)) this.lost(`the watcher reported nothing for ${this.settleTimeoutMs} ms`);
    } finally {
      clearTimeout(timer);
      this.settleWaiters.delete(name);
      await rm(path, { force: true });
    }
  }

  /** settle(), then close: no callback runs after this resolves. */
  async stop(): Promise<void> {
    await this.settle();
    this.close();
  }

  /** Stops at once without settling: events not yet read are dropped (what a killed agent leaves; tests). */
  abandon(): void {
    this.close();
  }

  /** Whether the inotify instance keeps the process alive (it does by default). */
  ref(): void {
    this.inotify?.ref();
  }

  unref(): void {
    this.inotify?.unref();
  }

  /**
   * Walks the whole tree again: watches what is not watched (after
   * ENOSPC, once watches are free again) and drops watches of directories
   * that are gone. Call it before the walk that recovers from a loss. Returns
   * whether every directory is now watched (false: onLost was told why).
   */
  resync(): boolean {
    if (this.inotify === null) return false;
    this.incomplete = false;
    const found = this.addTree('');
    for (const [path, wd] of this.pathWd) {
      if (found.has(path)) continue;
      this.dropWatch(wd, path);
      try {
        this.inotify?.rmWatch(wd);
      } catch {
        // already gone
      }
    }
    return !this.incomplete;
  }

  /** Whether some directory could not be watched (ENOSPC) since start() or the last resync(). */
  get complete(): boolean {
    return this.inotify !== null && !this.incomplete;
  }

  /** How many directories of the tree are watched. */
  get watchCount(): number {
    return this.pathWd.size;
  }

  /** The watched directories (relative; names that are not UTF-8 come out with U+FFFD). */
  watchedDirs(): string[] {
    return [...this.pathWd.keys()].map(toUtf8).sort();
  }

  /** Watched directories on another file system than the root (mount points and what lies below them). */
  crossDevice(): string[] {
    return [...this.crossDev].map(toUtf8).sort();
  }

  private close(): void {
    this.inotify?.close();
    this.inotify = null;
    this.pendingMove = null;
    this.wdPath.clear();
    this.pathWd.clear();
    this.crossDev.clear();
    this.releaseSettleWaiters();
  }

  /** A loss after which watching makes no sense: tell, then stop. */
  private die(reason: string): void {
    this.lost(reason);
    this.close();
  }

  private lost(reason: string): void {
    if (this.inotify !== null) this.onLost(reason);
  }

  private releaseSettleWaiters(): void {
    for (const release of this.settleWaiters.values()) release();
    this.settleWaiters.clear();
  }

  // -------------------------------------------------------------------------
  // Events

  private onEvents(events: InotifyEvent[]): void {
    if (this.held !== null) {
      if (this.held !== 'overflow') this.held.push(...events);
      if (this.held !== 'overflow' && this.held.length > MAX_HELD_EVENTS) this.held = 'overflow';
      return;
    }
    try {
      for (const e of events) {
        if (this.inotify === null) return;
        this.handle(e);
      }
      // Its IN_MOVED_TO would have followed at once: the directory left the tree.
      this.movedOut();
    } catch (err) {
      this.lost(`cannot process an inotify event: ${errorMessage(err)}`);
    }
  }

  private handle(e: InotifyEvent): void {
    if (this.pendingMove !== null && !((e.mask & IN_MOVED_TO) !== 0 && e.cookie === this.pendingMove.cookie)) {
      this.movedOut();
    }
    if (e.mask & IN_Q_OVERFLOW) {
      // The maps may be wrong now (directories made, moved or removed unseen).
      this.resync();
      this.lost(LOST_OVERFLOW);
      // Their events may have been dropped; the caller knows it lost anyway.
      this.releaseSettleWaiters();
      return;
    }
    if (e.wd === this.barrierWd) {
      if (e.name !== null && e.mask & IN_CREATE) this.settleWaiters.get(e.name.toString('latin1'))?.();
      return;
    }
    const dir = this.wdPath.get(e.wd);
    if (dir === undefined) return; // a watch we dropped already
    if (e.mask & IN_IGNORED) {
      this.dropWatch(e.wd, dir);
      if (dir === '') this.die(LOST_ROOT);
      return;
    }
    if (e.name === null) {
      this.handleSelf(e, dir);
      return;
    }
    const rel = childPath(dir, e.name);
    const isDir = (e.mask & IN_ISDIR) !== 0;
    if (e.mask & IN_MOVED_FROM) {
      if (isDir) this.pendingMove = { cookie: e.cookie, rel };
    } else if (e.mask & IN_MOVED_TO) {
      if (isDir) this.movedIn(rel, e.cookie);
    } else if (e.mask & IN_CREATE && isDir) {
      this.addTree(rel);
      this.report(rel, 'subtree');
    }
    this.report(rel, 'item');
    this.report(dir, 'item');
  }

  /** An event on a watched directory itself (its entry in the parent is reported by the parent's watch). */
  private handleSelf(e: InotifyEvent, dir: string): void {
    if (e.mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
      if (dir === '') this.die(LOST_ROOT);
      return; // IN_IGNORED follows a deletion; a move is handled through the parent
    }
    if (e.mask & IN_UNMOUNT) {
      // The file system mounted here is gone: what shows now is the directory underneath.
      this.dropWatch(e.wd, dir);
      this.addTree(dir);
      this.report(dir, 'subtree');
      return;
    }
    this.report(dir, 'item');
  }

  /** A directory arrived at `rel`: renamed within the tree (its IN_MOVED_FROM pending) or moved in. */
  private movedIn(rel: string, cookie: number): void {
    const from = this.pendingMove?.cookie === cookie ? this.pendingMove.rel : null;
    this.pendingMove = null;
    if (from !== null && from !== rel) this.rekey(from, rel);
    // Walked either way: a rename that raced a walk may have left something unwatched.
    this.addTree(rel);
    this.report(rel, 'subtree');
  }

  /** The pending IN_MOVED_FROM had no IN_MOVED_TO: the directory left the tree. */
  private movedOut(): void {
    if (this.pendingMove === null) return;
    const { rel } = this.pendingMove;
    this.pendingMove = null;
    for (const [path, wd] of this.pathWd) {
      if (!isAtOrBelow(path, rel)) continue;
      this.dropWatch(wd, path);
      try {
        this.inotify?.rmWatch(wd);
      } catch {
        // EINVAL: the kernel dropped it already (its IN_IGNORED is on the way)
      }
    }
  }

  /** Reports `rel` as a UTF-8 string, or tells that it cannot be named. */
  private report(rel: string, kind: ChangeKind): void {
    if (this.inotify === null || this.isIgnored(rel)) return;
    const bytes = Buffer.from(rel, 'latin1');
    if (!isUtf8(bytes)) {
      this.lost(`a changed name is not valid UTF-8: ${bytes.toString('utf8')}`);
      return;
    }
    this.onChange(bytes.toString('utf8'), kind);
  }

  // -------------------------------------------------------------------------
  // Watches

  /**
   * Watches `rel` and every directory below it, parent before children (so
   * an entry made after a readdir is reported by the parent's watch). Stops
   * at the first ENOSPC. Returns the relative paths it watched.
   */
  private addTree(rel: string): Set<string> {
    const watched = new Set<string>();
    const stack = [rel];
    while (stack.length > 0) {
      const dir = stack.pop() as string;
      const step = this.visit(dir);
      if (step === 'full') break;
      if (step === null) continue;
      watched.add(dir);
      stack.push(...step);
    }
    return watched;
  }

  /**
   * addTree for start(): the same steps, yielding to the event loop every
   * WALK_SLICE directories (events are held meanwhile). Synchronous calls in
   * slices: about four times faster than awaiting each one.
   */
  private async addTreeAsync(rel: string): Promise<void> {
    const stack = [rel];
    let slice = 0;
    while (stack.length > 0 && this.inotify !== null) {
      if (++slice % WALK_SLICE === 0) await new Promise((r) => setImmediate(r));
      const step = this.visit(stack.pop() as string);
      if (step === 'full') break;
      if (step !== null) stack.push(...step);
    }
  }

  /**
   * One step of a walk: watches `dir` when it is a directory (not ignored)
   * and returns its subdirectories to walk next; null when it is not watched
   * (ignored, gone meanwhile — an event tells — or not a directory); 'full'
   * when no watches are left.
   */
  private visit(dir: string): string[] | null | 'full' {
    if (this.isIgnored(dir)) return null;
    const abs = this.absolute(dir);
    let dev: number;
    try {
      const st = lstatSync(abs);
      if (!st.isDirectory()) return null;
      dev = st.dev;
    } catch {
      return null;
    }
    const result = this.watch(dir, dev);
    if (result !== 'watched') return result === 'full' ? 'full' : null;
    try {
      return childDirs(dir, readdirSync(abs, { withFileTypes: true, encoding: 'buffer' }));
    } catch {
      return []; // gone meanwhile
    }
  }

  private watch(rel: string, dev: number): WatchResult {
    const inotify = this.inotify;
    if (inotify === null) return 'gone';
    let wd: number;
    try {
      wd = inotify.addWatch(this.absolute(rel), DIR_MASK);
    } catch (err) {
      if (isErrno(err, 'ENOSPC')) {
        this.incomplete = true;
        this.lost(LOST_NO_WATCHES);
        return 'full';
      }
      // Removed, or replaced by a file or a symbolic link, since the lstat.
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return 'gone';
      this.lost(`cannot watch ${toUtf8(rel)}: ${errorMessage(err)}`);
      return 'gone';
    }
    const known = this.wdPath.get(wd);
    // The same directory (inotify gives one wd per inode) found at a new place:
    // a rename we have not seen the events of yet.
    if (known !== undefined && known !== rel) this.rekey(known, rel);
    this.setWatch(wd, rel, dev);
    return 'watched';
  }

  private setWatch(wd: number, rel: string, dev: number): void {
    this.wdPath.set(wd, rel);
    this.pathWd.set(rel, wd);
    if (dev !== this.rootDev) this.crossDev.add(rel);
    else this.crossDev.delete(rel);
  }

  /** Forgets watch `wd` of `rel` (the kernel dropped it, or we are about to). */
  private dropWatch(wd: number, rel: string): void {
    this.wdPath.delete(wd);
    if (this.pathWd.get(rel) === wd) {
      this.pathWd.delete(rel);
      this.crossDev.delete(rel);
    }
  }

  /** The directory `from` is now at `to`: so are its descendants' watches. */
  private rekey(from: string, to: string): void {
    const moved: [string, number][] = [];
    for (const [path, wd] of this.pathWd) if (isAtOrBelow(path, from)) moved.push([path, wd]);
    for (const [path, wd] of moved) {
      const cross = this.crossDev.delete(path);
      this.pathWd.delete(path);
      const next = to + path.slice(from.length);
      this.pathWd.set(next, wd);
      this.wdPath.set(wd, next);
      if (cross) this.crossDev.add(next);
    }
  }

  private isIgnored(rel: string): boolean {
    if (this.ignored.size === 0) return false;
    for (const ignored of this.ignored) if (isAtOrBelow(rel, ignored)) return true;
    return false;
  }

  private absolute(rel: string): Buffer {
    return rel === '' ? this.rootBytes : Buffer.concat([this.rootBytes, SLASH, Buffer.from(rel, 'latin1')]);
  }
}

/** The directories among a readdir's entries (Node lstat()s entries whose type the file system does not tell). */
function childDirs(dir: string, entries: Dirent<Buffer>[]): string[] {
  return entries.filter((e) => e.isDirectory()).map((e) => childPath(dir, e.name));
}

function childPath(dir: string, name: Buffer): string {
  const n = name.toString('latin1');
  return dir === '' ? n : `${dir}/${n}`;
}

function isAtOrBelow(path: string, dir: string): boolean {
  if (dir === '') return true;
  return path === dir || (path.length > dir.length && path.startsWith(dir) && path.charCodeAt(dir.length) === 0x2f);
}

function toUtf8(rel: string): string {
  return Buffer.from(rel, 'latin1').toString('utf8');
}
