/**
 * Turns the tree of a recovered postgres point into a data directory ready
 * to start (docs/design/postgresql.md §7.2, the folder target): the point's
 * `data/`, `label/` and `wal/` were written under ROOT by the restore
 * pipeline; this moves the backup label into the data directory, pads a
 * partial WAL segment, and configures recovery — `recovery.signal` (or
 * `standby.signal` to stay read-only at `latest`), a block in
 * `postgresql.auto.conf` with the restore command reading ROOT/wal, the
 * target and what to do there — then writes notes for the DBA.
 *
 * The tree is checked as root before (postgres-jobs.ts checkRecoveredTree:
 * no links, one owner), and the work is done by a child process running as
 * that owner (prepareAsOwner), never as root; it creates files with O_EXCL
 * and replaces them by renaming, so a link the owner puts in meanwhile can
 * only lead where the owner may write anyway.
 */
import { spawn } from 'node:child_process';
import { closeSync, constants, existsSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync, ftruncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CustosError } from '../../../base/index.js';
import type { PostgresRecoveryTarget } from '../../../protocol/messages.js';
import { parseHistoryFileName, parseSegmentFileName } from '../../../format/postgres/wal-names.js';

/** Where replay stops (the job spec's, protocol/messages.ts). */
export type RecoveryTarget = PostgresRecoveryTarget;

export interface RecoveredClusterSettings {
  readonly target: RecoveryTarget;
  /** Stop at the target and wait, read-only, for a DBA (else promote there). */
  readonly paused: boolean;
  readonly segmentBytes: number;
  /** Who owns the cluster's files (PostgreSQL refuses a data directory not its own). */
  readonly owner: { readonly uid: number; readonly gid: number };
  /** What the notes say was recovered ("point 3f2a… of db1:postgres:5432, 2026-12-07 18:00"). */
  readonly describe: string;
  /** A new instance's port: set in postgresql.auto.conf (outside the recovery block, so it stays), and the notes say it runs. */
  readonly port?: number;
  /** false: conf/ is not copied into the data directory (a recovery over the cluster itself keeps the configuration it has). */
  readonly configuration?: boolean;
}

export const BLOCK_BEGIN = '# custos recovery begin';
export const BLOCK_END = '# custos recovery end';

/** A value as postgresql.conf quotes it. */
function quoted(v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/**
 * The recovery settings for WAL in `walDir` (pure). A path holding a quote
 * or a % cannot be put in a restore_command safely and is refused.
 */
export function recoveryBlock(walDir: string, s: Pick<RecoveredClusterSettings, 'target' | 'paused'>): string {
  // The shell runs restore_command: inside double quotes it still expands $ and `.
  if (/['"%\\\n$`]/.test(walDir)) throw new CustosError('usage', `the recovery target ${JSON.stringify(walDir)} holds a quote, %, $, \`, \\ or a line break, which a restore_command cannot hold: recover elsewhere`);
  const lines = [BLOCK_BEGIN, `restore_command = ${quoted(`cp "${walDir}/%f" "%p"`)}`, "recovery_target_timeline = 'latest'", 'archive_mode = off'];
  const t = s.target;
  if (t.kind === 'immediate') lines.push("recovery_target = 'immediate'");
  if (t.kind === 'time') {
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/.test(t.time)) throw new CustosError('usage', `${JSON.stringify(t.time)} is not a UTC time (YYYY-MM-DDTHH:MM:SS[.ffffff]Z)`);
    lines.push(`recovery_target_time = ${quoted(t.time.replace('T', ' ').replace('Z', '+00'))}`, 'recovery_target_inclusive = on');
  }
  if (t.kind === 'name') {
    if (!/^[\x20-\x7e]{1,63}$/.test(t.name)) throw new CustosError('usage', `${JSON.stringify(t.name.slice(0, 80))} is not a restore point name (1 to 63 printable characters)`);
    lines.push(`recovery_target_name = ${quoted(t.name)}`);
  }
  // A target action needs a target: at latest, paused means a standby that replays all and stays read-only.
  if (t.kind !== 'latest') lines.push(`recovery_target_action = ${s.paused ? "'pause'" : "'promote'"}`);
  lines.push(BLOCK_END);
  return lines.join('\n') + '\n';
}

/** postgresql.auto.conf with a new instance's port (an earlier `port` line commented out). */
export function withPort(conf: string, port: number): string {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new CustosError('usage', `${port} is not a port`);
  const kept = conf.split('\n').map((line) => (/^\s*port\b/i.test(line) ? `# custos: ${line}` : line)).join('\n');
  return `${kept === '' || kept.endsWith('\n') ? kept : `${kept}\n`}port = ${port}  # custos: the new instance's port\n`;
}

/** postgresql.auto.conf with `block` in place of an earlier custos block (or appended). */
export function withRecoveryBlock(conf: string, block: string): string {
  const begin = conf.indexOf(BLOCK_BEGIN);
  const end = conf.indexOf(BLOCK_END);
  const kept = begin >= 0 && end > begin ? conf.slice(0, begin) + conf.slice(end + BLOCK_END.length).replace(/^\n/, '') : conf;
  return (kept === '' || kept.endsWith('\n') ? kept : `${kept}\n`) + block;
}

/**
 * Prepares ROOT (holding data/, label/, wal/ of a postgres point); returns
 * the data directory. Runs as the cluster's owner (prepareAsOwner).
 */
export function prepareRecoveredCluster(root: string, s: RecoveredClusterSettings): string {
  if (process.getuid?.() !== s.owner.uid) throw new CustosError('internal', 'a recovered cluster is prepared by its owner, not by root: use prepareAsOwner');
  const data = join(root, 'data');
  const label = join(root, 'label');
  const wal = join(root, 'wal');
  for (const dir of [data, label, wal]) {
    const st = existsSync(dir) ? lstatSync(dir) : null;
    if (!st?.isDirectory()) throw new CustosError('format', `${dir} is missing or not a directory: this is not a recovered PostgreSQL point`);
  }
  const block = recoveryBlock(wal, s);
  // A segment shipped in part is padded with zeros: PostgreSQL refuses an archived segment of another size.
  for (const name of readdirSync(wal)) {
    if (parseHistoryFileName(name) !== null) continue;
    if (parseSegmentFileName(name, s.segmentBytes) === null) throw new CustosError('format', `wal/${name} is not a WAL file name`);
    const fd = openSync(join(wal, name), constants.O_RDWR | constants.O_NOFOLLOW);
    try {
      if (!fstatSync(fd).isFile()) throw new CustosError('format', `wal/${name} is not a file`);
      const size = fstatSync(fd).size;
      if (size > s.segmentBytes) throw new CustosError('format', `wal/${name} is ${size} bytes, more than a segment`);
      if (size < s.segmentBytes) ftruncateSync(fd, s.segmentBytes);
    } finally {
      closeSync(fd);
    }
  }
  for (const name of readdirSync(label)) {
    if (name !== 'backup_label' && name !== 'tablespace_map') throw new CustosError('format', `label/${name} is not a file a backup label holds`);
    renameSync(join(label, name), join(data, name));
  }
  rmdirSync(label);
  if (s.configuration !== false) takeConfiguration(root, data);
  const signal = s.target.kind === 'latest' && s.paused ? 'standby.signal' : 'recovery.signal';
  // New files are created, never opened through a link (O_EXCL); a file replaced is written beside and renamed over.
  writeFileSync(join(data, signal), '', { mode: 0o600, flag: 'wx' });
  const autoConf = join(data, 'postgresql.auto.conf');
  const conf = existsSync(autoConf) ? readRegularFile(autoConf) : '';
  replaceFile(autoConf, withRecoveryBlock(s.port === undefined ? conf : withPort(conf, s.port), block), 0o600);
  writeFileSync(join(root, 'RECOVERY.txt'), notes(root, data, s), { mode: 0o644, flag: 'wx' });
  return data;
}

function lstatOrNull(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** A regular file's text, read without following a link. */
function readRegularFile(path: string): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    if (!fstatSync(fd).isFile()) throw new CustosError('format', `${path} is not a regular file`);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** Writes `path` whole: a new file beside it, renamed over it (a link at `path` is replaced, never followed). */
function replaceFile(path: string, text: string, mode: number): void {
  const temp = `${path}.custos-new`;
  writeFileSync(temp, text, { mode, flag: 'wx' });
  renameSync(temp, path);
}

/** Settings of a configuration file that name places of the production cluster: commented out in a recovered copy. */
const PLACES = /^\s*(data_directory|hba_file|ident_file|external_pid_file)\b/i;

/** postgresql.conf for a recovered copy: the lines naming the production's places commented out (`# custos: `). */
export function localConfiguration(text: string): string {
  return text.split('\n').map((line) => (PLACES.test(line) ? `# custos: ${line}` : line)).join('\n');
}

/**
 * A point whose configuration lived outside the data directory holds it in
 * conf/: copied into the data directory (postgresql.conf with the lines
 * naming the production's places commented out, so the copy finds its own
 * pg_hba.conf and conf.d beside it), never over a file the data directory
 * has. conf/ stays as the point had it. Regular files only.
 */
function takeConfiguration(root: string, data: string): void {
  const conf = join(root, 'conf');
  if (!existsSync(conf)) return;
  if (!lstatSync(conf).isDirectory()) throw new CustosError('format', `${conf} is not a directory`);
  const copy = (from: string, to: string, edit?: (text: string) => string) => {
    if (!lstatSync(from).isFile() || existsSync(to) || lstatOrNull(to)) return;
    const text = readFileSync(from);
    writeFileSync(to, edit ? edit(text.toString('utf8')) : text, { mode: 0o600, flag: 'wx' });
  };
  for (const name of readdirSync(conf)) {
    const from = join(conf, name);
    if (name === 'conf.d' && lstatSync(from).isDirectory()) {
      const dir = join(data, 'conf.d');
      if (!existsSync(dir)) mkdirSync(dir, { mode: 0o700 });
      if (!lstatSync(dir).isDirectory()) throw new CustosError('format', `${dir} is not a directory`);
      for (const inner of readdirSync(from)) copy(join(from, inner), join(dir, inner));
    } else {
      copy(from, join(data, name), name === 'postgresql.conf' ? localConfiguration : undefined);
    }
  }
}

function notes(root: string, data: string, s: RecoveredClusterSettings): string {
  const t = s.target;
  const where = t.kind === 'immediate' ? 'the end of the backup (the point itself)' : t.kind === 'time' ? t.time : t.kind === 'name' ? `the restore point ${t.name}` : 'the end of the WAL in the point';
  const start = s.port === undefined
    ? ['Start it as the account that owns it, on a port of your choice:', `  pg_ctl -D ${data} -o "-p PORT" -l ${root}/postgresql.log start`]
    : [
      `Custos started it as a new instance on port ${s.port} (its log: ${root}/postgresql.log). It runs outside any service manager:`,
      `stop it with pg_ctl -D ${data} stop, start it again with pg_ctl -D ${data} -l ${root}/postgresql.log start (as the account that owns it).`,
    ];
  return [
    `Recovered by Custos: ${s.describe}.`,
    '',
    `${data} is a PostgreSQL data directory. Started, it replays the WAL in ${root}/wal up to ${where}, then ${s.paused ? 'pauses, read-only, for you to look at it' : 'becomes a primary (promotes)'}.`,
    '',
    ...start,
    s.paused
      ? "Look at it (SELECT pg_get_wal_replay_pause_state() says 'paused'), then promote it: pg_ctl -D DATA promote"
      : 'It is promoted when recovery reaches the target (SELECT pg_is_in_recovery() turns false).',
    '',
    `Once promoted, delete ${root}/wal and the lines between "${BLOCK_BEGIN}" and "${BLOCK_END}" in postgresql.auto.conf.`,
    '',
  ].join('\n');
}

const CHILD = fileURLToPath(new URL('./prepare-child.js', import.meta.url));

/** prepareRecoveredCluster in a child process running as the owner (uid, gid, no other groups, empty environment). */
export function prepareAsOwner(root: string, s: RecoveredClusterSettings): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, JSON.stringify({ root, settings: s })], { uid: s.owner.uid, gid: s.owner.gid, cwd: '/', env: {}, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString('utf8')).slice(-4000)));
    child.once('error', (e) => reject(new CustosError('io', `cannot start the preparation as uid ${s.owner.uid}: ${e.message}`)));
    child.once('close', (code) => {
      if (code === 0) return resolve((JSON.parse(out) as { data: string }).data);
      let e: { code?: string; message?: string } = {};
      try {
        e = JSON.parse(err.trim().split('\n').at(-1) ?? '{}') as typeof e;
      } catch {
        e = { message: err.trim() };
      }
      reject(new CustosError((e.code as never) ?? 'io', e.message ?? `the preparation ended with ${code}`));
    });
  });
}
