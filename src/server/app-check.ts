/**
 * The server's part of a postgres data source's consistency check, and of
 * each commit of its points (docs/design/postgresql.md §8): every retained
 * point's WAL is continuous from its base's start through its end
 * (walChainProblems), and every chunk its manifest names — WAL and base —
 * is in the pool (named by an index, its pack on disk). What is missing is
 * named with the times that can no longer be recovered, raises `log-gap`
 * and leaves the in-memory index, so the check's express full that follows
 * stores again whatever the cluster still has.
 */
import { CustosError, errorMessage, type Clock } from '../base/index.js';
import type { Catalog } from '../catalog/index.js';
import { formatLsn } from '../format/postgres/wal-names.js';
import { decodePage, walChainProblems, type AppPointMeta, type ManifestEntry, type ManifestPageRef, type RecoveryPointRecord, type WalFile } from '../format/index.js';
import type { Pool } from '../pool/index.js';
import type { AlertService } from './alerts.js';

const WAL_PREFIX = 'wal/';

function isWal(e: ManifestEntry): boolean {
  return e.type === 'file' && e.path.length > WAL_PREFIX.length && e.path.toString('latin1').startsWith(WAL_PREFIX);
}

/**
 * The `wal/` files of a postgres point's manifest, read from its last pages
 * only (wal/ sorts last in its tree: conf/, data/, label/, wal/): a commit's
 * check costs a page or two, not the base's thousands.
 */
export async function walFilesOf(pool: Pool, manifest: readonly ManifestPageRef[]): Promise<WalFile[]> {
  const out: WalFile[] = [];
  for (let i = manifest.length - 1; i >= 0; i--) {
    const entries = decodePage(await pool.readChunk(manifest[i]!.id));
    for (let j = entries.length - 1; j >= 0; j--) if (isWal(entries[j]!)) out.push({ name: entries[j]!.path.toString('latin1').slice(WAL_PREFIX.length), size: entries[j]!.size });
    if (entries.length > 0 && !entries[0]!.path.toString('latin1').startsWith(WAL_PREFIX)) break;
  }
  return out.reverse();
}

/** A commit's WAL must be continuous (§8.2): a gap refuses the commit. */
export async function checkCommitWal(pool: Pool, meta: AppPointMeta, manifest: readonly ManifestPageRef[]): Promise<void> {
  const r = walChainProblems(meta, await walFilesOf(pool, manifest));
  if (r.problems.length > 0) throw new CustosError('denied', `the point's WAL is not continuous: ${r.problems.slice(0, 3).join('; ')}`);
}

/** What the check found wrong with one point. */
export interface PointFinding {
  readonly point: string;
  readonly time: string;
  readonly problems: readonly string[];
  /** Whether it can be recovered at all (its base whole, its WAL reaching the base's stop). */
  readonly recoverable: boolean;
  /** How far its WAL replays (an LSN), when it can be recovered. */
  readonly replayableTo: string | null;
}

export interface ChainCheck {
  readonly points: number;
  readonly findings: readonly PointFinding[];
  /** Chunks named by an index whose pack is gone: left out of the in-memory index, so they are stored again. */
  readonly lostChunks: number;
}

/** One manifest page, as far as the check cares: the files missing data, and the WAL files. */
interface PageSummary {
  readonly damagedFiles: readonly string[];
  readonly wal: readonly WalFile[];
}

/**
 * Checks `points` (one data source's, oldest first): each manifest page is
 * read once however many points share it.
 */
export async function checkAppChain(pool: Pool, points: readonly RecoveryPointRecord[]): Promise<ChainCheck> {
  const first = await chainPass(pool, points);
  if (first.lost.size === 0) return { points: points.length, findings: first.findings, lostChunks: 0 };
  // gc may have moved a chunk to a new pack since the packs were listed: a second look, and only what both find lost is.
  const second = await chainPass(pool, points);
  const lost = [...second.lost].filter((id) => first.lost.has(id));
  pool.dropFromIndex(lost);
  return { points: points.length, findings: second.findings, lostChunks: lost.length };
}

async function chainPass(pool: Pool, points: readonly RecoveryPointRecord[]): Promise<{ findings: PointFinding[]; lost: Set<string> }> {
  await pool.refreshIndex();
  const packs = new Set((await pool.store.list('packs')).map((b) => b.name.slice(b.name.lastIndexOf('/') + 1)));
  const lost = new Set<string>();
  const present = (id: string): boolean => {
    const loc = pool.index.get(id);
    if (loc && packs.has(loc.pack)) return true;
    if (loc) lost.add(id);
    return false;
  };
  const pages = new Map<string, PageSummary | string>();
  const summaryOf = async (page: ManifestPageRef): Promise<PageSummary | string> => {
    let s = pages.get(page.id);
    if (s === undefined) {
      s = present(page.id) ? await summarizePage(pool, page, present) : `manifest page ${page.id} is missing from the pool`;
      pages.set(page.id, s);
    }
    return s;
  };
  const findings: PointFinding[] = [];
  for (const p of points) {
    if (!p.app) continue;
    const problems: string[] = [];
    const damaged: string[] = [];
    const wal: WalFile[] = [];
    for (const page of p.manifest) {
      const s = await summaryOf(page);
      if (typeof s === 'string') problems.push(s);
      else {
        damaged.push(...s.damagedFiles);
        wal.push(...s.wal);
      }
    }
    if (problems.length > 0) {
      findings.push({ point: p.id, time: p.time, problems: [...new Set(problems)], recoverable: false, replayableTo: null });
      continue;
    }
    const base = damaged.filter((path) => !path.startsWith(WAL_PREFIX));
    if (base.length > 0) problems.push(`${base.length} file(s) of its base backup miss data in the pool (${base.slice(0, 3).join(', ')}${base.length > 3 ? ', …' : ''})`);
    const chain = walChainProblems(p.app, wal);
    problems.push(...chain.problems);
    if (problems.length > 0) {
      const recoverable = base.length === 0 && chain.recoverable;
      findings.push({ point: p.id, time: p.time, problems, recoverable, replayableTo: recoverable ? formatLsn(chain.replayableTo) : null });
    }
  }
  return { findings, lost };
}

async function summarizePage(pool: Pool, page: ManifestPageRef, present: (id: string) => boolean): Promise<PageSummary | string> {
  let entries: ManifestEntry[];
  try {
    entries = decodePage(await pool.readChunk(page.id));
  } catch (err) {
    if (err instanceof CustosError && err.transient) throw err;
    return `manifest page ${page.id} cannot be read (${errorMessage(err)})`;
  }
  const damagedFiles: string[] = [];
  const wal: WalFile[] = [];
  for (const e of entries) {
    let readable = 0;
    let whole = true;
    // Every chunk is looked at (each lost one leaves the index); the file reads up to its first.
    for (const c of e.chunks ?? []) {
      if (!present(c.id.toString('hex'))) whole = false;
      else if (whole) readable += c.length;
    }
    const path = e.path.toString('latin1');
    if (!whole) damagedFiles.push(path);
    if (isWal(e)) wal.push({ name: path.slice(WAL_PREFIX.length), size: e.size, readable: whole ? e.size : readable });
  }
  return { damagedFiles, wal };
}

/** Point times as the alert shows them: minutes, UTC. */
function minute(iso: string): string {
  return `${iso.slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * What the findings mean for an administrator: which points, and which
 * stretches of time, can no longer be recovered to the minute. A stretch
 * runs from the newest whole point before damaged ones to the next whole
 * point after them (or the express full this check makes).
 */
export function describeFindings(check: ChainCheck, points: readonly RecoveryPointRecord[]): string {
  const bad = new Set(check.findings.map((f) => f.point));
  const stretches: string[] = [];
  let before: string | null = null;
  let run = false;
  const close = (after: string | null) => {
    if (before === null && after === null) stretches.push('any time before the express full this check makes');
    else if (before === null) stretches.push(`before ${minute(after!)}`);
    else if (after === null) stretches.push(`after ${minute(before)} until the express full this check makes`);
    else stretches.push(`between ${minute(before)} and ${minute(after)}`);
  };
  for (const p of points) {
    if (bad.has(p.id)) run = true;
    else {
      if (run) close(p.time);
      run = false;
      before = p.time;
    }
  }
  if (run) close(null);
  const first = check.findings[0]!;
  const unrecoverable = check.findings.filter((f) => !f.recoverable).length;
  return `${check.findings.length} of ${check.points} point(s) damaged (${unrecoverable} cannot be recovered at all; the others replay only up to the gap): ` +
    `the times ${stretches.join('; ')} cannot be recovered to the minute. ` +
    `First: point ${first.point} of ${minute(first.time)}: ${first.problems.slice(0, 2).join('; ')}`;
}

export interface ChainCheckDeps {
  readonly pool: Pool;
  readonly catalog: Catalog;
  readonly alerts: AlertService;
  readonly clock: Clock;
}

/**
 * The check of one postgres data source's retained points, logged, with its
 * alert raised (and the replica marked inconsistent, so a failed express
 * full is retried) or resolved. Whether everything was whole.
 */
export async function runChainCheck(d: ChainCheckDeps, sourceId: string, log: (level: 'info' | 'warning' | 'error', message: string) => void): Promise<boolean> {
  const points: RecoveryPointRecord[] = [];
  const rows = await d.catalog.listPoints(sourceId);
  for (const row of rows) {
    try {
      points.push(await d.pool.loadPoint(row.id as never));
    } catch (err) {
      if (err instanceof CustosError && err.transient) throw err;
      log('error', `point ${row.id} of ${row.time} cannot be read (${errorMessage(err)})`);
    }
  }
  const check = await checkAppChain(d.pool, points);
  const unreadable = rows.length - points.length;
  log('info', `the WAL chain of ${points.length} point(s) checked: ${check.findings.length === 0 && unreadable === 0 ? 'every point whole, its WAL continuous and in the pool' : `${check.findings.length + unreadable} damaged`}`);
  for (const f of check.findings.slice(0, 50)) {
    log('error', `point ${f.point} of ${minute(f.time)}: ${f.problems.join('; ')}${f.recoverable ? ` (it replays up to ${f.replayableTo})` : ' (it cannot be recovered)'}`);
  }
  if (check.lostChunks > 0) log('warning', `${check.lostChunks} chunk(s) named by the pool's index are in packs that are gone: the express full stores what the cluster still has again`);
  const now = d.clock.now();
  if (check.findings.length === 0 && unreadable === 0) {
    await d.alerts.resolve('log-gap', sourceId, now);
    return true;
  }
  const text = check.findings.length > 0 ? describeFindings(check, points) : `${unreadable} point object(s) cannot be read`;
  await d.alerts.raise('log-gap', sourceId, `${sourceId}: ${text}`, now);
  await d.alerts.markInconsistent(sourceId, 'the consistency check found damaged points (see the log-gap alert)', now);
  return false;
}
