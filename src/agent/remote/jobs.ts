/**
 * What the agent does for each job the server sends: synchronization,
 * recovery point and consistency check run the backup pipeline into the
 * server; recovery runs the restore pipeline from it. The previous point's
 * manifest pages come from the server (decoded here with the job's keys).
 */
import type { BigIntStats } from 'node:fs';
import { availableParallelism } from 'node:os';
import { CustosError, KnownIds, type ProgressSink, type RecoveryPointId } from '../../base/index.js';
import { BlobCodec, pagesForItems, type ChunkKeys, type ManifestEntry, type ManifestPageRef, type PointSummary } from '../../format/index.js';
import { MAX_MISSED_PATHS, parseRecoverySettings, type BackupJobSpec, type RecoveryJobSpec, type RecoverySettings, type WireKeys } from '../../protocol/index.js';
import { runBackup, type BackupResult } from '../backup/backup.js';
import { runRestore, type RestoreResult } from '../restore/restore.js';
import { checkItemsExist, resolveItems } from '../restore/items.js';
import { resolveTarget } from '../restore/fs-safe.js';
import { formatThrottle, isSystemTarget } from '../../protection/index.js';
import type { JobLink } from './job-link.js';
import { RemoteChunkSink, RemoteChunkSource } from './remote-chunks.js';
import { fetchPages, wholePoint } from './point-manifest.js';
import type { PlanRequest, SourceJournals, SyncPlan } from './source-journals.js';
import { JournalAudit } from '../journal/index.js';

/** The id key of an encrypted pool: chunks are made and read in transport form (compressed, not encrypted). */
export function chunkKeys(w: WireKeys | null): ChunkKeys | null {
  return w ? { idKey: Buffer.from(w.idKey, 'base64') } : null;
}

async function* entriesOf(pages: ManifestEntry[][]): AsyncGenerator<ManifestEntry> {
  for (const p of pages) yield* p;
}

/**
 * The manifest pages a recovery of some items needs: the pages of their
 * subtrees and ancestors, found by a binary search that fetches a few pages
 * (pagesForItems), so one file out of a point of a million is a handful of
 * pages, not the whole manifest.
 */
async function itemPages(link: JobLink, codec: BlobCodec, pages: readonly ManifestPageRef[], items: readonly Buffer[]): Promise<ManifestEntry[][]> {
  const fetched = new Map<number, ManifestEntry[]>();
  const page = async (i: number): Promise<ManifestEntry[]> => {
    let entries = fetched.get(i);
    if (!entries) {
      entries = (await fetchPages(link, codec, [pages[i]!]))[0]!;
      fetched.set(i, entries);
    }
    return entries;
  };
  const wanted = await pagesForItems(pages.length, items, async (i) => (await page(i))[0]?.path ?? Buffer.alloc(0));
  const missing = wanted.filter((i) => !fetched.has(i));
  const rest = await fetchPages(link, codec, missing.map((i) => pages[i]!));
  missing.forEach((i, k) => fetched.set(i, rest[k]!));
  return wanted.map((i) => fetched.get(i)!);
}

export function progressSink(link: JobLink, phase: string): ProgressSink {
  let last = 0;
  return {
    update(s) {
      const t = Date.now();
      if (t - last < 1000) return;
      last = t;
      link.progress({ phase, filesDone: Number(s['files'] ?? 0), bytesDone: Number(s['bytesRead'] ?? s['bytes'] ?? 0), bytesTotal: null });
    },
  };
}

export interface BackupJobHooks {
  readonly workers?: number;
  /** The agent's change journals; without them every synchronization is a metadata scan. */
  readonly journals?: SourceJournals;
}

export async function runBackupJob(spec: BackupJobSpec, link: JobLink, hooks: BackupJobHooks = {}): Promise<Record<string, unknown>> {
  const planRequest: PlanRequest = { path: spec.source.path, previous: (spec.previous?.point ?? null) as RecoveryPointId | null, excludes: spec.excludes, fullScan: spec.fullScan };
  if (spec.fullScan) link.log('info', 'consistency check: reading every file and comparing checksums with the replica');
  const plan: SyncPlan | null = hooks.journals ? await hooks.journals.plan(planRequest) : null;
  if (plan && !spec.fullScan) link.log('info', plan.note);
  if (plan?.unchanged && spec.previous && !spec.fullScan) return commitUnchanged(spec, spec.previous.pages, link, hooks, plan, planRequest, plan.unchanged);
  return walkAndCommit(spec, link, hooks, plan, planRequest);
}

/**
 * The journal vouches that nothing changed since the previous point, a clean
 * commit of this agent's (SourceJournals.plan): a walk would reuse every
 * entry as it is, so the previous manifest is committed unchanged — nothing
 * is fetched, walked or encoded.
 */
async function commitUnchanged(spec: BackupJobSpec, pages: readonly ManifestPageRef[], link: JobLink, hooks: BackupJobHooks, plan: SyncPlan, planRequest: PlanRequest, previous: PointSummary): Promise<Record<string, unknown>> {
  const started = Date.now();
  link.log('info', 'nothing changed: the manifest of the previous point is taken as it is');
  const summary: PointSummary = {
    ...previous,
    filesNew: 0,
    filesChanged: 0,
    filesUnchanged: previous.filesNew + previous.filesChanged + previous.filesUnchanged,
    bytesRead: 0,
    bytesAdded: 0,
    durationMs: Date.now() - started,
  };
  const commit = await link.request({ op: 'commit', manifest: pages, summary, partial: false, excludes: spec.excludes });
  hooks.journals?.committed(plan, planRequest, String(commit['point']) as RecoveryPointId, false, { summary, clean: true });
  return { ...commit, partial: false, errors: 0, summary, walk: { itemsStatted: 0, dirsListed: 0, journal: true } };
}

/** A synchronization that walks: the whole tree, or what the journal recorded. */
async function walkAndCommit(spec: BackupJobSpec, link: JobLink, hooks: BackupJobHooks, plan: SyncPlan | null, planRequest: PlanRequest): Promise<Record<string, unknown>> {
  const keys = chunkKeys(spec.keys);
  const codec = new BlobCodec({ keys, compressionLevel: spec.compressionLevel });
  const previousPages = spec.previous && !spec.fullScan ? await fetchPages(link, codec, spec.previous.pages) : null;
  // The chunks of the previous point are in the pool: an unchanged file reuses them without reading.
  let count = 0;
  for (const p of previousPages ?? []) for (const e of p) count += e.chunks?.length ?? 0;
  const known = KnownIds.build(count, (add) => {
    for (const p of previousPages ?? []) for (const e of p) for (const c of e.chunks ?? []) add(c.id);
  });
  const sink = new RemoteChunkSink(link);
  // A verification scan: the walk's entries are checked against what the journal recorded.
  let audit: JournalAudit | null = null;
  if (plan?.audit && previousPages) {
    audit = new JournalAudit(plan.audit, MAX_MISSED_PATHS);
    for (const p of previousPages) for (const e of p) audit.addPrevious(e);
  }
  const journal = plan?.journal ?? null;
  const result = await runBackup({
    source: spec.source.path,
    sink,
    keys,
    compressionLevel: spec.compressionLevel,
    chunker: spec.chunker,
    known,
    previous: previousPages ? entriesOf(previousPages) : null,
    changes: plan?.changes ?? null,
    excludes: spec.excludes,
    progress: progressSink(link, spec.fullScan ? 'checking' : 'synchronizing'),
    workers: hooks.workers ?? availableParallelism(),
    ...(audit ? { onEntry: (e: ManifestEntry) => audit.seen(e) } : {}),
    // Keeps the journal's inode index (which maps changes made through any path to the tree's paths) up to date.
    ...(journal ? { onStat: (rel: Buffer, st: BigIntStats) => journal.observe(rel, st) } : {}),
  });
  await sink.flush();
  logWalk(link, result, plan);
  const misses = audit?.finish();
  if (misses && misses.count > 0 && plan && hooks.journals) {
    link.log('warning', `change journal verification: ${misses.count} changed item(s) the journal had not recorded (${misses.paths.join(', ')}); this point is complete (every item was looked at), the replica is marked inconsistent`);
    await hooks.journals.missed(plan, misses.count, misses.paths);
  } else if (misses) link.log('info', 'change journal verification: every change the scan found was in the journal');
  const commit = await link.request({ op: 'commit', manifest: result.manifest, summary: result.summary, partial: result.partial, excludes: spec.excludes });
  // Recorded after the job is reported done; the next synchronization of this source waits for it.
  if (plan) {
    // (A point is partial exactly when an item could not be read.)
    const clean = result.errors.length === 0 && result.changedDuringRead.length === 0;
    hooks.journals?.committed(plan, planRequest, String(commit['point']) as RecoveryPointId, !plan.changes || result.changesIgnored !== null, { summary: result.summary, clean });
  }
  const walk = {
    itemsStatted: result.walk.itemsStatted,
    dirsListed: result.walk.dirsListed,
    journal: plan?.changes ? (result.changesIgnored === null) : false,
    ...(misses && misses.count > 0 ? { journalMissed: misses.count, journalMissedPaths: misses.paths.map((p) => p.slice(0, 1024)) } : {}),
  };
  return { ...commit, partial: result.partial, errors: result.errors.length, summary: result.summary, walk };
}

/** The walk's warnings for the job log: unreadable items, files that kept changing, a change set not used. */
function logWalk(link: JobLink, result: BackupResult, plan: SyncPlan | null): void {
  for (const e of result.errors.slice(0, 100)) link.log('warning', `${e.path}: ${e.message}`);
  if (result.errors.length > 100) link.log('warning', `… and ${result.errors.length - 100} more unreadable items`);
  for (const p of result.changedDuringRead.slice(0, 100)) link.log('warning', `${p}: kept changing while read (flagged)`);
  if (result.changesIgnored !== null && plan?.changes) link.log('info', `change journal not used: ${result.changesIgnored}`);
}

/**
 * Refuses / and system directories unless the job allows them, checking the
 * target as written and as it resolves on this computer (a link to /etc is
 * /etc). Nothing is created before the check.
 */
export function checkRecoveryTarget(target: string, allowSystemTarget: boolean): void {
  if (!target.startsWith('/')) throw new CustosError('usage', `recovery target ${target} is not an absolute path`);
  if (allowSystemTarget) return;
  const resolved = resolveTarget(target, { create: false });
  if (isSystemTarget(target) || isSystemTarget(resolved)) {
    const shown = resolved === target ? target : `${target} (${resolved})`;
    throw new CustosError('denied', `refused: recovering onto ${shown} would replace system files; recover elsewhere, or an admin may allow a system target (--allow-system-target)`);
  }
}

/** Lines of the job log that name items not recovered, at most (then one line says how many more). */
export const MAX_ITEM_LINES = 10_000;

/** What the job log says of the restore: every item not recovered and why (failed, or left as it was by --conflict skip), then the warnings. */
/**
 * A recovery's outcome from its restore's result, the same wherever it ran
 * (an agent, a folder of the server): logs what was written and every item
 * not recovered, then throws integrity (damaged chunks), not-found (no item
 * asked for is in the point), or partial (some items missing, some failed).
 * `given` are the items as asked for, `items` as the restore spelled them.
 */
export function judgeRecovery(
  link: Pick<JobLink, 'log'>,
  result: RestoreResult,
  r: { readonly point: string; readonly given: readonly string[]; readonly items: readonly string[]; readonly target: string },
): void {
  logNotRecovered(link, result);
  link.log('info', `written: ${result.files} files (${result.copies} of them keep-both copies); already identical, not rewritten: ${result.identical}; skipped: ${result.skipped}; failed: ${result.errors.length}`);
  if (result.damaged) throw new CustosError('integrity', 'some chunks failed their integrity check; the recovery is incomplete');
  if (result.missingItems.length > 0) {
    const names = result.missingItems.map((m) => r.given[r.items.indexOf(m)] ?? m).join(', ');
    if (result.missingItems.length === r.given.length) throw new CustosError('not-found', `nothing recovered: not in recovery point ${r.point}: ${names}`);
    throw new CustosError('partial', `not in recovery point ${r.point}: ${names}; the other item(s) are in ${r.target}${result.errors.length > 0 ? `, but ${result.errors.length} could not be recovered (see the job log)` : ''}`);
  }
  if (result.errors.length > 0) throw new CustosError('partial', `${result.errors.length} item(s) could not be recovered (see the job log); the rest is in ${r.target}`);
}

export function logNotRecovered(link: Pick<JobLink, 'log'>, result: RestoreResult): void {
  let lines = 0;
  const more = result.errors.length + result.skippedItems.length - MAX_ITEM_LINES;
  for (const e of result.errors) if (lines++ < MAX_ITEM_LINES) link.log('warning', `not recovered: ${e.path}: ${e.message}`);
  for (const p of result.skippedItems) if (lines++ < MAX_ITEM_LINES) link.log('info', `not recovered: ${p}: a different item exists at the target (--conflict skip)`);
  if (more > 0) link.log('warning', `… and ${more} more items not recovered`);
  for (const w of result.warnings.slice(0, 100)) link.log('warning', w);
  if (result.warnings.length > 100) link.log('warning', `… and ${result.warnings.length - 100} more warnings`);
}

function describeSettings(s: RecoverySettings): string {
  const throttle = s.throttle.length > 0 ? `, throttle ${formatThrottle(s.throttle).join(' ')} (agent's local time)` : '';
  return `conflict ${s.conflict}, security ${s.security}${throttle}`;
}

export async function runRecoveryJob(spec: RecoveryJobSpec, link: JobLink, hooks: { workers?: number } = {}): Promise<Record<string, unknown>> {
  const settings = parseRecoverySettings(spec);
  checkRecoveryTarget(spec.target, spec.allowSystemTarget === true);
  link.log('info', `recovering to ${spec.target}: ${describeSettings(settings)}`);
  const keys = chunkKeys(spec.keys);
  const codec = new BlobCodec({ keys, compressionLevel: spec.compressionLevel });
  // Items as the manifest spells them; all must be in the point before anything is written (the server checked too).
  const requested = resolveItems(spec.items, spec.source.path);
  const source = new RemoteChunkSource(link);
  let manifest: AsyncIterable<ManifestEntry>;
  if (requested.length > 0) {
    // All must be in the point before anything is written (the server checked too).
    const pages = await itemPages(link, codec, spec.point.pages, requested.map((i) => i.path));
    await checkItemsExist(entriesOf(pages), requested, spec.point, spec.source.path);
    manifest = entriesOf(pages);
  } else {
    // The whole point: its pages are read as the recovery goes, and the prefetch learns the chunks coming next.
    manifest = wholePoint(link, codec, spec.point.pages, source);
  }
  const items = requested.map((i) => i.path.toString('utf8'));
  const result = await runRestore({
    manifest,
    target: spec.target,
    source,
    keys,
    compressionLevel: spec.compressionLevel,
    items,
    conflict: settings.conflict,
    security: settings.security,
    throttle: settings.throttle,
    progress: progressSink(link, 'recovering'),
    workers: hooks.workers ?? availableParallelism(),
  });
  judgeRecovery(link, result, { point: spec.point.id, given: spec.items, items, target: spec.target });
  return { files: result.files, dirs: result.dirs, others: result.others, identical: result.identical, copies: result.copies, skipped: result.skipped, bytes: result.bytes, target: spec.target };
}
