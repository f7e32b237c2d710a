/**
 * `custos agent start`: the agent process. It dials the server (mutual TLS,
 * WebSocket), keeps that one connection open and reconnects with
 * exponential backoff and jitter when it drops, so it works behind NAT.
 * Jobs arrive on it; each runs until done, failed or cancelled, and its
 * outcome is reported on whatever connection is open at the end.
 */
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import WebSocket from 'ws';
import { CustosError, errorMessage } from '../../base/index.js';
import {
  AGENT_CONNECT_PATH,
  decodeBlobFrame,
  FRAME_BLOB,
  parseMessage,
  PROTOCOL_VERSION,
  toWireError,
  wireHostname,
  clip,
  MAX_REASON_CHARS,
  type AgentMessage,
  type AgentRequest,
  parseQuestion,
  type JobSpec,
  type Question,
  type Answer,
  type LocalUser,
  type ServerMessage,
  type UserRequest,
} from '../../protocol/index.js';
import { startUserSocket } from '../user/user-socket.js';
import { listDir } from '../browse/list-dir.js';
import { lookupAccount } from '../browse/account.js';
import { agentFiles, loadIdentity, type AgentIdentity } from './agent-files.js';
import { makePrivateDir, makePrivateFiles } from './private-files.js';
import { JobLink, type Wire } from './job-link.js';
import { runBackupJob, runRecoveryJob } from './jobs.js';
import { runExpressFullJob, runPostgresRecoveryJob } from './postgres-jobs.js';
import { clusterOnPort, socketDirsWith } from '../apps/postgres/find-clusters.js';
import { dropSlot, slotRetained } from '../apps/postgres/log-sync.js';
import { SourceJournals } from './source-journals.js';
import { discover } from '../apps/discover.js';

export const AGENT_VERSION = '0.1.0';
const SEND_HIGH_WATER = 8 * 1024 * 1024;
/** Server questions worked on at once, and waiting: a server asking more is told to wait. */
const QUESTIONS_AT_ONCE = 2;
const QUESTIONS_WAITING = 16;

export interface AgentRuntimeOptions {
  readonly dataDir: string;
  readonly log?: (line: string) => void;
  readonly workers?: number;
  /** Keep change journals of fs data sources (default true); without, every synchronization is a metadata scan. */
  readonly journals?: boolean;
  /** The longest time between two metadata scans of a tree, each verifying its journal (default 24 h)... */
  readonly journalScanEveryMs?: number;
  /** ...and the most synchronizations guided by the journal between two (default: no limit). */
  readonly journalScanEverySyncs?: number;
  /** Where local users reach the agent (custos my); null: nowhere. Absent: not served. */
  readonly userSocket?: string | null;
  /** Where to look for PostgreSQL sockets beyond /var/run/postgresql and /tmp (discovery). */
  readonly pgSocketDirs?: readonly string[];
}

interface Pending {
  resolve(b: Record<string, unknown>): void;
  reject(e: unknown): void;
  onBlob?: ((index: number, rawLength: number, blob: Buffer) => void) | undefined;
}

export class AgentRuntime implements Wire {
  private ws: WebSocket | null = null;
  private nextReq = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly jobs = new Map<number, JobLink>();
  /** Each job's run, until it has ended (a job sent again after a reconnection waits for its earlier run to stop). */
  private readonly runs = new Map<number, Promise<void>>();
  /** Counts connections: a job's outcome is sent only on the connection the job came on. */
  private connection = 0;
  private stopped = false;
  private backoffMs = 500;
  private timer: NodeJS.Timeout | null = null;
  private connectedOnce: (() => void) | null = null;
  private readonly journals: SourceJournals | null;
  /** Journal losses found while not connected, by directory: sent after the next hello. */
  private readonly pendingLosses = new Map<string, AgentMessage>();
  /** Journals of known sources being started (jobs wait for it, so a restart's catch-up is not raced). */
  private journalsStarted: Promise<void> = Promise.resolve();
  private userSocket: { close(): Promise<void> } | null = null;
  /** Questions being answered, and the ones waiting for a turn. */
  private questionsRunning = 0;
  private readonly questionsWaiting: Array<() => void> = [];
  private removedBy: ((why: string) => void) | null = null;
  /** Resolves with why when the server refuses this agent for good (it was removed): the agent should stop. */
  readonly removed: Promise<string> = new Promise((resolve) => {
    this.removedBy = resolve;
  });
  readonly ready: Promise<void>;

  private constructor(private readonly id: AgentIdentity, private readonly options: AgentRuntimeOptions) {
    this.ready = new Promise((r) => (this.connectedOnce = r));
    this.journals = options.journals === false ? null : new SourceJournals(options.dataDir, (m) => this.log(m, 'warning'), { ms: options.journalScanEveryMs ?? null, syncs: options.journalScanEverySyncs ?? null }, (path, reason) => {
      this.log(`${path}: ${reason}`, 'warning');
      // Told once connected when offline (a loss found at start): the server marks the replica inconsistent.
      const m: AgentMessage = { t: 'journal-lost', source: `${this.id.name}:fs:${path}`, reason: clip(reason, MAX_REASON_CHARS) };
      if (this.ws?.readyState === WebSocket.OPEN) this.send(m); // open means the hello went out
      else this.pendingLosses.set(path, m);
    });
  }

  static async start(options: AgentRuntimeOptions): Promise<AgentRuntime> {
    const rt = new AgentRuntime(await loadIdentity(options.dataDir), options);
    // The directory holds the agent's private key: owner only, also when it was loosened after attach.
    const warn = (m: string) => rt.log(m, 'warning');
    await makePrivateDir(options.dataDir, warn);
    await makePrivateFiles([agentFiles(options.dataDir).key], warn);
    if (rt.journals) rt.journalsStarted = rt.journals.startKnown().catch((err) => rt.log(`change journals: ${errorMessage(err)}`, 'warning'));
    rt.connect();
    if (options.userSocket) {
      rt.userSocket = await startUserSocket(options.userSocket, rt, (m, level) => rt.log(m, level)).catch((err) => {
        rt.log(`user socket ${options.userSocket}: ${errorMessage(err)}; custos my is not available`, 'warning');
        return null;
      });
    }
    return rt;
  }

  get name(): string {
    return this.id.name;
  }

  private log(message: string, level = 'info'): void {
    const line = JSON.stringify({ time: new Date().toISOString(), level, agent: this.id.name, msg: message });
    (this.options.log ?? ((l) => process.stdout.write(l + '\n')))(line);
  }

  private connect(): void {
    if (this.stopped) return;
    const url = new URL(AGENT_CONNECT_PATH, this.id.server.replace(/^http/, 'ws'));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const ws = new WebSocket(url, {
      key: this.id.keyPem,
      cert: this.id.certPem,
      ca: this.id.caPem,
      rejectUnauthorized: true,
      ...(isIP(host) ? { servername: '' } : {}),
      maxPayload: 64 * 1024 * 1024,
      handshakeTimeout: 30_000,
      // A zero masking key: both ends then skip the masking pass over every byte (docs/design/agent-protocol.md).
      generateMask: (mask: Buffer) => mask.fill(0),
    });
    this.ws = ws;
    this.connection++;
    ws.on('open', () => {
      this.backoffMs = 500;
      this.send({ t: 'hello', protocol: PROTOCOL_VERSION, version: AGENT_VERSION, hostname: wireHostname(hostname()), kinds: ['fs', 'postgres'] });
      for (const m of this.pendingLosses.values()) this.send(m);
      this.pendingLosses.clear();
      this.log(`connected to ${this.id.server}`);
      this.connectedOnce?.();
    });
    ws.on('unexpected-response', (_req, res) => {
      this.log(`the server refused the connection (${res.statusCode}): ${res.statusCode === 403 ? 'this agent has been removed; attach it again' : 'check the certificate'}`, 'error');
      if (res.statusCode === 403) {
        this.stopped = true;
        this.removedBy?.('this agent has been removed from the protection server; attach it again');
      }
      ws.terminate();
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onMessage(data, isBinary));
    ws.on('error', (err) => this.log(`connection error: ${err.message}`, 'warning'));
    ws.on('close', (code: number, reason: Buffer) => {
      if (this.ws === ws) this.ws = null;
      // The server says why it closed (4002: this agent's protocol is not the server's).
      if (code >= 4000) this.log(`the server closed the connection: ${reason.toString('utf8') || code}`, code === 4002 ? 'error' : 'warning');
      for (const p of this.pending.values()) p.reject(new CustosError('io', 'connection to the server lost', { transient: true }));
      this.pending.clear();
      // Jobs cannot finish without the server: they stop; the server retries them.
      for (const link of this.jobs.values()) link.cancel('connection to the server lost');
      if (this.stopped) return;
      const delay = Math.min(this.backoffMs, 30_000) * (0.75 + Math.random() * 0.5);
      this.backoffMs = Math.min(this.backoffMs * 2, 30_000);
      this.timer = setTimeout(() => this.connect(), delay);
    });
  }

  send(m: AgentMessage): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(m));
  }

  async sendBinary(b: Buffer): Promise<void> {
    for (;;) {
      const ws = this.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) throw new CustosError('io', 'connection to the server lost', { transient: true });
      if (ws.bufferedAmount <= SEND_HIGH_WATER) {
        ws.send(b);
        return;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  request(job: number, body: AgentRequest, onBlob?: Pending['onBlob']): Promise<Record<string, unknown>> {
    return this.ask((req) => ({ t: 'request', req, job, body }), onBlob, () => new CustosError('io', 'connection to the server lost', { transient: true }));
  }

  /** A local user's request (end-user recovery), forwarded with who they are; blobs of the answer go to onBlob. */
  userRequest(user: LocalUser, body: UserRequest, onBlob?: Pending['onBlob']): Promise<Record<string, unknown>> {
    return this.ask((req) => ({ t: 'user-request', req, user, body }), onBlob, () => new CustosError('unreachable', 'this computer\'s agent is not connected to its server; try again later', { transient: true }));
  }

  /** Sends a message with a new request number; its answer (and blobs) come back through `pending`. */
  private ask(message: (req: number) => AgentMessage, onBlob: Pending['onBlob'], notConnected: () => CustosError): Promise<Record<string, unknown>> {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.reject(notConnected());
    const req = this.nextReq++;
    return new Promise((resolve, reject) => {
      this.pending.set(req, { resolve, reject, onBlob });
      ws.send(JSON.stringify(message(req)));
    });
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      if (data[0] !== FRAME_BLOB) return;
      const f = decodeBlobFrame(data);
      this.pending.get(f.req)?.onBlob?.(f.index, f.rawLength, f.blob);
      return;
    }
    let m: ServerMessage;
    try {
      m = parseMessage<ServerMessage>(data.toString('utf8'));
    } catch (err) {
      return this.log(`bad message from server: ${errorMessage(err)}`, 'warning');
    }
    if (m.t === 'reply') {
      const p = this.pending.get(m.req);
      if (!p) return;
      this.pending.delete(m.req);
      if (m.ok) p.resolve(m.body);
      else p.reject(new CustosError(m.error.code, m.error.message, { transient: m.error.transient }));
    } else if (m.t === 'job') {
      void this.runJob(m.job);
    } else if (m.t === 'cancel') {
      this.jobs.get(m.job)?.cancel('cancelled by the server');
    } else if (m.t === 'ask') {
      void this.answer(m);
    }
  }

  /**
   * Answers a question of the server's (outside any job), on the connection
   * it came on. The question is checked as strictly as the server checks
   * answers; a few are worked on at once, a few more wait, the rest are
   * told to ask again.
   */
  private async answer(m: { req?: unknown; body?: unknown }): Promise<void> {
    const req = m.req;
    if (typeof req !== 'number' || !Number.isInteger(req) || req < 0 || req > 0xffff_ffff) return this.log('a question from the server without a valid number ignored', 'warning');
    const connection = this.connection;
    const reply = (out: AgentMessage) => {
      if (this.connection === connection) this.send(out);
    };
    if (this.questionsRunning >= QUESTIONS_AT_ONCE && this.questionsWaiting.length >= QUESTIONS_WAITING) {
      return reply({ t: 'answer', req, ok: false, error: { code: 'io', message: 'the agent is answering too many questions; try again', transient: true } });
    }
    // A question that waits gets the turn of the one that ends (the count stays).
    if (this.questionsRunning >= QUESTIONS_AT_ONCE) await new Promise<void>((r) => this.questionsWaiting.push(r));
    else this.questionsRunning++;
    try {
      const q = parseQuestion(m.body);
      reply({ t: 'answer', req, ok: true, body: await this.answerOf(q) });
    } catch (err) {
      reply({ t: 'answer', req, ok: false, error: toWireError(err) });
    } finally {
      const next = this.questionsWaiting.shift();
      if (next) next();
      else this.questionsRunning--;
    }
  }

  /** Drops a PostgreSQL data source's replication slot: it left protection, nothing will read that WAL any more. */
  private async release(port: number, slot: string): Promise<Answer> {
    const cluster = await clusterOnPort(port, { socketDirs: socketDirsWith(this.options.pgSocketDirs) });
    const dropped = await dropSlot(cluster.target, slot);
    this.log(`replication slot ${slot} of the cluster on port ${port} ${dropped ? 'dropped' : 'was not there'}: its data source left protection`);
    return { kind: 'release', dropped };
  }

  /** How much WAL a PostgreSQL data source's replication slot holds on its cluster (the server's lag watch). */
  private async slotStatus(port: number, slot: string): Promise<Answer> {
    const cluster = await clusterOnPort(port, { socketDirs: socketDirsWith(this.options.pgSocketDirs) });
    return { kind: 'slot-status', retainedBytes: await slotRetained(cluster.target, slot) };
  }

  private answerOf(q: Question): Promise<Answer> {
    if (q.kind === 'account') return lookupAccount(q.name);
    if (q.kind === 'discover') return discover({ pgSocketDirs: this.options.pgSocketDirs ?? [] });
    if (q.kind === 'release') return this.release(q.port, q.slot);
    if (q.kind === 'slot-status') return this.slotStatus(q.port, q.slot);
    return listDir(q.path, { limit: q.limit, after: q.after });
  }

  /**
   * Runs a job the server sent. The same job sent again on a later
   * connection (the server retries what a lost connection interrupted: its
   * restart, or the network) waits for the earlier run, whose link was
   * cancelled, to stop; that run's outcome is not sent, since the server no
   * longer waits for it.
   */
  private async runJob(spec: JobSpec): Promise<void> {
    const earlier = this.runs.get(spec.id);
    if (earlier) {
      if (this.jobs.get(spec.id)?.connection === this.connection) return; // sent twice on one connection
      await earlier;
      if (this.runs.has(spec.id)) return; // a third copy got there first
    }
    const run = this.runJobNow(spec);
    this.runs.set(spec.id, run);
    try {
      await run;
    } finally {
      this.runs.delete(spec.id);
    }
  }

  /** Runs one job by its kind and its data source's kind. */
  private async runSpec(spec: JobSpec, link: JobLink): Promise<Record<string, unknown>> {
    const workers = this.options.workers;
    if (spec.source.kind === 'postgres') {
      const hooks = { ...(workers === undefined ? {} : { workers }), pgSocketDirs: this.options.pgSocketDirs ?? [] };
      return spec.kind === 'recovery' ? runPostgresRecoveryJob(spec, link, hooks) : runExpressFullJob(spec, link, hooks);
    }
    if (spec.source.kind !== undefined && spec.source.kind !== 'fs') throw new CustosError('usage', `this agent does not know data sources of kind ${String(spec.source.kind).slice(0, 40)}`);
    if (spec.kind === 'recovery') return runRecoveryJob(spec, link, { workers });
    await this.journalsStarted;
    return runBackupJob(spec, link, { workers, ...(this.journals ? { journals: this.journals } : {}) });
  }

  private async runJobNow(spec: JobSpec): Promise<void> {
    const link = new JobLink(spec.id, this, this.connection);
    this.jobs.set(spec.id, link);
    this.log(`job ${spec.id}: ${spec.kind} of ${spec.source.id}`);
    let outcome: AgentMessage;
    try {
      const result = await this.runSpec(spec, link);
      outcome = { t: 'done', job: spec.id, result };
    } catch (err) {
      const e = link.cancelled && !(err instanceof CustosError && err.code !== 'cancelled')
        ? { code: 'cancelled' as const, message: 'cancelled', transient: false }
        : toWireError(err);
      outcome = { t: 'failed', job: spec.id, error: e };
    } finally {
      this.jobs.delete(spec.id);
    }
    if (link.connection !== this.connection) {
      this.log(`job ${spec.id}: stopped: the connection it came on was lost (the server retries it)`, 'warning');
      return;
    }
    this.send(outcome);
    this.log(outcome.t === 'done' ? `job ${spec.id}: done` : `job ${spec.id}: failed: ${outcome.error.message}`, outcome.t === 'done' ? 'info' : 'warning');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const link of this.jobs.values()) link.cancel('the agent is stopping');
    this.ws?.close(1001, 'agent stopping');
    await this.userSocket?.close();
    await this.journals?.stopAll();
  }
}
