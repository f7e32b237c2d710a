/**
 * An express full of a PostgreSQL cluster (docs/design/postgresql.md §4):
 * the agent itself reads the data directory between pg_backup_start and
 * pg_backup_stop, on one session held throughout, through the backup
 * pipeline with relation files in fixed blocks; then the backup label the
 * stop returns, then the WAL from the start segment through the stop's,
 * held meanwhile by a temporary replication slot so that no checkpoint
 * recycles it. One tree under a virtual root, in manifest order:
 *
 * ```
 * conf/…    the configuration, when it is kept outside the data directory
 * data/…    the data directory, without what a base backup leaves out
 * label/    backup_label and tablespace_map as pg_backup_stop gave them
 * wal/…     the WAL segments from the start through the stop (and the timeline's history file)
 * ```
 *
 * The label is a directory of its own, not data/backup_label, because it
 * exists only once data/ is read and a manifest is written in path order.
 */
import { chownSync, existsSync, lstatSync, mkdirSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { CustosError } from '../../../base/index.js';
import { isRelationFile, leftOutOfBaseBackup } from '../../../format/postgres/data-directory.js';
import { formatLsn, historyFileName, parseLsn, segmentFileName, segmentOf } from '../../../format/postgres/wal-names.js';
import { EMPTY_PATH, underPrefix, walk, type WalkItem } from '../../backup/walker.js';
import type { BackupResult } from '../../backup/backup.js';
import { isFixedBlockSize } from '../../backup/messages.js';
import { connectAsOwner, type OwnerTarget } from './connect.js';
import { decideLogMode, readFacts, type ClusterFacts } from './facts.js';
import { ensureSlot } from './log-sync.js';
import type { PostgresPointMeta } from '../../../format/postgres/point-meta.js';

/** What an express full records about itself: the point's `app` metadata (§4.4). */
export type ExpressFullMeta = PostgresPointMeta;

export interface ExpressFullOptions {
  readonly target: OwnerTarget;
  /** The data directory discovery found (the cluster must say the same). */
  readonly dataDirectory: string;
  /** A directory of the agent's own for the label files; emptied and removed at the end. */
  readonly stageDir: string;
  /** The label PostgreSQL writes into backup_label (`custos job N`). */
  readonly label: string;
  /** Relation files are cut into blocks of this size. */
  readonly blockSize: number;
  /** The system identifier this source had when protected; null the first time. */
  readonly expectedSystemIdentifier: string | null;
  /**
   * The data source's replication slot: when the cluster's log can be ours
   * (decideLogMode), it is made (if missing) before the backup starts, so the
   * WAL from here on is kept for the log synchronizations; null: express
   * fulls only.
   */
  readonly slot?: string | null;
  readonly log: (level: 'info' | 'warning', message: string) => void;
  /**
   * Runs the backup pipeline on the items given (runBackup with `items` and
   * `fixedBlocks`) — without a previous manifest: a page PostgreSQL rewrites
   * within the same clock tick as a earlier read keeps its file's size and
   * times, so a file must never be taken from a previous point by its stat
   * (chunks the pool holds are still not stored again).
   */
  readonly backup: (items: (drained: () => Promise<void>) => AsyncIterable<WalkItem>, fixedBlocks: (rel: Buffer) => number | null) => Promise<BackupResult>;
}

export interface ExpressFullResult {
  readonly backup: BackupResult;
  readonly meta: ExpressFullMeta;
  /** With a slot asked for but express fulls only: why (another tool takes the log, or the cluster cannot give it). */
  readonly logModeWhy: string | null;
}

const DATA = 'data/';
const DATA_PG_WAL = Buffer.from('data/pg_wal');

/** The checks before a backup: the cluster the source is, a primary, writing full pages. */
export function checkBeforeBackup(f: ClusterFacts, dataDirectory: string, expectedSystemIdentifier: string | null): void {
  if (f.dataDirectory !== dataDirectory) throw new CustosError('usage', `the cluster on this port now has its data in ${f.dataDirectory}, not ${dataDirectory}: discover it again`);
  if (expectedSystemIdentifier !== null && f.systemIdentifier !== expectedSystemIdentifier) {
    throw new CustosError('usage', `the cluster on this port is not the one protected (system identifier ${f.systemIdentifier}, was ${expectedSystemIdentifier}): a re-initialised cluster is a new data source; remove this one and protect it again`);
  }
  if (f.inRecovery) throw new CustosError('usage', 'the cluster is a standby (in recovery): protect its primary');
  if (!f.fullPageWrites) throw new CustosError('usage', 'full_page_writes is off: a file-level copy needs it on to repair torn pages (set full_page_writes = on and reload)');
  if (f.walLevel === 'minimal') throw new CustosError('usage', 'wal_level is minimal: a base backup needs replica or logical (set it and restart PostgreSQL)');
}

async function one<T>(client: pg.Client, sql: string, params: unknown[] = []): Promise<T> {
  return (await client.query(sql, params)).rows[0] as T;
}

function lsnOf(text: unknown, what: string): bigint {
  const lsn = typeof text === 'string' ? parseLsn(text) : null;
  if (lsn === null) throw new CustosError('format', `PostgreSQL gave ${what} ${JSON.stringify(text)}, not an LSN`);
  return lsn;
}

export async function expressFull(o: ExpressFullOptions): Promise<ExpressFullResult> {
  if (!isFixedBlockSize(o.blockSize)) throw new CustosError('usage', `${o.blockSize} bytes is not a block size (a power of two from 4 KiB to 1 MiB)`);
  const client = await connectAsOwner(o.target);
  let inBackup = false;
  try {
    const facts = await readFacts(client);
    checkBeforeBackup(facts, o.dataDirectory, o.expectedSystemIdentifier);
    const v15 = facts.versionNum >= 150000;
    // The session is held, idle, for the whole walk: no timeout of the cluster's may end it (and the backup with it).
    await client.query(`SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0${facts.versionNum >= 140000 ? '; SET idle_session_timeout = 0' : ''}`);
    const tablespaces = readdirSync(join(o.dataDirectory, 'pg_tblspc'));
    if (tablespaces.length > 0) throw new CustosError('usage', `the cluster has tablespaces outside its data directory (pg_tblspc/${tablespaces[0]}): Custos does not protect them yet`);
    const conf = await configurationOutside(client, o.dataDirectory, o.target.uid, o.log);
    let logMode: ExpressFullMeta['logMode'] = 'full-only';
    let logModeWhy: string | null = null;
    if (o.slot) {
      const decision = decideLogMode(facts);
      if (decision.mode === 'logs') {
        if (await ensureSlot(client, o.slot)) o.log('info', `replication slot ${o.slot} made: it keeps the log from now on for the log synchronizations`);
        logMode = 'logs';
      } else {
        logModeWhy = decision.reasons.join('; ');
        o.log('warning', `express fulls only, no log synchronization: ${logModeWhy}`);
      }
    }
    // A temporary slot on this session holds every WAL segment from the start on until the copy is done.
    const slot = `custos_tmp_${randomBytes(6).toString('hex')}`;
    await client.query('SELECT pg_create_physical_replication_slot($1, true, true)', [slot]);
    const startTime = new Date().toISOString();
    const started = await one<{ lsn: string }>(client, v15 ? 'SELECT pg_backup_start($1, true) AS lsn' : 'SELECT pg_start_backup($1, true, false) AS lsn', [o.label]);
    inBackup = true;
    const startLsn = lsnOf(started.lsn, 'the start');
    const { timeline } = await one<{ timeline: number }>(client, 'SELECT timeline_id AS timeline FROM pg_control_checkpoint()');
    o.log('info', `backup started at ${formatLsn(startLsn)} on timeline ${timeline}`);

    let stop: { lsn: bigint; label: string; map: string } | null = null;
    const pgWal = realpathSync(join(o.dataDirectory, 'pg_wal'));
    const labelDir = join(o.stageDir, 'label');
    const items = async function* (drained: () => Promise<void>): AsyncGenerator<WalkItem> {
      yield { rel: EMPTY_PATH, abs: Buffer.from(o.dataDirectory), st: lstatSync(o.dataDirectory, { bigint: true }) };
      // conf/ sorts before data/: the configuration files kept outside the data directory (Debian's /etc/postgresql/V/NAME).
      if (conf) yield* underPrefix('conf', walk(Buffer.from(conf.dir), (rel) => !conf.wanted(rel.toString('utf8'))));
      for (const item of underPrefix('data', walk(Buffer.from(o.dataDirectory), (rel) => leftOutOfBaseBackup(rel.toString('utf8'))))) {
        // pg_wal may be a link to another disk (initdb --waldir): it is recorded as the empty directory it is to a restore,
        // never as a link (a restored cluster would write into the production's WAL).
        if (item.rel.equals(DATA_PG_WAL) && item.st.isSymbolicLink()) yield { ...item, abs: Buffer.from(pgWal), st: statSync(pgWal, { bigint: true }) };
        else yield item;
      }
      // Every data file is read: only now may the backup end.
      await drained();
      const r = await one<{ lsn: string; labelfile: string; spcmapfile: string | null }>(
        client,
        v15 ? 'SELECT lsn, labelfile, spcmapfile FROM pg_backup_stop(false)' : 'SELECT lsn, labelfile, spcmapfile FROM pg_stop_backup(false, false)',
      );
      inBackup = false;
      stop = { lsn: lsnOf(r.lsn, 'the stop'), label: r.labelfile, map: r.spcmapfile ?? '' };
      rmSync(labelDir, { recursive: true, force: true });
      mkdirSync(labelDir, { recursive: true, mode: 0o700 });
      const files: Array<[string, string]> = [['backup_label', stop.label], ...(stop.map !== '' ? [['tablespace_map', stop.map] as [string, string]] : [])];
      for (const [name, text] of files) {
        writeFileSync(join(labelDir, name), text, { mode: 0o600 });
        chownSync(join(labelDir, name), o.target.uid, o.target.gid);
      }
      chownSync(labelDir, o.target.uid, o.target.gid);
      yield* underPrefix('label', walk(Buffer.from(labelDir), () => false));
      // pg_backup_stop switched to a new segment: the stop's segment is whole, and flushed once the flush position passes it.
      const wanted = await walSegments(client, timeline, startLsn, stop.lsn, facts.walSegmentBytes);
      const seen = new Set<string>();
      yield* underPrefix('wal', (function* () {
        for (const item of walk(Buffer.from(pgWal), (rel, isDir) => isDir || !wanted.has(rel.toString('latin1')))) {
          if (item.rel.length > 0) seen.add(item.rel.toString('latin1'));
          yield item;
        }
      })());
      const missing = [...wanted].filter((n) => !seen.has(n));
      if (missing.length > 0) throw new CustosError('io', `WAL ${missing[0]} was gone from pg_wal before it was copied (${missing.length} files missing)`);
    };
    const fixedBlocks = (rel: Buffer): number | null => {
      const p = rel.toString('utf8');
      return p.startsWith(DATA) && isRelationFile(p.slice(DATA.length)) ? o.blockSize : null;
    };
    const backup = await o.backup(items, fixedBlocks);
    // A file dropped during the walk (ENOENT) is harmless: replay drops it too. Anything else missing makes the base unusable.
    const lost = backup.errors.filter((e) => !/ENOENT/.test(e.message));
    if (lost.length > 0) throw new CustosError('io', `${lost.length} files could not be read (${lost[0]!.path}: ${lost[0]!.message}): the express full is not usable`);
    const stopped = stop as { lsn: bigint } | null;
    if (stopped === null) throw new CustosError('internal', 'the backup pipeline ended before the backup was stopped');
    const first = segmentFileName(segmentOf(timeline, startLsn, facts.walSegmentBytes), facts.walSegmentBytes);
    const last = segmentFileName(segmentOf(timeline, stopped.lsn - 1n, facts.walSegmentBytes), facts.walSegmentBytes);
    o.log('info', `backup stopped at ${formatLsn(stopped.lsn)}; WAL ${first} to ${last} copied`);
    return {
      backup,
      meta: {
        kind: 'postgres', point: 'full', logMode, version: facts.versionNum, systemIdentifier: facts.systemIdentifier, walSegmentSize: facts.walSegmentBytes,
        blockSize: o.blockSize, timeline, startLsn: formatLsn(startLsn), stopLsn: formatLsn(stopped.lsn), startTime, stopTime: new Date().toISOString(),
        dataChecksums: facts.dataChecksums, walSegments: [first, last],
      },
      logModeWhy,
    };
  } finally {
    // Ending the session ends a backup still running (non-exclusive mode) and drops the temporary slot.
    if (inBackup) o.log('warning', 'the backup did not finish: PostgreSQL ends its backup mode with the session');
    await client.end().catch(() => undefined);
    rmSync(o.stageDir, { recursive: true, force: true });
  }
}

/** The directory of a configuration kept outside the data directory, and which of its entries belong to the cluster. */
interface OutsideConfiguration {
  readonly dir: string;
  readonly wanted: (rel: string) => boolean;
}

/**
 * The configuration files outside the data directory (docs/design/
 * postgresql.md §4.3, `conf/`): postgresql.conf, and pg_hba.conf,
 * pg_ident.conf and a conf.d directory beside it — exactly those, never
 * the rest of their directory. A file kept elsewhere still is named in the
 * job log, to be copied by hand.
 */
async function configurationOutside(client: pg.Client, dataDirectory: string, ownerUid: number, log: ExpressFullOptions['log']): Promise<OutsideConfiguration | null> {
  const r = await one<{ config_file: string; hba_file: string; ident_file: string }>(client, "SELECT current_setting('config_file') AS config_file, current_setting('hba_file') AS hba_file, current_setting('ident_file') AS ident_file");
  const inData = (f: string) => f.startsWith(`${dataDirectory}/`);
  if (inData(r.config_file)) {
    for (const f of [r.hba_file, r.ident_file]) if (!inData(f)) log('warning', `${f} lives outside the data directory and is not in this point: keep a copy of it`);
    return null;
  }
  // Read as root, so only from its real place, and only what the cluster's owner or root owns: the owner
  // (who may write there) must not be able to make root copy other accounts' files into the point.
  const named = dirname(r.config_file);
  let dir: string;
  try {
    dir = realpathSync(named);
  } catch (e) {
    log('warning', `the configuration directory ${named} cannot be read (${(e as Error).message}): it is not in this point`);
    return null;
  }
  const trusted = (st: { uid: number; mode: number }) => (st.uid === ownerUid || st.uid === 0) && (st.mode & 0o002) === 0;
  if (!trusted(lstatSync(dir))) {
    log('warning', `the configuration directory ${dir} belongs to neither the cluster's owner nor root, or anyone may write to it: it is not in this point`);
    return null;
  }
  const names = new Set([basename(r.config_file)]);
  for (const f of [r.hba_file, r.ident_file]) {
    if (dirname(f) === named) names.add(basename(f));
    else if (!inData(f)) log('warning', `${f} is neither in the data directory nor beside ${r.config_file}, and is not in this point: keep a copy of it`);
  }
  const wanted = (rel: string): boolean => {
    if (!(names.has(rel) || rel === 'conf.d' || (rel.startsWith('conf.d/') && !rel.slice(7).includes('/')))) return false;
    try {
      const st = lstatSync(join(dir, rel));
      return (st.isFile() || (rel === 'conf.d' && st.isDirectory())) && trusted(st);
    } catch {
      return false;
    }
  };
  log('info', `the configuration in ${dir} (${[...names].sort().join(', ')}${existsSync(join(dir, 'conf.d')) ? ', conf.d/' : ''}) is in this point as conf/`);
  return { dir, wanted };
}

/** The WAL files a base backup from `start` to `stop` needs: its segments, and the timeline's history file past timeline 1. */
async function walSegments(client: pg.Client, timeline: number, start: bigint, stop: bigint, segmentBytes: number): Promise<Set<string>> {
  for (let i = 0; ; i++) {
    const r = await one<{ flushed: string }>(client, 'SELECT pg_current_wal_flush_lsn()::text AS flushed');
    if (lsnOf(r.flushed, 'the flush position') >= stop) break;
    if (i >= 100) throw new CustosError('io', `WAL up to ${formatLsn(stop)} was not flushed within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const from = segmentOf(timeline, start, segmentBytes).segno;
  const to = segmentOf(timeline, stop - 1n, segmentBytes).segno;
  const names = new Set<string>();
  for (let s = from; s <= to; s++) names.add(segmentFileName({ timeline, segno: s }, segmentBytes));
  if (timeline > 1) names.add(historyFileName(timeline));
  return names;
}
