/**
 * The change journal of an `fs` data source: which paths changed since the
 * last synchronization, so the next one looks only at those (runBackup's
 * `changes`) instead of stat'ing the whole tree.
 *
 * While the agent runs, a TreeWatcher (our own inotify binding, see
 * tree-watcher.ts) reports every change: each path and its parent directory
 * is recorded in memory and appended to a file in batches; a directory that
 * appears is recorded as a subtree to walk whole. The journal is an
 * optimisation that must vouch for itself: whenever it cannot vouch for
 * every change since the last commit it is `lost`, the next synchronization
 * walks everything (a metadata
 * scan: size, mtime, ctime and inode of every item) and, once that is
 * committed, the journal is trusted again. Before every answer it checks its
 * own preconditions (checkPreconditions):
 *
 * - the source directory and every ancestor are the same directories (device
 *   and inode, and the same target for a symbolic link among them) as when
 *   watching began — a renamed and recreated ancestor or a retargeted link
 *   would otherwise be watched under its old identity;
 * - the mounts at or below the source are the ones watching began with
 *   (/proc/self/mountinfo): a mount or unmount inside the tree makes no event;
 * - writes through a path outside the tree are seen: a fanotify group
 *   watches every inode of the tree's file systems (FAN_MARK_FILESYSTEM;
 *   needs root) and an InodeIndex maps what it reports to the tree's paths,
 *   so a write or a chmod through a hard link outside the tree — or through
 *   an open descriptor of one already removed — is recorded like any other;
 *   and every item last seen with more than one link is looked at on every
 *   synchronization all the same (without fanotify the journal cannot
 *   vouch, and every synchronization scans);
 * - the agent was not restarted since the last commit: changes made while it
 *   was down (a chmod, a rewrite that restores the mtime) left no event, so a
 *   restart always means a scan, and a restart after a stop that did not
 *   settle the journal (kill -9, a crash) is a loss the server is told of (the
 *   replica is inconsistent and a consistency check runs).
 *
 * What it cannot see (covered by the periodic full scan): writes through
 * mmap, and changes made by other machines on network file systems. Queue
 * overflows (of either watch) and running out of watches are losses.
 *
 * settle() (TreeWatcher.settle) makes a change of its own in a watched
 * barrier directory and waits for its event: inotify delivers in order, so
 * every change made before the call has then been recorded; fanotify's queue
 * is drained (the kernel queues an event before the system call returns).
 * stop() settles too before it unwatches.
 *
 * State directory (one per source, see journalStateDir):
 *   state.json   what the last commit() recorded, and whether the journal is
 *                running (atomic replace)
 *   journal.log  a header line, then one JSON line per batch of recorded paths
 *   barrier/     where settle() makes its changes
 */
import { createHash, randomBytes } from 'node:crypto';
import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { appendFile, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { errorMessage, isErrno, systemClock, type Clock, type RecoveryPointId } from '../../base/index.js';
import type { ChangeSet } from '../backup/walker.js';
import { FAN_ATTRIB, FAN_MODIFY, Fanotify, type FanotifyRecord } from './fanotify.js';
import { InodeIndex } from './inode-index.js';
import { LOST_ROOT, TreeWatcher, type ChangeKind } from './tree-watcher.js';

const STATE_FILE = 'state.json';
const JOURNAL_FILE = 'journal.log';
const BARRIER_DIR = 'barrier';
const STATE_VERSION = 2;
const JOURNAL_VERSION = 1;

/** Where the journal of `source` keeps its state under the agent's data directory. */
export function journalStateDir(agentData: string, source: string): string {
  return join(agentData, 'journal', createHash('sha256').update(resolve(source)).digest('hex'));
}

export interface FsChangeJournalOptions {
  /** The protected directory. */
  readonly source: string;
  /** A directory the journal owns (created when missing); see journalStateDir. */
  readonly stateDir: string;
  readonly clock?: Clock;
  /**
   * The journal is not used when the last full scan is older than this, so a
   * change the watcher could not see is picked up within this time
   * (default 24 h; null: never). A committed synchronization that walked the
   * whole tree counts as a full scan.
   */
  readonly fullScanEveryMs?: number | null;
  /** Also scan (and verify the journal) after this many synchronizations guided by the journal (default null: only by time). */
  readonly fullScanEverySyncs?: number | null;
  /** Where the mount table is read (default /proc/self/mountinfo; tests point it elsewhere). */
  readonly mountInfoPath?: string;
  /** More changed paths than this since the last commit make the journal lost (bounded memory; default 500,000). */
  readonly maxPaths?: number;
  /** Recorded paths are appended to the journal file at least this often (default 1000 ms)... */
  readonly flushEveryMs?: number;
  /** ...or as soon as this many are waiting (default 1000). */
  readonly flushPaths?: number;
  /** settle() gives up (and the journal is lost) when the watcher reports nothing for this long (default 10 s). */
  readonly settleTimeoutMs?: number;
  /**
   * Called once when events are lost while watching (a watcher error, more
   * changes than maxPaths, the source directory or an ancestor replaced, a
   * mount inside the tree, a restart after a stop that did not settle the
   * journal): the agent tells the server, which marks the replica
   * inconsistent. Not called for the scans that come by design (first
   * synchronization, a restart after a clean stop, hard-linked files).
   */
  readonly onLost?: (reason: string) => void;
}

/** Opaque: what changesSince() handed out, to give back to commit(). */
export interface JournalMarker {
  readonly instance: string;
  readonly generation: number;
  readonly mode: 'journal' | 'scan';
  /** The watcher was running when the marker was taken. */
  readonly watching: boolean;
  /** When the marker was taken (ISO 8601). */
  readonly at: string;
}

export type JournalChanges =
  /** Pass `changes` to runBackup together with the manifest of `since` as `previous`. */
  | { readonly mode: 'journal'; readonly changes: ChangeSet; readonly since: RecoveryPointId; readonly marker: JournalMarker }
  /** Walk everything (no `changes`); `reason` says why, for the job log. */
  | {
      readonly mode: 'scan';
      readonly reason: string;
      readonly marker: JournalMarker;
      /**
       * Set when the journal would have vouched and the scan is its periodic
       * verification: what it recorded since `since`, for the walk to check
       * (JournalAudit) — a changed item it did not cover is a miss (distrust()).
       */
      readonly audit?: { readonly changes: ChangeSet; readonly since: RecoveryPointId };
    };

export interface CommitOptions {
  /** The synchronization walked the whole tree (default: the marker's mode was 'scan'). */
  readonly scanned?: boolean;
}

interface JournalState {
  readonly version: number;
  readonly source: string;
  readonly epoch: string;
  /** The recovery point named by the last commit(); null before the first. */
  point: string | null;
  committedAt: string | null;
  lastScanAt: string | null;
  /** Synchronizations guided by the journal since the last full walk. */
  syncsSinceScan?: number;
  /** Set while the journal runs; a start that finds it set follows a stop that did not settle the journal. */
  running: boolean;
  /** Why the journal cannot be trusted until a full scan is committed. */
  lost: string | null;
}

/** What checkPreconditions compares: the identity of the path to the source, and the mounts at or below it. */
interface Anchor {
  readonly path: string;
  readonly mounts: string;
  /** The mount points below the source (their file systems are marked too). */
  readonly points: readonly string[];
}

interface JournalHeader {
  readonly journal: number;
  readonly epoch: string;
  readonly point: string | null;
}

interface JournalLine {
  readonly g: number;
  readonly p?: string[];
  readonly t?: string[];
}

const lostBecause = (what: string): string => `change journal lost (${what}): metadata scan`;

/**
 * The identity of every component of `path`, from / down: device and inode
 * (lstat), and a symbolic link's target, which is then followed as the
 * kernel would. Changes when a component is replaced, renamed away or
 * retargeted.
 */
export function pathIdentity(path: string): string {
  const out: string[] = [];
  const pending = path.split('/').filter((p) => p !== '' && p !== '.');
  let hops = 0;
  /** One line for a component; the link's target when it is a symbolic link (null when it is missing). */
  const look = (p: string): { target: string | null; missing: boolean } => {
    const st = lstatSync(p, { bigint: true, throwIfNoEntry: false });
    if (!st) {
      out.push(`${p}: missing`);
      return { target: null, missing: true };
    }
    const target = st.isSymbolicLink() ? readlinkSync(p) : null;
    out.push(`${p}: ${st.dev}:${st.ino}${target !== null ? ` -> ${target}` : ''}`);
    return { target, missing: false };
  };
  look('/');
  let at = '/';
  while (pending.length > 0) {
    const part = pending.shift()!;
    const next = part === '..' ? dirname(at) : join(at, part);
    const { target, missing } = look(next);
    if (target !== null && hops++ < 40) {
      pending.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
      if (target.startsWith('/')) at = '/';
      continue;
    }
    if (missing) break;
    at = next;
  }
  return out.join('\n');
}

/**
 * The mounts of a mountinfo table whose mount point is `dir` or below it:
 * `lines` (mount id, parent, device, root, mount point of each) and `points`
 * (the mount points, unescaped).
 */
export function mountsAtOrBelow(mountInfo: string, dir: string): { readonly lines: string; readonly points: string[] } {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const unescape = (p: string) => p.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
  const lines: string[] = [];
  const points: string[] = [];
  for (const line of mountInfo.split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    const point = unescape(f[4]!);
    if (point === dir || point.startsWith(prefix)) {
      lines.push(f.slice(0, 5).join(' '));
      points.push(point);
    }
  }
  return { lines: lines.join('\n'), points };
}

async function replaceFile(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

/** A change journal for one directory tree; see the file comment. */
export class FsChangeJournal {
  readonly source: string;
  readonly stateDir: string;
  private readonly clock: Clock;
  private readonly fullScanEveryMs: number | null;
  private readonly fullScanEverySyncs: number | null;
  private readonly mountInfoPath: string;
  /** What checkPreconditions compares with: taken when watching began. */
  private anchor: Anchor | null = null;
  private readonly maxPaths: number;
  private readonly flushEveryMs: number;
  private readonly flushPaths: number;
  private readonly settleTimeoutMs: number;
  private readonly onLost: ((reason: string) => void) | undefined;
  /** Directories inside the source that are not watched (the journal's own state, when it lives there). */
  private readonly ignore: string[];
  /** Tells this instance's markers from another's. */
  private readonly instance = randomBytes(8).toString('hex');

  private state: JournalState | null = null;
  /** Path → generation it was last recorded in: changed items... */
  private readonly paths = new Map<string, number>();
  /** ...and directories to walk whole. */
  private readonly subtrees = new Map<string, number>();
  /** Recorded, not yet in the journal file. */
  private queue: Array<{ rel: string; g: number; subtree: boolean }> = [];
  /** Events recorded now belong to this generation; changesSince() starts a new one. */
  private generation = 1;
  private lost: string | null = null;
  /** Generation in which the journal was last lost. */
  private lostGeneration = 0;
  private watcher: TreeWatcher | null = null;
  /** Changes to the tree's inodes through any path (null: none, see inodeWatchProblem). */
  private fanotify: Fanotify | null = null;
  /** Why writes through paths outside the tree cannot be seen, or null. */
  private inodeWatchProblem: string | null = null;
  private readonly index = new InodeIndex();
  private watching = false;
  private started = false;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  /** File operations run one at a time, in order. */
  private io: Promise<unknown> = Promise.resolve();

  constructor(options: FsChangeJournalOptions) {
    this.source = resolve(options.source);
    this.stateDir = resolve(options.stateDir);
    this.clock = options.clock ?? systemClock;
    this.fullScanEveryMs = options.fullScanEveryMs === undefined ? 24 * 3_600_000 : options.fullScanEveryMs;
    this.fullScanEverySyncs = options.fullScanEverySyncs ?? null;
    this.mountInfoPath = options.mountInfoPath ?? '/proc/self/mountinfo';
    this.maxPaths = options.maxPaths ?? 500_000;
    this.flushEveryMs = options.flushEveryMs ?? 1000;
    this.flushPaths = options.flushPaths ?? 1000;
    this.settleTimeoutMs = options.settleTimeoutMs ?? 10_000;
    this.onLost = options.onLost;
    // Our own files must not feed the journal when they live inside the source.
    const inside = this.stateDir === this.source || this.stateDir.startsWith(this.prefix());
    this.ignore = inside ? [this.stateDir] : [];
  }

  private prefix(): string {
    return this.source.endsWith('/') ? this.source : `${this.source}/`;
  }

  private file(name: string): string {
    return join(this.stateDir, name);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.io.then(fn, fn);
    this.io = run.catch(() => {});
    return run;
  }

  /** Why the journal cannot be trusted until a full scan is committed; null when it can. */
  lostReason(): string | null {
    return this.lost;
  }

  /** The directories watched now, relative to the source ('' is the source); null when not watching (diagnostics and tests). */
  watchedDirs(): string[] | null {
    return this.watcher?.watchedDirs() ?? null;
  }

  /** The paths recorded since the last commit (for diagnostics and tests). */
  recordedPaths(): { readonly paths: string[]; readonly subtrees: string[] } {
    return { paths: [...this.paths.keys()].sort(), subtrees: [...this.subtrees.keys()].sort() };
  }

  /**
   * Loads the state and starts watching. After a restart the journal cannot
   * know what changed while it was stopped: the next synchronization scans,
   * and when the stop did not settle the journal, the loss is reported.
   */
  async start(): Promise<void> {
    if (this.started) throw new Error('change journal already started');
    this.started = true;
    await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    await rm(this.file(BARRIER_DIR), { recursive: true, force: true });
    await mkdir(this.file(BARRIER_DIR));
    const state = await this.loadState();
    this.state = state;
    if (state.lost !== null) this.markLost(state.lost);
    const committed = state.point !== null;
    if (committed) await this.loadJournal();
    else await this.serial(() => this.rewriteJournal());
    if (committed && state.running) this.lostWhileRunning(lostBecause('the agent stopped without settling it (killed, or it crashed)'));
    else if (committed) this.markLost('agent restarted (changes made while it was stopped leave no event): metadata scan');
    state.running = true;
    await this.serial(() => this.saveState());
    await this.watch();
    this.timer = setInterval(() => void this.flush().catch(() => {}), this.flushEveryMs);
    this.timer.unref();
  }

  /**
   * Waits until every change made before the call is recorded, stops
   * watching and writes out what was recorded; the next start knows the stop
   * was clean. The instance cannot be started again.
   */
  async stop(): Promise<void> {
    if (!this.started || this.stopped) return;
    await this.settle().catch(() => {});
    this.halt();
    await this.unwatch();
    await this.flush().catch(() => {});
    if (this.state) {
      this.state.running = false;
      await this.serial(() => this.saveState()).catch(() => {});
    }
    await this.io;
  }

  /**
   * Stops at once, as a process killed at this instant would: nothing is
   * settled or written from here on, and the state file still says the
   * journal runs, so the next start reports a loss (tests of kill -9).
   */
  async abandon(): Promise<void> {
    if (!this.started || this.stopped) return;
    this.halt();
    await this.unwatch({ settle: false });
    // Writes already under way finish (they would have, or not, at any instant of a kill).
    await this.io;
  }

  /** No callback records anything from here on, and nothing is flushed on a timer. */
  private halt(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * A verification scan found changes the journal had not recorded: it is
   * lost until a later full scan is committed (the one under way does not
   * count), and watches anew.
   */
  async distrust(reason: string): Promise<void> {
    this.markLost(reason);
    await this.rewatch();
  }

  /** Watches anew (a consistency check does, so a blind spot of the watch set closes). */
  async rewatch(): Promise<void> {
    if (!this.started || this.stopped) return;
    await this.unwatch();
    await this.watch();
  }

  /**
   * What changed since the last commit(), or why everything must be walked.
   * Keep the marker for commit(): changes recorded from now on belong to the
   * next synchronization.
   */
  async changesSince(): Promise<JournalChanges> {
    if (!this.started || this.stopped) throw new Error('change journal not running');
    if (!this.watching) await this.watch(); // after a watcher error
    await this.settle();
    const changed = this.checkPreconditions();
    if (changed) {
      this.lostWhileRunning(lostBecause(changed));
      await this.rewatch();
    }
    await this.flush().catch(() => {});
    const problem = await this.checkJournalFile();
    if (problem) this.markLost(problem);
    // From here on nothing awaits: no event can slip between the list and the new generation.
    const state = this.state!;
    const untrusted = this.untrustedReason(state);
    const verification = untrusted === null ? this.verificationReason(state) : null;
    const reason = untrusted ?? verification;
    const marker: JournalMarker = {
      instance: this.instance,
      generation: this.generation,
      mode: reason === null ? 'journal' : 'scan',
      watching: this.watching,
      at: this.clock.now().toISOString(),
    };
    this.generation++;
    if (reason === null) this.index.beginGuided();
    else this.index.beginScan(marker.generation);
    if (untrusted !== null) return { mode: 'scan', reason: untrusted, marker };
    // Items with more than one link are looked at every time, whatever was recorded.
    const paths = new Set(this.paths.keys());
    for (const rel of this.index.linkedPaths()) paths.add(rel);
    const changes: ChangeSet = { paths: [...paths], subtrees: [...this.subtrees.keys()], linksIncluded: true };
    const since = state.point as RecoveryPointId;
    if (verification !== null) return { mode: 'scan', reason: verification, marker, audit: { changes, since } };
    return { mode: 'journal', since, changes, marker };
  }

  /**
   * Records that the synchronization which asked changesSince() for `marker`
   * was committed as recovery point `point`: forgets the changes recorded
   * before the marker (later ones stay for the next synchronization). A lost journal is trusted
   * again when the synchronization walked everything and the watcher ran
   * without a loss since the marker.
   */
  async commit(marker: JournalMarker, point: RecoveryPointId, options: CommitOptions = {}): Promise<void> {
    if (marker.instance !== this.instance) throw new Error('change journal marker from another journal instance (the agent restarted during the synchronization)');
    if (!this.started || this.stopped) throw new Error('change journal not running');
    const scanned = options.scanned ?? marker.mode === 'scan';
    await this.flush();
    await this.serial(async () => {
      for (const map of [this.paths, this.subtrees]) {
        for (const [rel, g] of map) if (g <= marker.generation) map.delete(rel);
      }
      if (this.lost !== null && scanned && marker.watching && this.lostGeneration <= marker.generation) this.lost = null;
      const state = this.state!;
      state.point = point;
      state.committedAt = this.clock.now().toISOString();
      if (scanned) state.lastScanAt = marker.at;
      state.syncsSinceScan = scanned ? 0 : (state.syncsSinceScan ?? 0) + 1;
      if (scanned) this.index.commitScan(marker.generation);
      state.lost = this.lost;
      await this.rewriteJournal();
      await this.saveState();
    });
  }

  // -------------------------------------------------------------------------
  // Recording

  /** What the watcher reports: an item (with its parent, reported apart) or a directory to walk whole. */
  private readonly onChange = (rel: string, kind: ChangeKind): void => {
    if (this.stopped) return;
    try {
      this.record(rel, kind === 'subtree');
    } catch (e) {
      // An exception thrown back into the watcher's event loop would end the process.
      this.lostWhileRunning(lostBecause(`cannot record a change: ${errorMessage(e)}`));
    }
  };

  private readonly onWatcherLost = (reason: string): void => {
    if (this.stopped) return;
    this.lostWhileRunning(lostBecause(reason));
    // Gone with its root: the watcher has stopped; the next changesSince() watches anew.
    if (reason === LOST_ROOT) void this.unwatch();
  };

  private record(rel: string, subtree: boolean): void {
    const map = subtree ? this.subtrees : this.paths;
    if (map.get(rel) === this.generation) return;
    map.set(rel, this.generation);
    this.queue.push({ rel, g: this.generation, subtree });
    if (this.paths.size + this.subtrees.size > this.maxPaths) {
      this.lostWhileRunning(lostBecause(`more than ${this.maxPaths} changed paths since the last synchronization`));
      this.paths.clear();
      this.subtrees.clear();
      this.queue = [];
      return;
    }
    if (this.queue.length >= this.flushPaths) void this.flush().catch(() => {});
  }

  /** A loss of events while watching (the replica may now miss changes): also tells onLost. */
  private lostWhileRunning(reason: string): void {
    const first = this.lost === null;
    this.markLost(reason);
    if (first && !this.stopped) this.onLost?.(reason);
  }

  private markLost(reason: string): void {
    if (this.lost === null) {
      this.lost = reason;
      if (this.state) {
        this.state.lost = reason;
        void this.serial(() => this.saveState()).catch(() => {});
      }
    }
    this.lostGeneration = this.generation;
  }

  /** Returns once every change made before the call has been recorded (TreeWatcher.settle, Fanotify.drain). */
  async settle(): Promise<void> {
    await this.watcher?.settle();
    this.fanotify?.drain();
  }

  /**
   * A synchronization's walk looked at `rel` (any item it stat'ed): keeps
   * the inode index, which maps whole-file-system events to the tree's
   * paths, up to date.
   */
  observe(rel: Buffer | string, st: { readonly ino: bigint; readonly nlink: bigint; isDirectory(): boolean }): void {
    if (!st.isDirectory()) this.index.observe(rel, st.ino, st.nlink, this.generation);
  }

  /** What fanotify reports: a change to an inode, through whichever path; those of the tree are recorded. */
  private readonly onInodeRecords = (records: FanotifyRecord[]): void => {
    if (this.stopped) return;
    try {
      for (const r of records) {
        if (r.kind === 'overflow') this.markLost(lostBecause('the fanotify queue overflowed'));
        else if (r.kind === 'unresolved') this.markLost(lostBecause(`a change reported by fanotify could not be traced to its file (errno ${r.errno})`));
        else if ((r.mode & 0o170000) !== 0o040000) {
          for (const rel of this.index.pathsOf(r.ino)) {
            this.record(rel, false);
            if (r.nlink > 1) this.index.markLinked(rel, this.generation);
          }
        }
      }
    } catch (e) {
      this.lostWhileRunning(lostBecause(`cannot record a change: ${errorMessage(e)}`));
    }
  };

  // -------------------------------------------------------------------------
  // Watching

  private async watch(): Promise<void> {
    if (this.watching || this.stopped) return;
    const watcher = new TreeWatcher(this.source, {
      onChange: this.onChange,
      onLost: this.onWatcherLost,
      barrierDir: this.file(BARRIER_DIR),
      ignore: this.ignore,
      settleTimeoutMs: this.settleTimeoutMs,
    });
    try {
      await watcher.start();
    } catch (err) {
      this.markLost(lostBecause(errorMessage(err)));
      return;
    }
    watcher.unref();
    this.watcher = watcher;
    this.anchor = this.takeAnchor();
    this.watchInodes(this.anchor.points);
    this.watching = true;
  }

  /** Marks the file systems of the source and of every mount below it (see the file comment). */
  private watchInodes(mountPoints: readonly string[]): void {
    let fanotify: Fanotify | null = null;
    try {
      fanotify = new Fanotify({
        onRecords: this.onInodeRecords,
        onError: (err) => this.lostWhileRunning(lostBecause(`fanotify: ${errorMessage(err)}`)),
      });
      fanotify.unref();
      for (const path of [this.source, ...mountPoints]) fanotify.markFileSystem(path, FAN_MODIFY | FAN_ATTRIB);
      this.fanotify = fanotify;
      this.inodeWatchProblem = null;
    } catch (err) {
      fanotify?.close();
      this.inodeWatchProblem = `writes through hard links outside the tree cannot be seen without fanotify (${errorMessage(err)}; the agent must run as root): metadata scan`;
    }
  }

  /** Stops both watches; `settle: false` drops what the watcher has not read yet (abandon). */
  private async unwatch({ settle = true } = {}): Promise<void> {
    const watcher = this.watcher;
    this.watcher = null;
    this.watching = false;
    this.fanotify?.close();
    this.fanotify = null;
    if (settle) await watcher?.stop().catch(() => {});
    else watcher?.abandon();
  }

  /** Why the journal's preconditions no longer hold (see the file comment), or null. */
  private checkPreconditions(): string | null {
    if (!this.anchor) return null;
    const now = this.takeAnchor();
    if (now.path !== this.anchor.path) return `the source directory or one of its ancestors was replaced, moved or retargeted (${firstDifference(this.anchor.path, now.path)})`;
    if (now.mounts !== this.anchor.mounts) return 'a file system was mounted or unmounted at or below the source directory';
    return null;
  }

  private takeAnchor(): Anchor {
    let mounts: string;
    let points: string[] = [];
    try {
      const found = mountsAtOrBelow(readFileSync(this.mountInfoPath, 'utf8'), this.source);
      mounts = found.lines;
      points = found.points.filter((p) => p !== this.source);
    } catch (err) {
      mounts = `unreadable: ${errorMessage(err)}`;
    }
    return { path: pathIdentity(this.source), mounts, points };
  }

  /** Why the journal cannot vouch for the changes since the last commit, or null when it can. */
  private untrustedReason(state: JournalState): string | null {
    if (this.lost !== null) return this.lost;
    if (!this.watching) return lostBecause('not watching');
    if (state.point === null) return 'no synchronization committed since the change journal started: metadata scan';
    return this.inodeWatchProblem;
  }

  /** Why a journal that could vouch is verified by a scan now (periodic, by time or by synchronizations), or null. */
  private verificationReason(state: JournalState): string | null {
    if (this.fullScanEverySyncs !== null && (state.syncsSinceScan ?? 0) >= this.fullScanEverySyncs) {
      return `periodic metadata scan, which also verifies the change journal (${state.syncsSinceScan} synchronizations by the journal since the last)`;
    }
    if (this.fullScanEveryMs !== null) {
      const last = state.lastScanAt === null ? null : Date.parse(state.lastScanAt);
      if (last === null || this.clock.now().getTime() - last >= this.fullScanEveryMs) {
        return `periodic metadata scan, which also verifies the change journal (last full scan ${state.lastScanAt ?? 'never'})`;
      }
    }
    return null;
  }

  // -------------------------------------------------------------------------
  // Files

  private newState(lost: string | null): JournalState {
    return {
      version: STATE_VERSION,
      source: this.source,
      epoch: randomBytes(16).toString('hex'),
      point: null,
      committedAt: null,
      lastScanAt: null,
      running: false,
      lost,
    };
  }

  private async loadState(): Promise<JournalState> {
    let text: string;
    try {
      text = await readFile(this.file(STATE_FILE), 'utf8');
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      const fresh = this.newState(null);
      this.state = fresh;
      await this.serial(() => this.saveState());
      return fresh;
    }
    let state: JournalState | null = null;
    let older = false;
    try {
      const parsed = JSON.parse(text) as JournalState;
      if (parsed.version === STATE_VERSION && parsed.source === this.source && typeof parsed.epoch === 'string') state = parsed;
      older = typeof parsed.version === 'number' && parsed.version < STATE_VERSION;
    } catch {
      // damaged: start over below
    }
    if (state === null) {
      const fresh = this.newState(older ? 'the change journal was written by an older agent: metadata scan' : lostBecause('state file damaged'));
      this.state = fresh;
      await this.serial(() => this.saveState());
      return fresh;
    }
    return state;
  }

  private saveState(): Promise<void> {
    return replaceFile(this.file(STATE_FILE), JSON.stringify(this.state, null, 2) + '\n');
  }

  private header(): string {
    const state = this.state!;
    const h: JournalHeader = { journal: JOURNAL_VERSION, epoch: state.epoch, point: state.point };
    return JSON.stringify(h) + '\n';
  }

  /** Why the journal file does not belong to the committed state, or null. */
  private async checkJournalFile(): Promise<string | null> {
    let first: string;
    try {
      const fh = await open(this.file(JOURNAL_FILE), 'r');
      try {
        const buf = Buffer.alloc(4096);
        const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
        first = buf.subarray(0, bytesRead).toString('utf8').split('\n', 1)[0]!;
      } finally {
        await fh.close();
      }
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return lostBecause('journal file missing');
      return lostBecause(`journal file unreadable: ${errorMessage(err)}`);
    }
    return first + '\n' === this.header() ? null : lostBecause('journal file does not match the last commit');
  }

  /** Reads back what a previous run recorded since the last commit. */
  private async loadJournal(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.file(JOURNAL_FILE), 'utf8');
    } catch (err) {
      this.markLost(lostBecause(isErrno(err, 'ENOENT') ? 'journal file missing' : `journal file unreadable: ${errorMessage(err)}`));
      await this.serial(() => this.rewriteJournal());
      return;
    }
    const lines = text.split('\n');
    // A last line without its newline was being appended when the agent stopped: the snapshot covers it.
    lines.pop();
    if (lines.length === 0 || lines[0]! + '\n' !== this.header()) {
      this.markLost(lostBecause('journal file does not match the last commit'));
      await this.serial(() => this.rewriteJournal());
      return;
    }
    for (const line of lines.slice(1)) {
      let parsed: JournalLine;
      try {
        parsed = JSON.parse(line) as JournalLine;
      } catch {
        this.markLost(lostBecause('journal file damaged'));
        break;
      }
      // Everything read back belongs to the generation before this run's first.
      for (const rel of parsed.p ?? []) this.paths.set(rel, 0);
      for (const rel of parsed.t ?? []) this.subtrees.set(rel, 0);
    }
  }

  /** Replaces the journal file by the header and everything recorded. */
  private async rewriteJournal(): Promise<void> {
    const lines = [this.header()];
    const byGeneration = new Map<number, { p: string[]; t: string[] }>();
    const group = (g: number) => byGeneration.get(g) ?? byGeneration.set(g, { p: [], t: [] }).get(g)!;
    for (const [rel, g] of this.paths) group(g).p.push(rel);
    for (const [rel, g] of this.subtrees) group(g).t.push(rel);
    this.queue = [];
    for (const [g, { p, t }] of byGeneration) lines.push(JSON.stringify({ g, p, t } satisfies JournalLine) + '\n');
    await replaceFile(this.file(JOURNAL_FILE), lines.join(''));
  }

  /** Appends what was recorded since the last flush. */
  flush(): Promise<void> {
    return this.serial(async () => {
      if (this.queue.length === 0) return;
      const batch = this.queue;
      this.queue = [];
      const byGeneration = new Map<number, { p: string[]; t: string[] }>();
      for (const { rel, g, subtree } of batch) {
        const group = byGeneration.get(g) ?? byGeneration.set(g, { p: [], t: [] }).get(g)!;
        (subtree ? group.t : group.p).push(rel);
      }
      const text = [...byGeneration].map(([g, { p, t }]) => JSON.stringify({ g, p, t } satisfies JournalLine) + '\n').join('');
      try {
        await appendFile(this.file(JOURNAL_FILE), text);
      } catch (err) {
        this.markLost(lostBecause(`cannot write the journal file: ${errorMessage(err)}`));
      }
    });
  }
}

/** The files inside a state directory (tests damage them on purpose). */
export const JOURNAL_FILES = { state: STATE_FILE, journal: JOURNAL_FILE } as const;

/** The first line where two identities differ, for the reason text. */
function firstDifference(a: string, b: string): string {
  const x = a.split('\n');
  const y = b.split('\n');
  for (let i = 0; i < Math.max(x.length, y.length); i++) if (x[i] !== y[i]) return y[i] ?? x[i] ?? '';
  return '';
}
