/**
 * Files a running PostgreSQL cluster leaves where the agent can read them
 * without connecting (docs/design/postgresql.md §3.1):
 *
 * - `postmaster.pid` in the data directory and `.s.PGSQL.PORT.lock` next to
 *   each Unix socket: one value a line — the postmaster's pid, the data
 *   directory, its start time (Unix seconds), the port, the first socket
 *   directory; `postmaster.pid` goes on with the first listen address, the
 *   shared memory key and id, and the status (`starting`, `stopping`,
 *   `ready`, `standby`, padded with spaces);
 * - `global/pg_control`, whose first 8 bytes are the cluster's system
 *   identifier (host byte order) and the next 4 pg_control's version;
 * - `PG_VERSION`: the major version, one line.
 *
 * Strict: these come from a directory other users can write to (`/tmp`),
 * so anything that is not exactly this form is a `format` error.
 */
import { CustosError } from '../../base/index.js';

/** More than any lock file holds (eight short lines). */
export const MAX_LOCK_FILE_BYTES = 4096;
/** Linux's largest pid_max. */
const MAX_PID = 4_194_304;

export type PostmasterStatus = 'starting' | 'stopping' | 'ready' | 'standby';
const STATUSES: readonly PostmasterStatus[] = ['starting', 'stopping', 'ready', 'standby'];

export interface PostmasterLock {
  readonly pid: number;
  readonly dataDirectory: string;
  /** When the postmaster started, in Unix seconds. */
  readonly startedAt: number;
  readonly port: number;
  /** The first Unix socket directory; '' when it listens on none. */
  readonly socketDir: string;
  /** postmaster.pid only, once the postmaster has written it. */
  readonly status?: PostmasterStatus;
}

function fail(what: string, why: string): never {
  throw new CustosError('format', `${what} is not a PostgreSQL lock file: ${why}`);
}

function wholeNumber(text: string, min: number, max: number): number | null {
  if (!/^[0-9]{1,10}$/.test(text)) return null;
  const n = Number(text);
  return n >= min && n <= max ? n : null;
}

function absolutePath(text: string): boolean {
  return text.startsWith('/') && text.length <= 4096 && !/[\x00-\x1f\x7f-\x9f]/.test(text) && !/(^|\/)\.\.?(\/|$)/.test(text);
}

/**
 * Parses a lock file. `kind` says which: a socket's lock holds the first
 * five lines only; postmaster.pid may hold five (while starting) to eight.
 */
export function parsePostmasterLock(bytes: Buffer, kind: 'socket' | 'data', what = kind === 'socket' ? 'the socket lock file' : 'postmaster.pid'): PostmasterLock {
  if (bytes.length > MAX_LOCK_FILE_BYTES) fail(what, `${bytes.length} bytes`);
  const text = bytes.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(bytes)) fail(what, 'not UTF-8');
  if (!text.endsWith('\n')) fail(what, 'its last line is not whole');
  const lines = text.slice(0, -1).split('\n');
  if (kind === 'socket' ? lines.length !== 5 : lines.length < 5 || lines.length > 8) fail(what, `${lines.length} lines`);
  const [pidText, dataDirectory, startText, portText, socketDir] = lines as [string, string, string, string, string];
  const pid = wholeNumber(pidText, 1, MAX_PID);
  if (pid === null) fail(what, `line 1 (${JSON.stringify(pidText.slice(0, 20))}) is not a pid`);
  if (!absolutePath(dataDirectory)) fail(what, 'line 2 is not an absolute data directory');
  const startedAt = wholeNumber(startText, 0, 2 ** 33);
  if (startedAt === null) fail(what, 'line 3 is not a start time');
  const port = wholeNumber(portText, 1, 65535);
  if (port === null) fail(what, 'line 4 is not a port');
  if (socketDir !== '' && !absolutePath(socketDir)) fail(what, 'line 5 is not an absolute socket directory');
  const lock: PostmasterLock = { pid, dataDirectory, startedAt, port, socketDir };
  if (lines.length < 8) return lock;
  const statusText = lines[7]!.trimEnd();
  const status = STATUSES.find((s) => s === statusText);
  if (status === undefined) fail(what, `line 8 (${JSON.stringify(statusText.slice(0, 20))}) is not a postmaster status`);
  return { ...lock, status };
}

/** pg_control is one 8 KiB block (PG_CONTROL_FILE_SIZE). */
export const PG_CONTROL_BYTES = 8192;

/**
 * The cluster's system identifier from `global/pg_control`, as decimal text
 * (it is a 64-bit number; pg_controldata prints it so). Only the file's size
 * is checked, not its CRC, whose place depends on the version: this is for
 * telling clusters apart, not for trusting their contents.
 */
export function systemIdentifierOf(control: Buffer): string {
  if (control.length !== PG_CONTROL_BYTES) throw new CustosError('format', `pg_control is ${control.length} bytes, not ${PG_CONTROL_BYTES}`);
  const id = control.readBigUInt64LE(0);
  if (id === 0n) throw new CustosError('format', 'pg_control holds no system identifier');
  return id.toString();
}

/** The major version in `PG_VERSION` ("15\n" → 15; "9.6\n" → 9.6 is refused: before 10 the format differs). */
export function parsePgVersion(bytes: Buffer): number {
  const m = /^([1-9][0-9]{1,2})\n$/.exec(bytes.length <= 16 ? bytes.toString('latin1') : '');
  if (!m) throw new CustosError('format', `PG_VERSION does not hold a major version of PostgreSQL 10 or later`);
  return Number(m[1]);
}
