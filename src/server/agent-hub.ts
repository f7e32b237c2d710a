/**
 * Connected agents. Each agent keeps one WebSocket to the server (opened by
 * the agent over mutual TLS); the hub maps agent names to sessions and a
 * session routes the agent's messages to the job they belong to. A job
 * channel only ever sees messages for its own job id on its own agent's
 * connection, which is what keeps one agent out of another's jobs.
 */
import type { WebSocket } from 'ws';
import { CustosError, errorMessage } from '../base/index.js';
import {
  cursorName,
  decodeChunkFrame,
  fromWireError,
  nameBytes,
  FRAME_CHUNK,
  parseAgentMessage,
  PROTOCOL_VERSION,
  toWireError,
  type AgentMessage,
  type AgentRequest,
  type Answer,
  type AnswerMessage,
  type AnswerTo,
  type Question,
  type JobProgress,
  type RefusedMessage,
  type UserRequestMessage,
  type ServerMessage,
  type WireError,
} from '../protocol/index.js';

/** The server side of one job running on an agent. */
export interface JobChannel {
  /** Answers a request of the agent's; a thrown error is sent back as the reply. */
  request(body: AgentRequest, session: AgentSession, req: number): Promise<Record<string, unknown>>;
  /** An encoded chunk for this job (synchronous: frames are taken in arrival order). */
  chunk(id: Buffer, rawLength: number, blob: Buffer): void;
  progress(p: JobProgress): void;
  log(level: 'info' | 'warning' | 'error', message: string): void;
  done(result: Record<string, unknown>): void;
  failed(error: WireError): void;
  /** The connection closed while the job ran. */
  disconnected(): void;
}

export type Hello = Extract<AgentMessage, { t: 'hello' }>;

/** What a session tells the hub. */
export interface SessionEvents {
  /** A valid hello of the right protocol: the session may now run jobs. */
  hello(m: Hello): void;
  journalLost(source: string, reason: string): void;
  /** A warning for the server log (already rate-limited per session). */
  warn(message: string): void;
  /** A local user's request (end-user recovery); the answer, or the error, goes back as the reply. */
  userRequest(m: UserRequestMessage, session: AgentSession): Promise<Record<string, unknown>>;
}

const SEND_HIGH_WATER = 16 * 1024 * 1024;
/** Job ids a session remembers after they end (a chunk still in flight for one is dropped, not refused). */
const ENDED_JOBS_KEPT = 256;
/** Warnings per session and minute; more are counted and reported with the next one allowed. */
const WARNINGS_PER_MINUTE = 10;

/** Questions to one agent waiting for their answers at once; more are refused until some are answered. */
export const MAX_PENDING_ASKS = 8;
/** Question numbers remembered after they were answered or timed out (an answer to one is "late" or "twice", not "never asked"). */
const CLOSED_ASKS_KEPT = 256;

interface PendingAsk {
  readonly question: Question;
  resolve(a: Answer): void;
  reject(e: CustosError): void;
  readonly timer: NodeJS.Timeout;
}

/** At most `limit` lines a minute; the count of the ones left out goes with the next. */
export class RateLimitedLog {
  private windowStart = 0;
  private inWindow = 0;
  private suppressed = 0;

  constructor(private readonly write: (line: string) => void, private readonly limit = WARNINGS_PER_MINUTE, private readonly now: () => number = Date.now) {}

  log(line: string): void {
    const t = this.now();
    if (t - this.windowStart >= 60_000) {
      this.windowStart = t;
      this.inWindow = 0;
    }
    if (this.inWindow >= this.limit) {
      this.suppressed++;
      return;
    }
    this.inWindow++;
    const more = this.suppressed > 0 ? ` (${this.suppressed} more left out)` : '';
    this.suppressed = 0;
    this.write(line + more);
  }
}

export class AgentSession {
  readonly jobs = new Map<number, JobChannel>();
  private readonly ended: number[] = [];
  private closed = false;
  private helloDone = false;
  /** The data source kinds the agent said it protects (hello). */
  kinds: ReadonlySet<string> = new Set(['fs']);
  private readonly warnings: RateLimitedLog;
  private nextAsk = 1;
  private readonly asks = new Map<number, PendingAsk>();
  private readonly closedAsks: Array<{ req: number; why: 'answered' | 'timed out' }> = [];

  constructor(
    readonly name: string,
    private readonly ws: WebSocket,
    private readonly events: SessionEvents,
  ) {
    this.warnings = new RateLimitedLog((m) => events.warn(`agent ${name}: ${m}`));
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Open and past a valid hello of this server's protocol: jobs may be sent. */
  get ready(): boolean {
    return this.helloDone && !this.closed;
  }

  send(m: ServerMessage): void {
    if (!this.closed) this.ws.send(JSON.stringify(m));
  }

  /** Sends a binary frame, waiting while the socket's buffer is full. */
  async sendBinary(b: Buffer): Promise<void> {
    while (!this.closed && this.ws.bufferedAmount > SEND_HIGH_WATER) await new Promise((r) => setTimeout(r, 5));
    if (this.closed) throw new CustosError('io', `agent ${this.name} disconnected`, { transient: true });
    this.ws.send(b);
  }

  close(code: number, reason: string): void {
    if (!this.closed) this.ws.close(code, reason);
  }

  /** Registers a job sent to this agent. */
  addJob(id: number, channel: JobChannel): void {
    this.jobs.set(id, channel);
  }

  /** Forgets a job (it ended); frames still in flight for it are dropped quietly. */
  removeJob(id: number): void {
    if (!this.jobs.delete(id)) return;
    this.ended.push(id);
    if (this.ended.length > ENDED_JOBS_KEPT) this.ended.shift();
  }

  /**
   * Asks the agent a question outside any job and waits at most `timeoutMs`
   * for the answer. An agent that predates questions ignores them: the
   * timeout's error says so. The answer is checked against the question
   * (kind, path, page size, order after the cursor) on top of the
   * validator's checks of every agent message.
   */
  ask<Q extends Question>(question: Q, timeoutMs: number): Promise<AnswerTo<Q>> {
    if (!this.ready) return Promise.reject(new CustosError('unreachable', `agent ${this.name} is not connected`, { transient: true }));
    if (this.asks.size >= MAX_PENDING_ASKS) {
      return Promise.reject(new CustosError('io', `agent ${this.name} is still answering ${this.asks.size} other questions; try again in a moment`, { transient: true }));
    }
    const req = this.nextAsk;
    this.nextAsk = this.nextAsk >= 0xffff_ffff ? 1 : this.nextAsk + 1;
    return new Promise<AnswerTo<Q>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.closeAsk(req, 'timed out');
        reject(new CustosError('unreachable', `agent ${this.name} did not answer within ${timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`}: it may be busy, or older than this server and unable to browse its computer (update the agent), so type the path instead`, { transient: true }));
      }, timeoutMs);
      this.asks.set(req, { question, resolve: resolve as (a: Answer) => void, reject, timer });
      this.send({ t: 'ask', req, body: question });
    });
  }

  private closeAsk(req: number, why: 'answered' | 'timed out'): PendingAsk | undefined {
    const p = this.asks.get(req);
    if (!p) return undefined;
    clearTimeout(p.timer);
    this.asks.delete(req);
    this.closedAsks.push({ req, why });
    if (this.closedAsks.length > CLOSED_ASKS_KEPT) this.closedAsks.shift();
    return p;
  }

  private onAnswer(m: AnswerMessage): void {
    const p = this.closeAsk(m.req, 'answered');
    if (!p) {
      const earlier = this.closedAsks.find((c) => c.req === m.req);
      const why = earlier?.why === 'timed out' ? 'came after its question timed out' : earlier ? 'answers a question answered already' : 'answers no question asked';
      return this.warnings.log(`answer ${m.req} ignored: it ${why}`);
    }
    if (!m.ok) {
      // The agent's own error (no such directory, permission denied …), said as its.
      const e = fromWireError(m.error);
      return p.reject(new CustosError(e.code, `agent ${this.name}: ${e.message}`, { transient: e.transient }));
    }
    const mismatch = answerMismatch(p.question, m.body);
    if (mismatch !== null) {
      this.warnings.log(`answer ${m.req} refused: ${mismatch}`);
      return p.reject(new CustosError('io', `agent ${this.name} sent an answer the server refuses (${mismatch})`));
    }
    p.resolve(m.body);
  }

  /** Called by the hub when the socket closed. */
  markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    for (const req of [...this.asks.keys()]) {
      this.closeAsk(req, 'timed out')?.reject(new CustosError('unreachable', `agent ${this.name} disconnected before it answered`, { transient: true }));
    }
    for (const ch of [...this.jobs.values()]) ch.disconnected();
    this.jobs.clear();
  }

  handle(data: Buffer, isBinary: boolean): void {
    try {
      if (isBinary) this.handleBinary(data);
      else this.handleText(data);
    } catch (err) {
      // Nothing an agent sends may stop the server: whatever slipped through is refused here.
      this.warnings.log(`message refused: ${errorMessage(err)}`);
    }
  }

  private handleBinary(data: Buffer): void {
    if (!this.helloDone) return this.warnings.log('binary frame before hello refused');
    if (data.length === 0 || data[0] !== FRAME_CHUNK) return this.warnings.log('unexpected binary frame refused');
    let frame;
    try {
      frame = decodeChunkFrame(data);
    } catch (err) {
      return this.warnings.log(errorMessage(err));
    }
    const ch = this.jobs.get(frame.job);
    if (!ch) {
      // A chunk of a job that just ended (cancelled) is dropped; one for a job never sent here is refused.
      if (!this.ended.includes(frame.job)) this.warnings.log(`chunk frame for job ${frame.job}, which is not a job of this agent, refused`);
      return;
    }
    try {
      ch.chunk(frame.id, frame.rawLength, frame.blob);
    } catch (err) {
      ch.failed(toWireError(err));
    }
  }

  private handleText(data: Buffer): void {
    const parsed = parseAgentMessage(data);
    if (!parsed.ok) return this.refuse(parsed.refused);
    const m = parsed.message;
    if (m.t === 'hello') return this.onHello(m);
    if (!this.helloDone) {
      this.warnings.log(`${m.t} before hello refused`);
      if (m.t === 'request' || m.t === 'user-request') this.send({ t: 'reply', req: m.req, ok: false, error: { code: 'usage', message: 'no valid hello yet', transient: false } });
      return;
    }
    if (m.t === 'journal-lost') return this.events.journalLost(m.source, m.reason);
    if (m.t === 'answer') return this.onAnswer(m);
    if (m.t === 'user-request') {
      this.events.userRequest(m, this).then(
        (body) => this.send({ t: 'reply', req: m.req, ok: true, body }),
        (err: unknown) => this.send({ t: 'reply', req: m.req, ok: false, error: toWireError(err) }),
      );
      return;
    }
    const ch = this.jobs.get(m.job);
    if (m.t === 'request') {
      if (!ch) {
        this.send({ t: 'reply', req: m.req, ok: false, error: { code: 'not-found', message: `job ${m.job} is not running on this agent`, transient: false } });
        return;
      }
      ch.request(m.body, this, m.req).then(
        (body) => this.send({ t: 'reply', req: m.req, ok: true, body }),
        (err: unknown) => this.send({ t: 'reply', req: m.req, ok: false, error: toWireError(err) }),
      );
      return;
    }
    if (!ch) return;
    if (m.t === 'progress') ch.progress(m.progress);
    else if (m.t === 'log') ch.log(m.level, m.message);
    else if (m.t === 'done') ch.done(m.result);
    else if (m.t === 'failed') ch.failed(m.error);
  }

  private onHello(m: Hello): void {
    if (this.helloDone) return this.warnings.log('second hello refused');
    if (m.protocol !== PROTOCOL_VERSION) {
      const why = `agent protocol ${m.protocol} is not supported: this server speaks protocol ${PROTOCOL_VERSION}; upgrade the agent (${m.version}) to this server's version`;
      this.events.warn(`agent ${this.name}: ${why}`);
      this.close(4002, why.slice(0, 120));
      return;
    }
    this.helloDone = true;
    this.kinds = new Set(['fs', ...(m.kinds ?? [])]);
    this.events.hello(m);
  }

  /** An invalid message: logged; a request it names is answered, a job of this agent it names fails. */
  private refuse(r: RefusedMessage): void {
    this.warnings.log(r.error.message);
    if (!this.helloDone) return;
    if (r.answer) {
      // The question waiting for it fails now, with the reason, instead of at its timeout.
      const p = r.req !== null ? this.closeAsk(r.req, 'answered') : undefined;
      p?.reject(new CustosError('io', `agent ${this.name} sent an answer the server refuses (${r.error.message})`));
      return;
    }
    const ch = r.job !== null ? this.jobs.get(r.job) : undefined;
    if (r.req !== null && (r.job !== null || r.userRequest)) {
      this.send({ t: 'reply', req: r.req, ok: false, error: { code: 'usage', message: r.error.message, transient: false } });
    }
    ch?.failed({ code: 'usage', message: `the agent sent a message the server refuses (${r.error.message})`, transient: false });
  }
}

/** Why an answer that passed the validator still does not answer its question, or null. */
export function answerMismatch(q: Question, a: Answer): string | null {
  if (a.kind !== q.kind) return `a ${a.kind} answer to a ${q.kind} question`;
  if (q.kind === 'account' || a.kind === 'account') return a.kind === 'account' && q.kind === 'account' && a.name === q.name ? null : 'the answer is about another account';
  if (q.kind !== 'list-dir' || a.kind !== 'list-dir') return null; // same kind: checked above
  if (a.path !== q.path) return 'the listing is of another directory';
  if (a.entries.length > q.limit) return `${a.entries.length} entries, more than the ${q.limit} asked for`;
  const after = q.after === undefined ? null : cursorName(q.after);
  const first = a.entries[0];
  if (after && first && Buffer.compare(nameBytes(first), after) <= 0) return 'the page does not start after the cursor';
  return null;
}

export interface HubListeners {
  connected(name: string, hello: Hello): void;
  disconnected(name: string): void;
  journalLost(name: string, source: string, reason: string): void;
  /** End-user recovery on agent `name`'s computer; absent: refused (the server does not offer it). */
  userRequest?(name: string, m: UserRequestMessage, session: AgentSession): Promise<Record<string, unknown>>;
}

export class AgentHub {
  readonly sessions = new Map<string, AgentSession>();
  constructor(private readonly listeners: HubListeners) {}

  /** Agents connected and past their hello (the ones jobs can go to). */
  connected(): Set<string> {
    return new Set([...this.sessions].filter(([, s]) => s.ready).map(([name]) => name));
  }

  get(name: string): AgentSession | undefined {
    const s = this.sessions.get(name);
    return s?.ready ? s : undefined;
  }

  attach(name: string, ws: WebSocket, log: (m: string) => void): AgentSession {
    this.sessions.get(name)?.close(4000, 'replaced by a newer connection');
    const session = new AgentSession(name, ws, {
      hello: (m) => this.listeners.connected(name, m),
      journalLost: (source, reason) => this.listeners.journalLost(name, source, reason),
      userRequest: (m, s) => this.listeners.userRequest
        ? this.listeners.userRequest(name, m, s)
        : Promise.reject(new CustosError('denied', 'this server does not offer end-user recovery')),
      warn: log,
    });
    this.sessions.set(name, session);
    ws.on('message', (data: Buffer, isBinary: boolean) => session.handle(data, isBinary));
    ws.on('close', () => {
      session.markClosed();
      if (this.sessions.get(name) === session) {
        this.sessions.delete(name);
        this.listeners.disconnected(name);
      }
    });
    ws.on('error', () => ws.terminate());
    return session;
  }

  /** Asks agent `name` a question (AgentSession.ask); `unreachable` when it is not connected. */
  ask<Q extends Question>(name: string, question: Q, timeoutMs: number): Promise<AnswerTo<Q>> {
    const s = this.get(name);
    if (!s) return Promise.reject(new CustosError('unreachable', `agent ${name} is not connected`, { transient: true }));
    return s.ask(question, timeoutMs);
  }

  disconnect(name: string, reason: string): void {
    this.sessions.get(name)?.close(4003, reason);
  }
}
