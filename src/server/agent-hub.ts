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
  decodeChunkFrame,
  FRAME_CHUNK,
  parseMessage,
  toWireError,
  type AgentMessage,
  type AgentRequest,
  type JobProgress,
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

const SEND_HIGH_WATER = 16 * 1024 * 1024;

export class AgentSession {
  readonly jobs = new Map<number, JobChannel>();
  private closed = false;

  constructor(
    readonly name: string,
    private readonly ws: WebSocket,
    private readonly onProtocolError: (message: string) => void,
  ) {}

  get isOpen(): boolean {
    return !this.closed;
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

  /** Called by the hub when the socket closed. */
  markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    for (const ch of [...this.jobs.values()]) ch.disconnected();
    this.jobs.clear();
  }

  handle(data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      if (data[0] !== FRAME_CHUNK) return this.onProtocolError('unexpected binary frame');
      let frame;
      try {
        frame = decodeChunkFrame(data);
      } catch (err) {
        return this.onProtocolError(errorMessage(err));
      }
      const ch = this.jobs.get(frame.job);
      if (!ch) return; // a chunk of a job that ended (cancelled): dropped
      try {
        ch.chunk(frame.id, frame.rawLength, frame.blob);
      } catch (err) {
        ch.failed(toWireError(err));
      }
      return;
    }
    let m: AgentMessage;
    try {
      m = parseMessage<AgentMessage>(data.toString('utf8'));
    } catch (err) {
      return this.onProtocolError(errorMessage(err));
    }
    if (m.t === 'hello' || m.t === 'journal-lost') return; // handled by the hub's listener
    const ch = typeof m.job === 'number' ? this.jobs.get(m.job) : undefined;
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
    else if (m.t === 'log') ch.log(m.level, String(m.message));
    else if (m.t === 'done') ch.done(m.result ?? {});
    else if (m.t === 'failed') ch.failed(m.error);
  }
}

export class AgentHub {
  readonly sessions = new Map<string, AgentSession>();
  constructor(private readonly listeners: { connected(name: string, hello: Extract<AgentMessage, { t: 'hello' }> | null): void; disconnected(name: string): void; journalLost(name: string, source: string, reason: string): void }) {}

  connected(): Set<string> {
    return new Set(this.sessions.keys());
  }

  get(name: string): AgentSession | undefined {
    return this.sessions.get(name);
  }

  attach(name: string, ws: WebSocket, log: (m: string) => void): AgentSession {
    this.sessions.get(name)?.close(4000, 'replaced by a newer connection');
    const session = new AgentSession(name, ws, (message) => {
      log(`agent ${name}: protocol error: ${message}`);
      ws.close(1002, 'protocol error');
    });
    this.sessions.set(name, session);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        try {
          const m = parseMessage<AgentMessage>(data.toString('utf8'));
          if (m.t === 'hello') this.listeners.connected(name, m);
          else if (m.t === 'journal-lost') this.listeners.journalLost(name, String(m.source), String(m.reason));
        } catch {
          // reported by the session
        }
      }
      session.handle(data, isBinary);
    });
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

  disconnect(name: string, reason: string): void {
    this.sessions.get(name)?.close(4003, reason);
  }
}
