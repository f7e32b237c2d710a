/**
 * The strict check of everything an agent sends (docs/design/agent-protocol.md,
 * "Validation"). The server treats every agent as hostile: a text frame
 * becomes an AgentMessage only through parseAgentMessage, which checks every
 * field's type, range and length and refuses unknown fields, so nothing
 * unchecked reaches a job, the catalog or a log line.
 */
import { CustosError, type ErrorCode } from '../base/index.js';
import { parsePointMeta, type ManifestPageRef, type PointSummary } from '../format/index.js';
import {
  CONFLICT_MODES,
  DEFAULT_CONFLICT,
  SECURITY_MODES,
  MAX_ERROR_CHARS,
  MAX_LOG_CHARS,
  MAX_REASON_CHARS,
  type AgentMessage,
  type AgentRequest,
  type CommitRequest,
  type JobProgress,
  type RecoveryJobSpec,
  type LocalUser,
  type UserRequest,
  type WireError,
  type WireThrottleRule,
  type WireWeekday,
  ENTRY_TYPES,
  type Answer,
  type DirEntry,
  type Question,
  type AccountAnswer,
  ACCOUNT_NAME_PATTERN,
  MAX_ACCOUNT_GROUPS,
  APP_KIND_NAMES,
  INSTANCE_STATES,
  LOG_MODES,
  MAX_DISCOVERED,
  type DiscoverAnswer,
  type DiscoveredFileSystem,
  type DiscoveredInstance,
  type DiscoveryProblem,
  SOURCE_KIND_NAMES,
  SLOT_NAME_PATTERN,
} from './messages.js';
import { canonicalBase64, cursorName, cursorOf, displayName, isNameBytes, livePathProblem, MAX_CURSOR_CHARS, MAX_LIST_ENTRIES, MAX_NAME_BYTES, nameBytes } from './live-names.js';

/** The largest text frame an agent may send (a commit of a very large manifest is the biggest). */
export const MAX_TEXT_FRAME = 48 * 1024 * 1024;
/** Chunk ids per `missing` or `blobs` request. */
export const MAX_IDS_PER_REQUEST = 4096;
/** Manifest pages per commit (a page holds at least 64 KiB of entries but the last of a stretch). */
export const MAX_MANIFEST_PAGES = 262_144;
/** The largest manifest page (a page is stored as one chunk; the server checks chunks up to this size). */
export const MAX_PAGE_BYTES_WIRE = 16 * 1024 * 1024;
export const MAX_EXCLUDES = 1024;
export const MAX_EXCLUDE_CHARS = 4096;
export const MAX_SOURCE_CHARS = 4500;
export const MAX_VERSION_CHARS = 64;
export const MAX_HOSTNAME_CHARS = 253;
/** A `done` result, as JSON. */
export const MAX_RESULT_JSON = 16 * 1024;

/** The phases an agent reports. */
export const PROGRESS_PHASES = ['synchronizing', 'checking', 'recovering'] as const;
export const LOG_LEVELS = ['info', 'warning', 'error'] as const;

/** Every ErrorCode (a code added to base/errors.ts must be added here: the check below fails the build otherwise). */
export const WIRE_ERROR_CODES = [
  'usage', 'not-found', 'bad-key', 'locked', 'integrity', 'unsafe-path', 'exists', 'format', 'io', 'partial',
  'denied', 'job-failed', 'unreachable', 'cancelled', 'internal', 'bad-target',
] as const satisfies readonly ErrorCode[];
type UnlistedCodes = Exclude<ErrorCode, (typeof WIRE_ERROR_CODES)[number]>;
const everyCodeListed: [UnlistedCodes] extends [never] ? true : false = true;
void everyCodeListed;

const SUMMARY_FIELDS = [
  'filesNew', 'filesChanged', 'filesUnchanged', 'dirs', 'others', 'errors', 'changedDuringRead', 'bytesRead', 'bytesAdded', 'logicalBytes', 'durationMs',
] as const satisfies ReadonlyArray<keyof PointSummary>;

const CHUNK_ID = /^[0-9a-f]{64}$/;
const POINT_ID = /^[0-9a-f]{32}$/;
const PRINTABLE = /^[\x20-\x7e]*$/;
/** Text without control characters (any script): shown on terminals and in the console. */
const NO_CONTROLS = /^[^\x00-\x1f\x7f-\x9f]*$/;
const HOSTNAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function bad(path: string, what: string): never {
  throw new CustosError('usage', `invalid agent message: ${path} ${what}`);
}

type Obj = Record<string, unknown>;

/** An object with exactly the keys `required` (and any of `optional`), nothing else. */
function record(v: unknown, path: string, required: readonly string[], optional: readonly string[] = []): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(path, 'must be an object');
  const o = v as Obj;
  for (const k of Object.keys(o)) {
    if (!required.includes(k) && !optional.includes(k)) bad(path, `has an unknown field ${JSON.stringify(k.slice(0, 40))}`);
  }
  for (const k of required) if (!Object.hasOwn(o, k)) bad(path, `lacks the field ${k}`);
  return o;
}

function uint32(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff_ffff) bad(path, 'must be an integer from 0 to 2^32-1');
  return v;
}

function count(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad(path, 'must be a non-negative whole number');
  return v;
}

function intIn(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(path, `must be a whole number from ${min} to ${max}`);
  return v;
}

function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') bad(path, 'must be true or false');
  return v;
}

function text(v: unknown, path: string, max: number, pattern?: RegExp): string {
  if (typeof v !== 'string') bad(path, 'must be a string');
  if (v.length > max) bad(path, `is longer than ${max} characters`);
  if (pattern && !pattern.test(v)) bad(path, 'has characters that are not allowed');
  return v;
}

function oneOf<T extends string>(v: unknown, path: string, values: readonly T[]): T {
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) bad(path, `must be one of ${values.join(', ')}`);
  return v as T;
}

function list<T>(v: unknown, path: string, max: number, item: (x: unknown, p: string) => T): T[] {
  if (!Array.isArray(v)) bad(path, 'must be an array');
  if (v.length > max) bad(path, `has more than ${max} items`);
  return v.map((x, i) => item(x, `${path}[${i}]`));
}

function chunkIds(v: unknown, path: string): string[] {
  return list(v, path, MAX_IDS_PER_REQUEST, (x, p) => text(x, p, 64, CHUNK_ID));
}

export function parseSummary(v: unknown, path = 'summary'): PointSummary {
  const o = record(v, path, SUMMARY_FIELDS);
  const out: Record<string, number> = {};
  for (const k of SUMMARY_FIELDS) out[k] = count(o[k], `${path}.${k}`);
  return out as unknown as PointSummary;
}

function pageRef(v: unknown, path: string): ManifestPageRef {
  const o = record(v, path, ['id', 'length', 'entries']);
  const length = intIn(o['length'], `${path}.length`, 1, MAX_PAGE_BYTES_WIRE);
  return {
    id: text(o['id'], `${path}.id`, 64, CHUNK_ID) as ManifestPageRef['id'],
    length,
    // An entry takes at least two bytes of a page (its length and its type).
    entries: intIn(o['entries'], `${path}.entries`, 1, Math.floor(length / 2)),
  };
}

function commitBody(o: Obj, path: string): CommitRequest {
  const manifest = list(o['manifest'], `${path}.manifest`, MAX_MANIFEST_PAGES, pageRef);
  if (manifest.length === 0) bad(`${path}.manifest`, 'is empty');
  return {
    manifest,
    summary: parseSummary(o['summary'], `${path}.summary`),
    partial: bool(o['partial'], `${path}.partial`),
    excludes: list(o['excludes'], `${path}.excludes`, MAX_EXCLUDES, (x, p) => text(x, p, MAX_EXCLUDE_CHARS)),
    ...(o['app'] === undefined ? {} : { app: pointMeta(o['app'], `${path}.app`) }),
  };
}

/** An application point's metadata: postgres/point-meta.ts checks it; its refusal becomes this message's. */
function pointMeta(v: unknown, path: string): NonNullable<CommitRequest['app']> {
  try {
    return parsePointMeta(v, path);
  } catch (err) {
    return bad(path, `is refused: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export function parseAgentRequest(v: unknown, path = 'body'): AgentRequest {
  const op = typeof v === 'object' && v !== null ? (v as Obj)['op'] : undefined;
  switch (op) {
    case 'missing':
    case 'blobs': {
      const o = record(v, path, ['op', 'ids']);
      return { op, ids: chunkIds(o['ids'], `${path}.ids`) };
    }
    case 'stored':
      record(v, path, ['op']);
      return { op };
    case 'commit': {
      const o = record(v, path, ['op', 'manifest', 'summary', 'partial', 'excludes'], ['app']);
      return { op, ...commitBody(o, path) };
    }
    default:
      return bad(`${path}.op`, 'must be missing, blobs, stored or commit');
  }
}

function progress(v: unknown, path: string): JobProgress {
  const o = record(v, path, ['phase', 'filesDone', 'bytesDone', 'bytesTotal']);
  return {
    phase: oneOf(o['phase'], `${path}.phase`, PROGRESS_PHASES),
    filesDone: count(o['filesDone'], `${path}.filesDone`),
    bytesDone: count(o['bytesDone'], `${path}.bytesDone`),
    bytesTotal: o['bytesTotal'] === null ? null : count(o['bytesTotal'], `${path}.bytesTotal`),
  };
}

export function parseWireError(v: unknown, path = 'error'): WireError {
  const o = record(v, path, ['code', 'message', 'transient']);
  return {
    code: oneOf(o['code'], `${path}.code`, WIRE_ERROR_CODES),
    message: text(o['message'], `${path}.message`, MAX_ERROR_CHARS),
    transient: bool(o['transient'], `${path}.transient`),
  };
}

/** Paths of a verification scan's misses a result may name. */
export const MAX_MISSED_PATHS = 20;

/** The first five of `count` missed paths for a message: "a, b, c, d, e, …" (the agent's journal log and the server's alert say it alike). */
export function missedPathsText(paths: readonly string[], count: number): string {
  return `${paths.slice(0, 5).join(', ')}${count > 5 ? ', …' : ''}`;
}

const RESULT_COUNTS = ['bytesAdded', 'errors', 'files', 'dirs', 'others', 'identical', 'copies', 'skipped', 'bytes'] as const;

/** A job's result as the agent reports it: the known fields only (what `job show` displays). */
function jobResult(v: unknown, path: string): Record<string, unknown> {
  const o = record(v, path, [], [...RESULT_COUNTS, 'point', 'time', 'partial', 'summary', 'walk', 'target', 'dataDirectory', 'instance', 'logModeWhy']);
  const out: Record<string, unknown> = {};
  for (const k of RESULT_COUNTS) if (Object.hasOwn(o, k)) out[k] = count(o[k], `${path}.${k}`);
  if (Object.hasOwn(o, 'point')) out['point'] = text(o['point'], `${path}.point`, 32, POINT_ID);
  if (Object.hasOwn(o, 'time')) out['time'] = text(o['time'], `${path}.time`, 40, PRINTABLE);
  if (Object.hasOwn(o, 'partial')) out['partial'] = bool(o['partial'], `${path}.partial`);
  if (Object.hasOwn(o, 'summary')) out['summary'] = parseSummary(o['summary'], `${path}.summary`);
  if (Object.hasOwn(o, 'target')) out['target'] = text(o['target'], `${path}.target`, 4096);
  // A recovered postgres cluster's data directory (under the target).
  if (Object.hasOwn(o, 'dataDirectory')) out['dataDirectory'] = text(o['dataDirectory'], `${path}.dataDirectory`, 4200);
  // A new instance the recovery started: its port, whether it promoted (or waits paused, or as a standby), its socket's directory.
  if (Object.hasOwn(o, 'instance')) {
    const i = record(o['instance'], `${path}.instance`, ['port', 'state', 'socketDir']);
    out['instance'] = {
      port: intIn(i['port'], `${path}.instance.port`, 1, 65535),
      state: oneOf(i['state'], `${path}.instance.state`, ['promoted', 'paused', 'standby'] as const),
      socketDir: text(i['socketDir'], `${path}.instance.socketDir`, 4096, NO_CONTROLS),
    };
  }
  // Why an express full found the cluster's log taken by another tool (express fulls only): the server's log-consumer alert says it.
  if (Object.hasOwn(o, 'logModeWhy')) out['logModeWhy'] = text(o['logModeWhy'], `${path}.logModeWhy`, 1000, NO_CONTROLS);
  if (Object.hasOwn(o, 'walk')) {
    const w = record(o['walk'], `${path}.walk`, ['itemsStatted', 'dirsListed', 'journal'], ['journalMissed', 'journalMissedPaths']);
    const walk: Record<string, unknown> = { itemsStatted: count(w['itemsStatted'], `${path}.walk.itemsStatted`), dirsListed: count(w['dirsListed'], `${path}.walk.dirsListed`), journal: bool(w['journal'], `${path}.walk.journal`) };
    // A verification scan's finding: changed items the change journal had not recorded (count, and the first paths).
    if (Object.hasOwn(w, 'journalMissed')) walk['journalMissed'] = count(w['journalMissed'], `${path}.walk.journalMissed`);
    if (Object.hasOwn(w, 'journalMissedPaths')) {
      const list = w['journalMissedPaths'];
      if (!Array.isArray(list) || list.length > MAX_MISSED_PATHS) bad(`${path}.walk.journalMissedPaths`, `must be a list of at most ${MAX_MISSED_PATHS} paths`);
      walk['journalMissedPaths'] = list.map((p, i) => text(p, `${path}.walk.journalMissedPaths[${i}]`, 1024));
    }
    out['walk'] = walk;
  }
  if (JSON.stringify(out).length > MAX_RESULT_JSON) bad(path, `is larger than ${MAX_RESULT_JSON} bytes`);
  return out;
}

const WEEKDAY_NAMES: readonly WireWeekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const TIME_OF_DAY = /^([01]\d|2[0-3]):[0-5]\d$/;
/** --throttle rules per recovery, at most (src/protection/throttle.ts MAX_THROTTLE_RULES). */
const MAX_THROTTLE_RULES_WIRE = 16;

function throttleRule(v: unknown, path: string): WireThrottleRule {
  const o = record(v, path, ['bytesPerSecond'], ['window']);
  const bytesPerSecond = intIn(o['bytesPerSecond'], `${path}.bytesPerSecond`, 1024, Number.MAX_SAFE_INTEGER);
  if (!Object.hasOwn(o, 'window')) return { bytesPerSecond };
  const w = record(o['window'], `${path}.window`, ['days', 'from', 'to']);
  const days = list(w['days'], `${path}.window.days`, 7, (d, p) => oneOf(d, p, WEEKDAY_NAMES));
  if (days.length === 0 || new Set(days).size !== days.length) bad(`${path}.window.days`, 'must name each day once, at least one');
  const from = text(w['from'], `${path}.window.from`, 5, TIME_OF_DAY);
  const to = text(w['to'], `${path}.window.to`, 5, TIME_OF_DAY);
  if (from === to) bad(`${path}.window`, 'is empty');
  return { bytesPerSecond, window: { days, from, to } };
}

/** How the agent writes a recovery, as the server sent it (RecoveryJobSpec): checked, with the defaults of absent fields. */
export interface RecoverySettings {
  readonly conflict: (typeof CONFLICT_MODES)[number];
  readonly security: (typeof SECURITY_MODES)[number];
  readonly throttle: readonly WireThrottleRule[];
}

export function parseRecoverySettings(spec: Pick<RecoveryJobSpec, 'conflict' | 'security' | 'throttle'>, path = 'job'): RecoverySettings {
  const s = spec as Record<string, unknown>;
  try {
    return {
      conflict: s['conflict'] === undefined ? DEFAULT_CONFLICT : oneOf(s['conflict'], `${path}.conflict`, CONFLICT_MODES),
      security: s['security'] === undefined ? 'point' : oneOf(s['security'], `${path}.security`, SECURITY_MODES),
      throttle: s['throttle'] === undefined ? [] : list(s['throttle'], `${path}.throttle`, MAX_THROTTLE_RULES_WIRE, throttleRule),
    };
  } catch (err) {
    // The checks above speak of agent messages; this is the server's job.
    throw new CustosError('usage', (err as Error).message.replace('invalid agent message:', 'invalid recovery job:'));
  }
}

/** The longest path a `user-request` may name (PATH_MAX). */
export const MAX_USER_PATH_CHARS = 4096;
/** Supplementary groups of a local user (NGROUPS_MAX). */
export const MAX_USER_GROUPS = 65536;
/** Items of one page of `my browse`. */
export const MAX_USER_BROWSE_LIMIT = 1000;
/** A `my search` pattern. */
export const MAX_USER_PATTERN_CHARS = 1024;
const POINT_REF = /^[0-9a-f]{4,32}$/;

/** An absolute path with no empty, `.` or `..` component and no NUL: the one spelling the server looks up. */
export function isCanonicalAbsolutePath(p: string): boolean {
  if (p === '/') return true;
  if (!p.startsWith('/') || p.includes('\0')) return false;
  return p.slice(1).split('/').every((c) => c !== '' && c !== '.' && c !== '..');
}

function userPath(v: unknown, path: string): string {
  const p = text(v, path, MAX_USER_PATH_CHARS);
  if (!isCanonicalAbsolutePath(p)) bad(path, 'must be an absolute path without empty, . or .. components');
  return p;
}

function localUser(v: unknown, path: string): LocalUser {
  const o = record(v, path, ['uid', 'gid', 'groups']);
  return {
    uid: uint32(o['uid'], `${path}.uid`),
    gid: uint32(o['gid'], `${path}.gid`),
    groups: list(o['groups'], `${path}.groups`, MAX_USER_GROUPS, (x, p) => uint32(x, p)),
  };
}

function pointChoice(o: Obj, path: string): { point?: string; at?: string } {
  const out: { point?: string; at?: string } = {};
  if (Object.hasOwn(o, 'point')) out.point = text(o['point'], `${path}.point`, 32, POINT_REF);
  if (Object.hasOwn(o, 'at')) {
    const at = text(o['at'], `${path}.at`, 40, PRINTABLE);
    if (Number.isNaN(Date.parse(at))) bad(`${path}.at`, 'is not a time');
    out.at = at;
  }
  if (out.point !== undefined && out.at !== undefined) bad(path, 'names both a point and a time');
  return out;
}

export function parseUserRequest(v: unknown, path = 'body'): UserRequest {
  const op = typeof v === 'object' && v !== null ? (v as Obj)['op'] : undefined;
  switch (op) {
    case 'versions': {
      const o = record(v, path, ['op', 'path']);
      return { op, path: userPath(o['path'], `${path}.path`) };
    }
    case 'browse': {
      const o = record(v, path, ['op', 'path', 'limit'], ['point', 'at', 'after']);
      const out: { -readonly [K in keyof Extract<UserRequest, { op: 'browse' }>]: Extract<UserRequest, { op: 'browse' }>[K] } = {
        op, path: userPath(o['path'], `${path}.path`), limit: intIn(o['limit'], `${path}.limit`, 1, MAX_USER_BROWSE_LIMIT), ...pointChoice(o, path),
      };
      if (Object.hasOwn(o, 'after')) {
        const after = text(o['after'], `${path}.after`, 1024);
        if (after === '' || after === '.' || after === '..' || after.includes('/') || after.includes('\0')) bad(`${path}.after`, 'must be one name');
        out.after = after;
      }
      return out;
    }
    case 'recover': {
      const o = record(v, path, ['op', 'path'], ['point', 'at']);
      return { op, path: userPath(o['path'], `${path}.path`), ...pointChoice(o, path) };
    }
    case 'search': {
      const o = record(v, path, ['op', 'path', 'pattern', 'limit']);
      const pattern = text(o['pattern'], `${path}.pattern`, MAX_USER_PATTERN_CHARS);
      if (pattern === '' || pattern.includes('\0')) bad(`${path}.pattern`, 'must be a glob');
      return { op, path: userPath(o['path'], `${path}.path`), pattern, limit: intIn(o['limit'], `${path}.limit`, 1, MAX_USER_BROWSE_LIMIT) };
    }
    default:
      return bad(`${path}.op`, 'must be versions, browse, recover or search');
  }
}

// --- questions and answers (ask / answer: browsing the live file system)

function livePath(v: unknown, path: string): string {
  const p = text(v, path, 4096);
  if (livePathProblem(p) !== null) bad(path, 'must be an absolute path without empty, . or .. components');
  return p;
}

/**
 * One entry: the name is its display text (displayName of its bytes, at
 * most 255 bytes, one component), with nameBase64 exactly when the text is
 * not the bytes; a whole-number size; mountPoint only when true.
 */
function dirEntry(v: unknown, path: string): DirEntry {
  const o = record(v, path, ['name', 'type', 'size'], ['nameBase64', 'mountPoint']);
  const name = text(o['name'], `${path}.name`, MAX_NAME_BYTES);
  let bytes: Buffer;
  if (Object.hasOwn(o, 'nameBase64')) {
    const b = canonicalBase64(text(o['nameBase64'], `${path}.nameBase64`, MAX_CURSOR_CHARS));
    if (b === null) bad(`${path}.nameBase64`, 'is not base64');
    if (Buffer.from(name, 'utf8').equals(b)) bad(`${path}.nameBase64`, 'is present though the name is its bytes');
    bytes = b;
  } else {
    bytes = Buffer.from(name, 'utf8');
  }
  if (!isNameBytes(bytes)) bad(`${path}.name`, `must be one name of 1 to ${MAX_NAME_BYTES} bytes`);
  if (displayName(bytes) !== name) bad(`${path}.name`, 'is not the displayed form of its bytes');
  if (Object.hasOwn(o, 'mountPoint') && o['mountPoint'] !== true) bad(`${path}.mountPoint`, 'must be true when present');
  return {
    name,
    ...(Object.hasOwn(o, 'nameBase64') ? { nameBase64: o['nameBase64'] as string } : {}),
    type: oneOf(o['type'], `${path}.type`, ENTRY_TYPES),
    size: count(o['size'], `${path}.size`),
    ...(Object.hasOwn(o, 'mountPoint') ? { mountPoint: true as const } : {}),
  };
}

function accountName(v: unknown, path: string): string {
  const name = text(v, path, 33);
  if (!ACCOUNT_NAME_PATTERN.test(name)) bad(path, 'must be an account name: letters, digits, _ . - (not first), at most 32, maybe ending in $');
  return name;
}

/** An account answer: ids are 32-bit (not -1), the groups ascending without repeats and holding the primary group. */
function accountAnswer(v: unknown, path: string): AccountAnswer {
  const o = record(v, path, ['kind', 'name', 'uid', 'gid', 'groups']);
  const id = (x: unknown, p: string) => intIn(x, p, 0, 0xffff_fffe);
  const groups = list(o['groups'], `${path}.groups`, MAX_ACCOUNT_GROUPS, id);
  for (let i = 1; i < groups.length; i++) if (groups[i]! <= groups[i - 1]!) bad(`${path}.groups[${i}]`, 'is not after the group before it');
  const gid = id(o['gid'], `${path}.gid`);
  if (!groups.includes(gid)) bad(`${path}.groups`, 'must hold the primary group');
  return { kind: 'account', name: accountName(o['name'], `${path}.name`), uid: id(o['uid'], `${path}.uid`), gid, groups };
}

// A discover answer is shown on terminals and in the console: no control characters anywhere.
const SHOWN = /^[^\x00-\x1f\x7f-\x9f]*$/;

function shownPath(v: unknown, path: string): string {
  const p = text(v, path, 4096, SHOWN);
  if (!p.startsWith('/')) bad(path, 'must be an absolute path');
  return p;
}

function discoveredFileSystem(v: unknown, path: string): DiscoveredFileSystem {
  const o = record(v, path, ['mountPoint', 'type', 'device', 'sizeBytes', 'usedBytes']);
  const sizeBytes = count(o['sizeBytes'], `${path}.sizeBytes`);
  const usedBytes = count(o['usedBytes'], `${path}.usedBytes`);
  if (usedBytes > sizeBytes) bad(`${path}.usedBytes`, 'is more than sizeBytes');
  return { mountPoint: shownPath(o['mountPoint'], `${path}.mountPoint`), type: text(o['type'], `${path}.type`, 64, /^[A-Za-z0-9_.-]+$/), device: text(o['device'], `${path}.device`, 4096, SHOWN), sizeBytes, usedBytes };
}

function discoveredInstance(v: unknown, path: string): DiscoveredInstance {
  const o = record(v, path, ['kind', 'port', 'socketDir', 'dataDirectory', 'version', 'name', 'systemIdentifier', 'owner', 'state', 'sizeBytes', 'logMode', 'protectable', 'why']);
  const state = oneOf(o['state'], `${path}.state`, INSTANCE_STATES);
  const socketDir = o['socketDir'] === null ? null : shownPath(o['socketDir'], `${path}.socketDir`);
  if ((socketDir === null) !== (state === 'down')) bad(`${path}.socketDir`, 'must be null exactly when the instance is down');
  const protectable = bool(o['protectable'], `${path}.protectable`);
  if (protectable && state !== 'running') bad(`${path}.protectable`, 'must be false for an instance that is not running');
  const why = o['why'] === null ? null : text(o['why'], `${path}.why`, 500, SHOWN);
  if (!protectable && why === null) bad(`${path}.why`, 'must say why the instance is not protectable');
  const logMode = o['logMode'] === null ? null : oneOf(o['logMode'], `${path}.logMode`, LOG_MODES);
  if ((logMode !== null) !== protectable) bad(`${path}.logMode`, 'must be given exactly for a protectable instance');
  if (logMode === 'full-only' && why === null) bad(`${path}.why`, 'must say why the instance is protected by express fulls only');
  const systemIdentifier = o['systemIdentifier'] === null ? null : text(o['systemIdentifier'], `${path}.systemIdentifier`, 20, /^[1-9][0-9]*$/);
  if (systemIdentifier !== null && BigInt(systemIdentifier) >= 1n << 64n) bad(`${path}.systemIdentifier`, 'must fit in 64 bits');
  return {
    kind: oneOf(o['kind'], `${path}.kind`, APP_KIND_NAMES), port: intIn(o['port'], `${path}.port`, 1, 65535), socketDir,
    dataDirectory: shownPath(o['dataDirectory'], `${path}.dataDirectory`), version: intIn(o['version'], `${path}.version`, 1, 999),
    name: o['name'] === null ? null : text(o['name'], `${path}.name`, 100, /^[A-Za-z0-9_./-]+$/), systemIdentifier,
    owner: text(o['owner'], `${path}.owner`, 40, /^[A-Za-z0-9_. $-]+$/), state, sizeBytes: count(o['sizeBytes'], `${path}.sizeBytes`), logMode, protectable, why,
  };
}

function discoveryProblem(v: unknown, path: string): DiscoveryProblem {
  const o = record(v, path, ['path', 'why']);
  return { path: shownPath(o['path'], `${path}.path`), why: text(o['why'], `${path}.why`, 500, SHOWN) };
}

function discoverAnswer(v: unknown, path: string): DiscoverAnswer {
  const o = record(v, path, ['kind', 'fileSystems', 'instances', 'problems']);
  const instances = list(o['instances'], `${path}.instances`, MAX_DISCOVERED, discoveredInstance);
  const seen = new Set<string>();
  instances.forEach((i, n) => {
    if (seen.has(i.dataDirectory)) bad(`${path}.instances[${n}]`, 'repeats a data directory');
    seen.add(i.dataDirectory);
  });
  return {
    kind: 'discover', fileSystems: list(o['fileSystems'], `${path}.fileSystems`, MAX_DISCOVERED, discoveredFileSystem), instances,
    problems: list(o['problems'], `${path}.problems`, MAX_DISCOVERED, discoveryProblem),
  };
}

/** An answer's body: by kind; entries in strictly ascending byte order, `next` the cursor of the last one or null. */
export function parseAnswerBody(v: unknown, path = 'body'): Answer {
  const kind = typeof v === 'object' && v !== null ? (v as Obj)['kind'] : undefined;
  if (kind === 'account') return accountAnswer(v, path);
  if (kind === 'discover') return discoverAnswer(v, path);
  if (kind === 'release') {
    const o = record(v, path, ['kind', 'dropped']);
    return { kind, dropped: bool(o['dropped'], `${path}.dropped`) };
  }
  if (kind === 'slot-status') {
    const o = record(v, path, ['kind', 'retainedBytes']);
    return { kind, retainedBytes: o['retainedBytes'] === null ? null : count(o['retainedBytes'], `${path}.retainedBytes`) };
  }
  if (kind !== 'list-dir') bad(`${path}.kind`, 'must be list-dir, account, discover, release or slot-status');
  const o = record(v, path, ['kind', 'path', 'entries', 'next']);
  const entries = list(o['entries'], `${path}.entries`, MAX_LIST_ENTRIES, dirEntry);
  for (let i = 1; i < entries.length; i++) {
    if (Buffer.compare(nameBytes(entries[i - 1]!), nameBytes(entries[i]!)) >= 0) bad(`${path}.entries[${i}]`, 'is not after the entry before it in name order');
  }
  let next: string | null = null;
  if (o['next'] !== null) {
    next = text(o['next'], `${path}.next`, MAX_CURSOR_CHARS);
    const last = entries.at(-1);
    if (cursorName(next) === null || last === undefined || next !== cursorOf(nameBytes(last))) bad(`${path}.next`, 'must be null or the cursor of the last entry');
  }
  return { kind, path: livePath(o['path'], `${path}.path`), entries, next };
}

/**
 * A question as the agent receives it (the agent checks what the server
 * asks as strictly as the server checks answers). An unknown kind is a
 * `usage` error naming it, so a newer server learns this agent cannot.
 */
export function parseQuestion(v: unknown, path = 'ask.body'): Question {
  const kind = typeof v === 'object' && v !== null ? (v as Obj)['kind'] : undefined;
  if (kind === 'account') {
    const o = record(v, path, ['kind', 'name']);
    return { kind, name: accountName(o['name'], `${path}.name`) };
  }
  if (kind === 'discover') {
    record(v, path, ['kind']);
    return { kind };
  }
  if (kind === 'release' || kind === 'slot-status') {
    const o = record(v, path, ['kind', 'port', 'slot']);
    return { kind, port: intIn(o['port'], `${path}.port`, 1, 65535), slot: text(o['slot'], `${path}.slot`, 19, SLOT_NAME_PATTERN) };
  }
  if (kind !== 'list-dir') {
    throw new CustosError('usage', `this agent does not know the question ${JSON.stringify(String(kind).slice(0, 40))}: update it`);
  }
  const o = record(v, path, ['kind', 'path', 'limit'], ['after']);
  const p = text(o['path'], `${path}.path`, 4096);
  const problem = livePathProblem(p);
  if (problem !== null) throw new CustosError('usage', problem);
  const limit = intIn(o['limit'], `${path}.limit`, 1, MAX_LIST_ENTRIES);
  if (!Object.hasOwn(o, 'after')) return { kind, path: p, limit };
  const after = text(o['after'], `${path}.after`, MAX_CURSOR_CHARS);
  if (cursorName(after) === null) bad(`${path}.after`, 'must be the cursor of one name');
  return { kind, path: p, after, limit };
}

/** A host name as the agent sends it in `hello`: characters outside the allowed ones become '-'. */
export function wireHostname(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[._-]+/, '').slice(0, MAX_HOSTNAME_CHARS);
  return cleaned === '' ? 'unknown' : cleaned;
}

/** Checks one decoded message (see parseAgentMessage). */
export function checkAgentMessage(v: unknown): AgentMessage {
  const t = typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj)['t'] : undefined;
  switch (t) {
    case 'hello': {
      const o = record(v, 'hello', ['t', 'protocol', 'version', 'hostname'], ['kinds']);
      const hostname = text(o['hostname'], 'hello.hostname', MAX_HOSTNAME_CHARS);
      if (!HOSTNAME.test(hostname)) bad('hello.hostname', 'is not a host name');
      const kinds = o['kinds'] === undefined ? undefined : [...new Set(list(o['kinds'], 'hello.kinds', 16, (x, p) => oneOf(x, p, SOURCE_KIND_NAMES)))];
      return { t, protocol: intIn(o['protocol'], 'hello.protocol', 0, 0x7fff_ffff), version: text(o['version'], 'hello.version', MAX_VERSION_CHARS, PRINTABLE), hostname, ...(kinds ? { kinds } : {}) };
    }
    case 'request': {
      const o = record(v, 'request', ['t', 'req', 'job', 'body']);
      return { t, req: uint32(o['req'], 'request.req'), job: uint32(o['job'], 'request.job'), body: parseAgentRequest(o['body'], 'request.body') };
    }
    case 'progress': {
      const o = record(v, 'progress', ['t', 'job', 'progress']);
      return { t, job: uint32(o['job'], 'progress.job'), progress: progress(o['progress'], 'progress.progress') };
    }
    case 'log': {
      const o = record(v, 'log', ['t', 'job', 'level', 'message']);
      return { t, job: uint32(o['job'], 'log.job'), level: oneOf(o['level'], 'log.level', LOG_LEVELS), message: text(o['message'], 'log.message', MAX_LOG_CHARS) };
    }
    case 'done': {
      const o = record(v, 'done', ['t', 'job', 'result']);
      return { t, job: uint32(o['job'], 'done.job'), result: jobResult(o['result'], 'done.result') };
    }
    case 'failed': {
      const o = record(v, 'failed', ['t', 'job', 'error']);
      return { t, job: uint32(o['job'], 'failed.job'), error: parseWireError(o['error'], 'failed.error') };
    }
    case 'journal-lost': {
      const o = record(v, 'journal-lost', ['t', 'source', 'reason']);
      return { t, source: text(o['source'], 'journal-lost.source', MAX_SOURCE_CHARS), reason: text(o['reason'], 'journal-lost.reason', MAX_REASON_CHARS) };
    }
    case 'user-request': {
      const o = record(v, 'user-request', ['t', 'req', 'user', 'body']);
      return { t, req: uint32(o['req'], 'user-request.req'), user: localUser(o['user'], 'user-request.user'), body: parseUserRequest(o['body'], 'user-request.body') };
    }
    case 'answer': {
      const ok = typeof v === 'object' && v !== null ? (v as Obj)['ok'] : undefined;
      if (ok === true) {
        const o = record(v, 'answer', ['t', 'req', 'ok', 'body']);
        return { t, req: uint32(o['req'], 'answer.req'), ok, body: parseAnswerBody(o['body'], 'answer.body') };
      }
      if (ok === false) {
        const o = record(v, 'answer', ['t', 'req', 'ok', 'error']);
        return { t, req: uint32(o['req'], 'answer.req'), ok, error: parseWireError(o['error'], 'answer.error') };
      }
      return bad('answer.ok', 'must be true or false');
    }
    default:
      return bad('t', 'must be hello, request, progress, log, done, failed, journal-lost, user-request or answer');
  }
}

/**
 * What a refused text frame still tells: the job and request it names, when
 * those are valid numbers (so the server can answer the request and fail the
 * job instead of leaving both waiting).
 */
export interface RefusedMessage {
  readonly error: CustosError;
  readonly job: number | null;
  readonly req: number | null;
  /** The frame said it was a `user-request` (its `req` is answered though it names no job). */
  readonly userRequest?: boolean;
  /** The frame said it was an `answer` (the question of its `req`, if one is waiting, fails with the reason). */
  readonly answer?: boolean;
}

function numberField(v: unknown, key: string): number | null {
  if (typeof v !== 'object' || v === null) return null;
  const x = (v as Obj)[key];
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0xffff_ffff ? x : null;
}

/** Parses and checks a text frame from an agent: the message, or why it is refused. */
export function parseAgentMessage(data: string | Buffer): { ok: true; message: AgentMessage } | { ok: false; refused: RefusedMessage } {
  if (data.length > MAX_TEXT_FRAME) {
    return { ok: false, refused: { error: new CustosError('usage', `invalid agent message: larger than ${MAX_TEXT_FRAME} bytes`), job: null, req: null } };
  }
  let value: unknown;
  try {
    value = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch {
    return { ok: false, refused: { error: new CustosError('usage', 'invalid agent message: not JSON'), job: null, req: null } };
  }
  try {
    return { ok: true, message: checkAgentMessage(value) };
  } catch (err) {
    const error = err instanceof CustosError ? err : new CustosError('usage', 'invalid agent message');
    const t = typeof value === 'object' && value !== null ? (value as Obj)['t'] : undefined;
    const kind = t === 'user-request' ? { userRequest: true } : t === 'answer' ? { answer: true } : {};
    return { ok: false, refused: { error, job: numberField(value, 'job'), req: numberField(value, 'req'), ...kind } };
  }
}
