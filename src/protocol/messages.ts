/**
 * Agent ⇄ server messages (docs/design/agent-protocol.md is normative). One
 * WebSocket per agent, opened by the agent over mutual TLS; JSON text frames
 * for control, binary frames for chunk data. The server drives: it sends
 * jobs; the agent asks questions inside a job (which chunks are missing,
 * send me these blobs, commit this recovery point) and reports progress.
 */
import { CustosError, type ErrorCode } from '../base/index.js';
import type { AppPointMeta, ChunkerParams, ManifestPageRef, PointSummary } from '../format/index.js';

export const PROTOCOL_VERSION = 2;
/** The WebSocket path of the agent endpoint (client certificate required). */
export const AGENT_CONNECT_PATH = '/api/agent/connect';

export type ConflictModeName = 'overwrite' | 'skip' | 'keep-both';
export const CONFLICT_MODES: readonly ConflictModeName[] = ['overwrite', 'skip', 'keep-both'];
/** The one default of both modes (server recovery and standalone restore): the target ends up as the point has it; identical files are never rewritten. */
export const DEFAULT_CONFLICT: ConflictModeName = 'overwrite';

/** point: the point's owners, modes, ACLs and security labels; target: new items inherit from the target, existing ones are left alone. */
export type SecurityModeName = 'point' | 'target';
export const SECURITY_MODES: readonly SecurityModeName[] = ['point', 'target'];

export type WireWeekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

/** One --throttle rate: bytes per second, in a window of the agent's local time (days, from HH:MM to HH:MM) or outside every window. */
export interface WireThrottleRule {
  readonly bytesPerSecond: number;
  readonly window?: { readonly days: readonly WireWeekday[]; readonly from: string; readonly to: string };
}

/**
 * The pool's id key handed to an agent for one job (base64, kept in memory
 * only, never logged or stored), so that it computes the pool's keyed chunk
 * ids. The data key never leaves the server (protocol 2).
 */
export interface WireKeys {
  readonly idKey: string;
}

/** What a data source is: a directory tree (`fs`) or an application instance (docs/design/postgresql.md). */
export type SourceKindName = 'fs' | AppKindName;
export const SOURCE_KIND_NAMES: readonly SourceKindName[] = ['fs', 'postgres'];

export interface SourceRef {
  readonly id: string;
  /** fs: the absolute path; postgres: the port, in decimal. */
  readonly path: string;
  /** Absent: fs (agents that predate application kinds never get another). */
  readonly kind?: SourceKindName;
}

/** How a postgres express full is made (docs/design/postgresql.md §4). */
export interface PostgresBackupSettings {
  readonly kind: 'postgres';
  readonly port: number;
  /** Relation files are cut in blocks of this size (8192: PostgreSQL's page). */
  readonly blockSize: number;
  /** The system identifier of the cluster this data source protects (from its newest point); null before its first point. */
  readonly systemIdentifier: string | null;
  /** The data source's replication slot (custos_ and 12 hex digits): made by an express full when the log can be ours. */
  readonly slot: string;
  /** A log synchronization (sync job): the point it follows, whose base and WAL it extends. */
  readonly previous: { readonly point: string; readonly app: AppPointMeta } | null;
  /** A sync of a recovery to the latest: a cluster that does not run gives the WAL left in its pg_wal (a tail point, without a marker). */
  readonly tail?: boolean;
}

/** Where a recovered postgres cluster stops replaying: the end of a base backup (immediate), a time, a restore point name, or the end of the WAL. */
export type PostgresRecoveryTarget =
  | { readonly kind: 'immediate' }
  | { readonly kind: 'time'; readonly time: string }
  | { readonly kind: 'name'; readonly name: string }
  | { readonly kind: 'latest' };

/** How a recovered postgres point is made ready to start (docs/design/postgresql.md §7.2). */
export interface PostgresRecoverySettings {
  readonly kind: 'postgres';
  readonly target: PostgresRecoveryTarget;
  /** Stay paused, read-only, at the target (else promote there). */
  readonly paused: boolean;
  readonly segmentBytes: number;
  /** What the notes in the target say was recovered. */
  readonly describe: string;
  /** A new instance: started on this port once ready, and waited for (promoted, or paused); absent: a folder, not started. */
  readonly instance?: { readonly port: number };
  /**
   * Over the data source itself (--to original): the cluster on `port`,
   * which must be the one of `systemIdentifier`, is stopped, its data
   * directory kept aside, the point put in its place and the cluster
   * started again; the job's target is not used.
   */
  readonly original?: { readonly port: number; readonly systemIdentifier: string };
}

export interface BackupJobSpec {
  readonly id: number;
  readonly kind: 'sync' | 'recovery-point' | 'consistency-check';
  readonly source: SourceRef;
  readonly excludes: readonly string[];
  readonly keys: WireKeys | null;
  readonly compressionLevel: number;
  readonly chunker: ChunkerParams;
  /** The replica (newest point) to compare with; null for the first synchronization. */
  readonly previous: { readonly point: string; readonly pages: readonly ManifestPageRef[] } | null;
  /** Read every file and let the server compare checksums (consistency check). */
  readonly fullScan: boolean;
  /** Present for an application data source (source.kind): how its express full is made. */
  readonly app?: PostgresBackupSettings;
}

export interface RecoveryJobSpec {
  readonly id: number;
  readonly kind: 'recovery';
  readonly source: SourceRef;
  readonly point: { readonly id: string; readonly pages: readonly ManifestPageRef[] };
  /** Absolute path on the agent. */
  readonly target: string;
  readonly items: readonly string[];
  readonly conflict: ConflictModeName;
  /** Absent: point. */
  readonly security?: SecurityModeName;
  /** Absent or empty: no limit. */
  readonly throttle?: readonly WireThrottleRule[];
  readonly keys: WireKeys | null;
  readonly compressionLevel: number;
  /**
   * The target may be / or a system directory (isSystemTarget in
   * src/protection); the server sets it only for an admin who asked. Absent:
   * false. The agent checks the target as written and as resolved on its disk.
   */
  readonly allowSystemTarget?: boolean;
  /** Present for a point of an application data source: the whole point is recovered, then made ready to start. */
  readonly app?: PostgresRecoverySettings;
}

export type JobSpec = BackupJobSpec | RecoveryJobSpec;

export interface JobProgress {
  readonly phase: string;
  readonly filesDone: number;
  readonly bytesDone: number;
  readonly bytesTotal: number | null;
}

export interface CommitRequest {
  readonly manifest: readonly ManifestPageRef[];
  readonly summary: PointSummary;
  readonly partial: boolean;
  readonly excludes: readonly string[];
  /** An application point's metadata (an express full); absent for files. */
  readonly app?: AppPointMeta;
}

export type AgentRequest =
  | { readonly op: 'missing'; readonly ids: readonly string[] }
  | { readonly op: 'blobs'; readonly ids: readonly string[] }
  | { readonly op: 'stored' }
  | ({ readonly op: 'commit' } & CommitRequest);

/**
 * A person logged into the agent's computer, as the agent's kernel reports
 * the process that connected to its user socket (SO_PEERCRED, and the
 * supplementary groups of that process): never what the person says.
 */
export interface LocalUser {
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups (the primary gid may or may not be among them). */
  readonly groups: readonly number[];
}

/**
 * End-user recovery (`custos my`): what a local user asks, forwarded by the
 * agent. `path` is an absolute, canonical path on the agent's computer (no
 * `.`, `..` or empty components); the server maps it to one of this agent's
 * data sources and decides what the user may see. `at` is an ISO instant
 * (the newest point at or before it); neither `point` nor `at`: the latest.
 */
export type UserRequest =
  | { readonly op: 'versions'; readonly path: string }
  | { readonly op: 'browse'; readonly path: string; readonly point?: string; readonly at?: string; readonly after?: string; readonly limit: number }
  | { readonly op: 'recover'; readonly path: string; readonly point?: string; readonly at?: string }
  /** Under the directory `path`: a glob without '/' matches names, one with '/' paths relative to `path`. */
  | { readonly op: 'search'; readonly path: string; readonly pattern: string; readonly limit: number };

/**
 * A question the server asks an agent outside any job (`ask`), answered by
 * an `answer` with the same `req`. Additive to protocol 2: an agent that
 * predates it ignores the message, and the server gives up after its
 * timeout. `kind` names the question; an agent answers a kind it does not
 * know with `usage`.
 *
 * `list-dir`: one page of the directory `path` (absolute, canonical) on the
 * agent's computer, in byte order of the names, starting after the name
 * whose bytes `after` carries (base64: names are bytes), at most `limit`
 * entries.
 *
 * `account`: who the local account `name` is on the agent's computer (its
 * uid, primary gid and every group the group database gives it), for a
 * console user linked to that account (My files).
 *
 * `discover`: what the computer holds that can be protected — its mounted
 * file systems and the PostgreSQL clusters behind the sockets of its socket
 * directories (docs/design/postgresql.md §3.1).
 */
export type Question =
  | { readonly kind: 'list-dir'; readonly path: string; readonly after?: string; readonly limit: number }
  | { readonly kind: 'account'; readonly name: string }
  | { readonly kind: 'discover' }
  /** Drop the replication slot `slot` of the PostgreSQL cluster on `port`: its data source left protection. */
  | { readonly kind: 'release'; readonly port: number; readonly slot: string }
  /** How much WAL the replication slot `slot` of the cluster on `port` holds (the lag watch, docs/design/postgresql.md §5.6). */
  | { readonly kind: 'slot-status'; readonly port: number; readonly slot: string };

/** Our replication slots' names: custos_ and 12 hex digits. */
export const SLOT_NAME_PATTERN = /^custos_[0-9a-f]{12}$/;

export interface ReleaseAnswer {
  readonly kind: 'release';
  /** False: there was no such slot (dropped before, or never made). */
  readonly dropped: boolean;
}

export type EntryType = 'dir' | 'file' | 'symlink' | 'other';
export const ENTRY_TYPES: readonly EntryType[] = ['dir', 'file', 'symlink', 'other'];

/** One entry of a live directory listing (lstat: a symbolic link is never followed). */
export interface DirEntry {
  /** The name as text people can read: the exact name when it is valid UTF-8 without control characters, else with U+FFFD in place of what is not. */
  readonly name: string;
  /** Base64 of the name's exact bytes; present only when `name` is not them. */
  readonly nameBase64?: string;
  readonly type: EntryType;
  /** Bytes of a file; 0 for anything else. */
  readonly size: number;
  /** Present (true) when the entry is on another file system than the directory (st_dev differs): a mount point. */
  readonly mountPoint?: true;
}

export interface ListDirAnswer {
  readonly kind: 'list-dir';
  readonly path: string;
  readonly entries: readonly DirEntry[];
  /** Pass as `after` for the next page (base64 of the last entry's name bytes); null: this was the last page. */
  readonly next: string | null;
}

export interface AccountAnswer {
  readonly kind: 'account';
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  /** Every group of the account (the primary one included), ascending, no repeats. */
  readonly groups: readonly number[];
}

/** A local account name as a question may carry it (POSIX portable characters; never starting with '-'). */
export const ACCOUNT_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?$/;
/** The most groups an account answer may list. */
export const MAX_ACCOUNT_GROUPS = 1024;

/** A mounted file system (pseudo file systems such as proc, sysfs or cgroup are left out). */
export interface DiscoveredFileSystem {
  readonly mountPoint: string;
  readonly type: string;
  /** What is mounted (a device, or the file system's own name). */
  readonly device: string;
  readonly sizeBytes: number;
  readonly usedBytes: number;
}

/** running: a primary that accepts connections; down: known to pg_lsclusters, not running; standby: in recovery. */
export type InstanceState = 'running' | 'down' | 'standby';
export const INSTANCE_STATES: readonly InstanceState[] = ['running', 'down', 'standby'];
/** Application kinds an agent can find; a data source's id is `AGENT:KIND:LOCATOR`. */
export type AppKindName = 'postgres';
export const APP_KIND_NAMES: readonly AppKindName[] = ['postgres'];

/** logs: log synchronization and express fulls; full-only: another tool takes its logs (or it cannot give them), express fulls only. */
export type LogMode = 'logs' | 'full-only';
export const LOG_MODES: readonly LogMode[] = ['logs', 'full-only'];

/** An application instance on the agent's computer (a PostgreSQL cluster: its locator is its port). */
export interface DiscoveredInstance {
  readonly kind: AppKindName;
  readonly port: number;
  /** The Unix socket directory it was found through; null for a cluster that is down. */
  readonly socketDir: string | null;
  readonly dataDirectory: string;
  /** Major version (15). */
  readonly version: number;
  /** pg_lsclusters' name (`15/main`), when it knows the cluster. */
  readonly name: string | null;
  /** From global/pg_control, decimal; null when it could not be read. */
  readonly systemIdentifier: string | null;
  /** The account that runs it and owns the data directory. */
  readonly owner: string;
  readonly state: InstanceState;
  /** Bytes of the data directory's files. */
  readonly sizeBytes: number;
  /** Whether its logs can be synchronized (known once connected: null for one not protectable). */
  readonly logMode: LogMode | null;
  readonly protectable: boolean;
  /** Why it is not protectable, or what to know before protecting it; null when there is nothing to say. */
  readonly why: string | null;
}

/** A socket that looked like an instance's and is not one (or could not be checked), with the reason. */
export interface DiscoveryProblem {
  readonly path: string;
  readonly why: string;
}

export interface DiscoverAnswer {
  readonly kind: 'discover';
  readonly fileSystems: readonly DiscoveredFileSystem[];
  readonly instances: readonly DiscoveredInstance[];
  readonly problems: readonly DiscoveryProblem[];
}

/** The most of each list a discover answer may hold. */
export const MAX_DISCOVERED = 256;

export interface SlotStatusAnswer {
  readonly kind: 'slot-status';
  /** Bytes of WAL from the slot's restart point to the cluster's current position; null: there is no such slot. */
  readonly retainedBytes: number | null;
}

export type Answer = ListDirAnswer | AccountAnswer | DiscoverAnswer | ReleaseAnswer | SlotStatusAnswer;
export type AnswerTo<Q extends Question> = Extract<Answer, { kind: Q['kind'] }>;

export interface WireError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly transient: boolean;
}

export type AgentMessage =
  /** `kinds`: the data source kinds the agent can protect (absent: fs only, an agent that predates application kinds). */
  | { readonly t: 'hello'; readonly protocol: number; readonly version: string; readonly hostname: string; readonly kinds?: readonly SourceKindName[] }
  | { readonly t: 'request'; readonly req: number; readonly job: number; readonly body: AgentRequest }
  | { readonly t: 'progress'; readonly job: number; readonly progress: JobProgress }
  | { readonly t: 'log'; readonly job: number; readonly level: 'info' | 'warning' | 'error'; readonly message: string }
  | { readonly t: 'done'; readonly job: number; readonly result: Record<string, unknown> }
  | { readonly t: 'failed'; readonly job: number; readonly error: WireError }
  | { readonly t: 'journal-lost'; readonly source: string; readonly reason: string }
  /** Answered with a `reply`; a `recover` reply is preceded by the file's content as blob frames (raw bytes, in order). */
  | { readonly t: 'user-request'; readonly req: number; readonly user: LocalUser; readonly body: UserRequest }
  /** The answer to the server's `ask` of the same `req` (its own numbering, apart from the agent's requests). */
  | { readonly t: 'answer'; readonly req: number; readonly ok: true; readonly body: Answer }
  | { readonly t: 'answer'; readonly req: number; readonly ok: false; readonly error: WireError };

export type UserRequestMessage = Extract<AgentMessage, { t: 'user-request' }>;
export type AnswerMessage = Extract<AgentMessage, { t: 'answer' }>;

export type ServerMessage =
  | { readonly t: 'welcome'; readonly agent: string; readonly protocol: number }
  | { readonly t: 'job'; readonly job: JobSpec }
  | { readonly t: 'cancel'; readonly job: number }
  /** A question outside any job (browsing the computer's live file system); answered by `answer`. */
  | { readonly t: 'ask'; readonly req: number; readonly body: Question }
  | { readonly t: 'reply'; readonly req: number; readonly ok: true; readonly body: Record<string, unknown> }
  | { readonly t: 'reply'; readonly req: number; readonly ok: false; readonly error: WireError };

/** Bounds of agent text the server accepts (src/protocol/validate.ts checks them; the agent clips to them). */
export const MAX_LOG_CHARS = 2000;
export const MAX_ERROR_CHARS = 2000;
export const MAX_REASON_CHARS = 2000;

/** Cuts a line to `max` characters. */
export function clip(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, max - 1) + '…';
}

export const FRAME_CHUNK = 1;
export const FRAME_BLOB = 2;
const CHUNK_HEADER = 1 + 4 + 32 + 4;
const BLOB_HEADER = 1 + 4 + 4 + 4;

/** agent → server: one encoded chunk for a job. */
export function encodeChunkFrame(job: number, id: Uint8Array, rawLength: number, blob: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(CHUNK_HEADER + blob.length);
  b[0] = FRAME_CHUNK;
  b.writeUInt32BE(job, 1);
  b.set(id, 5);
  b.writeUInt32BE(rawLength, 37);
  b.set(blob, CHUNK_HEADER);
  return b;
}

export function decodeChunkFrame(b: Buffer): { job: number; id: Buffer; rawLength: number; blob: Buffer } {
  if (b.length < CHUNK_HEADER || b[0] !== FRAME_CHUNK) throw new CustosError('usage', 'malformed chunk frame');
  return { job: b.readUInt32BE(1), id: b.subarray(5, 37), rawLength: b.readUInt32BE(37), blob: b.subarray(CHUNK_HEADER) };
}

/** server → agent: blob `index` of the answer to request `req`. */
export function encodeBlobFrame(req: number, index: number, rawLength: number, blob: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(BLOB_HEADER + blob.length);
  b[0] = FRAME_BLOB;
  b.writeUInt32BE(req, 1);
  b.writeUInt32BE(index, 5);
  b.writeUInt32BE(rawLength, 9);
  b.set(blob, BLOB_HEADER);
  return b;
}

export function decodeBlobFrame(b: Buffer): { req: number; index: number; rawLength: number; blob: Buffer } {
  if (b.length < BLOB_HEADER || b[0] !== FRAME_BLOB) throw new CustosError('usage', 'malformed blob frame');
  return { req: b.readUInt32BE(1), index: b.readUInt32BE(5), rawLength: b.readUInt32BE(9), blob: b.subarray(BLOB_HEADER) };
}

/** Parses a text frame; throws `usage` on anything that is not a message object with a type. */
export function parseMessage<T extends { t: string }>(text: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CustosError('usage', 'malformed message: not JSON');
  }
  if (typeof value !== 'object' || value === null || typeof (value as { t?: unknown }).t !== 'string') {
    throw new CustosError('usage', 'malformed message: no type');
  }
  return value as T;
}

/** An error as sent on the wire (the message cut to the length the other end accepts). */
export function toWireError(err: unknown): WireError {
  if (err instanceof CustosError) return { code: err.code, message: clip(err.message, MAX_ERROR_CHARS), transient: err.transient };
  const code = (err as { code?: unknown })?.code;
  const transient = typeof code === 'string' && ['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EIO', 'EAGAIN', 'EBUSY'].includes(code);
  return { code: transient ? 'io' : 'internal', message: clip(err instanceof Error ? err.message : String(err), MAX_ERROR_CHARS), transient };
}

export function fromWireError(e: WireError): CustosError {
  return new CustosError(e.code, e.message, { transient: e.transient });
}
