/**
 * The change journals of the agent's `fs` data sources, one per protected
 * directory under DIR/journal/. A journal starts at the first
 * synchronization of its directory and, once it has one, again at every
 * agent start (the first synchronization after a start scans: changes made
 * while the agent was down left no event). A synchronization asks plan()
 * what to look at and reports its commit with committed().
 *
 * The journal is used only when it vouches for every change since the very
 * recovery point the server sends as `previous`, and the exclusions are the
 * ones that point was taken with; otherwise the synchronization walks the
 * whole tree (a metadata scan) and says why in the job log.
 *
 * When the journal vouches that nothing at all changed, the previous point
 * was this agent's own last commit and it was clean (no unreadable item, no
 * file that kept changing, not partial), the plan says `unchanged`: the
 * synchronization's manifest is the previous one as it is — exactly what a
 * walk that reuses every entry would build — so nothing is fetched, walked
 * or encoded.
 */
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage, isErrno, type RecoveryPointId } from '../../base/index.js';
import type { ChangeSet } from '../backup/walker.js';
import type { PointSummary } from '../../format/index.js';
import { missedPathsText, parseSummary } from '../../protocol/index.js';
import { FsChangeJournal, journalStateDir, type JournalMarker } from '../journal/index.js';

/** Beside the journal's own files: the exclusions of its last commit... */
const EXCLUDES_FILE = 'excludes.json';
/** ...and which point it was, with its summary and whether it was clean. */
const LAST_COMMIT_FILE = 'last-commit.json';

/** What committed() records of a synchronization's outcome. */
export interface CommitOutcome {
  readonly summary: PointSummary;
  /** No unreadable item, no file that kept changing, not partial: every entry can be reused as it is. */
  readonly clean: boolean;
}

export interface SyncPlan {
  /** What changed since `previous`, or null to walk everything. */
  readonly changes: ChangeSet | null;
  /** For the job log: what the journal said. */
  readonly note: string;
  readonly journal: FsChangeJournal | null;
  readonly marker: JournalMarker | null;
  /** A verification scan: what the journal recorded, for JournalAudit to check against the walk. */
  readonly audit?: ChangeSet;
  /** Nothing changed since `previous`, a clean commit of this agent's (see the file comment): its summary. */
  readonly unchanged?: PointSummary;
}

export interface PlanRequest {
  readonly path: string;
  /** The recovery point the server compares with (null: none yet). */
  readonly previous: RecoveryPointId | null;
  readonly excludes: readonly string[];
  /** A consistency check: everything is read whatever the journal says. */
  readonly fullScan: boolean;
}

export class SourceJournals {
  private readonly open = new Map<string, Promise<FsChangeJournal>>();
  /** Commits under way, by directory. */
  private readonly committing = new Map<string, Promise<void>>();

  private readonly journalDir: string;

  /**
   * `onLost(path, reason)`: the journal of `path` lost events while the agent
   * ran; the agent tells the server (journal-lost), which marks the replica
   * inconsistent and runs a consistency check.
   */
  constructor(
    private readonly agentData: string,
    private readonly log: (message: string) => void,
    /** FsChangeJournalOptions.fullScanEveryMs (null: its default, 24 h) and fullScanEverySyncs. */
    private readonly scanEvery: { readonly ms: number | null; readonly syncs: number | null },
    private readonly onLost: (path: string, reason: string) => void = () => undefined,
  ) {
    this.journalDir = join(agentData, 'journal');
  }

  private stateDir(path: string): string {
    return journalStateDir(this.agentData, path);
  }

  /** Starts the journal of every directory synchronized before (at agent start). */
  async startKnown(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.journalDir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return;
      throw err;
    }
    for (const name of names) {
      try {
        const state = JSON.parse(await readFile(join(this.journalDir, name, 'state.json'), 'utf8')) as { source?: unknown };
        if (typeof state.source === 'string') await this.journal(state.source);
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) this.log(`change journal ${name}: ${errorMessage(err)} (the next synchronization scans)`);
      }
    }
  }

  private journal(path: string): Promise<FsChangeJournal> {
    let j = this.open.get(path);
    if (!j) {
      j = (async () => {
        const journal = new FsChangeJournal({
          source: path,
          stateDir: this.stateDir(path),
          onLost: (reason) => this.onLost(path, reason),
          ...(this.scanEvery.ms !== null ? { fullScanEveryMs: this.scanEvery.ms } : {}),
          fullScanEverySyncs: this.scanEvery.syncs,
        });
        await journal.start();
        return journal;
      })();
      this.open.set(path, j);
      j.catch(() => this.open.delete(path));
    }
    return j;
  }

  /** What the synchronization should look at; never fails (a journal that cannot answer means a metadata scan). */
  async plan(r: PlanRequest): Promise<SyncPlan> {
    try {
      return await this.planWith(r);
    } catch (err) {
      return { changes: null, journal: null, marker: null, note: `change journal unavailable (${errorMessage(err)}): metadata scan` };
    }
  }

  private async planWith(r: PlanRequest): Promise<SyncPlan> {
    await this.committing.get(r.path);
    const journal = await this.journal(r.path);
    // A consistency check watches anew, so a blind spot of the watch set closes.
    if (r.fullScan) await journal.rewatch();
    const c = await journal.changesSince();
    const base = { journal, marker: c.marker };
    if (r.fullScan) return { ...base, changes: null, note: 'consistency check: every item is looked at' };
    if (c.mode === 'scan') {
      const verifiable = c.audit !== undefined && r.previous === c.audit.since && sameExcludes(await this.lastExcludes(r.path), r.excludes);
      return verifiable ? { ...base, changes: null, note: c.reason, audit: c.audit!.changes } : { ...base, changes: null, note: c.reason };
    }
    if (r.previous === null || c.since !== r.previous) {
      return { ...base, changes: null, note: 'change journal lost (it follows another recovery point than the replica on the server): metadata scan' };
    }
    if (!sameExcludes(await this.lastExcludes(r.path), r.excludes)) {
      return { ...base, changes: null, note: 'the exclusions changed since the last synchronization: metadata scan' };
    }
    const n = countOf(c.changes.paths) + countOf(c.changes.subtrees ?? []);
    const note = `change journal: ${n} changed path(s) since recovery point ${c.since}`;
    const last = n === 0 ? await this.lastCommit(r.path) : null;
    if (last !== null && last.point === r.previous && last.clean) return { ...base, changes: c.changes, note, unchanged: last.summary };
    return { ...base, changes: c.changes, note };
  }

  /** What committed() recorded last for `path`, or null when absent or unreadable. */
  private async lastCommit(path: string): Promise<(CommitOutcome & { point: string }) | null> {
    try {
      const v = JSON.parse(await readFile(join(this.stateDir(path), LAST_COMMIT_FILE), 'utf8')) as Record<string, unknown>;
      if (typeof v['point'] !== 'string' || typeof v['clean'] !== 'boolean') return null;
      return { point: v['point'], clean: v['clean'], summary: parseSummary(v['summary']) };
    } catch {
      return null;
    }
  }

  /**
   * After the server committed `point`: changes before the plan's marker are
   * forgotten. Runs in the background; the next plan() of the same directory
   * waits for it. When it fails, the journal stays behind the replica and the
   * next synchronization scans.
   */
  committed(plan: SyncPlan, r: PlanRequest, point: RecoveryPointId, walkedEverything: boolean, outcome: CommitOutcome): void {
    if (!plan.journal || !plan.marker) return;
    const { journal, marker } = plan;
    const done = (async () => {
      const dir = this.stateDir(r.path);
      // Forgotten first: should the rest fail, no stale record of an earlier point stays.
      await rm(join(dir, LAST_COMMIT_FILE), { force: true });
      await writeFile(join(dir, EXCLUDES_FILE), JSON.stringify(r.excludes));
      await journal.commit(marker, point, { scanned: walkedEverything });
      await writeFile(join(dir, LAST_COMMIT_FILE), JSON.stringify({ point, ...outcome }));
    })().catch((err: unknown) => this.log(`${r.path}: change journal not updated (${errorMessage(err)}): the next synchronization scans`));
    this.committing.set(r.path, done);
  }

  /**
   * A verification scan found `count` changed items the journal had not
   * recorded (`paths`, the first of them): the journal is distrusted until a
   * later full scan, and watches anew. (The server learns of it from the
   * job's result.)
   */
  async missed(plan: SyncPlan, count: number, paths: readonly string[]): Promise<void> {
    await plan.journal?.distrust(`change journal lost (a verification scan found ${count} changed item(s) it had missed: ${missedPathsText(paths, count)}): metadata scan`);
  }

  private async lastExcludes(path: string): Promise<string[] | null> {
    try {
      return JSON.parse(await readFile(join(this.stateDir(path), EXCLUDES_FILE), 'utf8')) as string[];
    } catch {
      return null;
    }
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.committing.values());
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.all(all.map(async (j) => (await j.catch(() => null))?.stop()));
  }
}

function sameExcludes(a: readonly string[] | null, b: readonly string[]): boolean {
  return a !== null && a.length === b.length && a.every((x, i) => x === b[i]);
}

function countOf(it: Iterable<unknown>): number {
  let n = 0;
  for (const _ of it) n++;
  return n;
}
