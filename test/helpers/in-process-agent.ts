/**
 * A protection agent inside the test's own process: the agent's real job
 * code (runBackupJob, runRecoveryJob on real directories) joined to a
 * server's AgentHub through an in-memory socket, so job engine tests run real
 * jobs under a fake clock, without TLS, ports or processes. Every message
 * crosses as the bytes the WebSocket would carry, one event-loop turn later,
 * and goes through the server's own parsers.
 */
import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { CustosError } from '../../src/base/index.js';
import { JobLink, type Wire } from '../../src/agent/remote/job-link.js';
import { runBackupJob, runRecoveryJob } from '../../src/agent/remote/jobs.js';
import {
  decodeBlobFrame,
  FRAME_BLOB,
  parseMessage,
  PROTOCOL_VERSION,
  toWireError,
  type AgentMessage,
  type AgentRequest,
  type JobSpec,
  type ServerMessage,
} from '../../src/protocol/index.js';
import type { AgentHub } from '../../src/server/agent-hub.js';

type BlobSink = (index: number, rawLength: number, blob: Buffer) => void;

/** The server's end of the in-memory connection: what AgentHub.attach takes for a WebSocket. */
class ServerEnd extends EventEmitter {
  bufferedAmount = 0;
  constructor(private readonly toAgent: (data: string | Buffer) => void) {
    super();
  }
  send(data: string | Buffer): void {
    this.toAgent(data);
  }
  close(): void {
    this.emit('close');
  }
  terminate(): void {
    this.emit('close');
  }
}

export class InProcessAgent implements Wire {
  private socket: ServerEnd | null = null;
  private nextReq = 1;
  private readonly pending = new Map<number, { resolve(b: Record<string, unknown>): void; reject(e: unknown): void; onBlob: BlobSink | undefined }>();
  /** Ids of the jobs the server sent, in order. */
  readonly jobsReceived: number[] = [];

  constructor(readonly name: string) {}

  /** Connects to `hub` and says hello; resolves once the hub counts the agent connected. */
  async connect(hub: AgentHub): Promise<void> {
    const socket = new ServerEnd((data) => setImmediate(() => this.fromServer(data)));
    this.socket = socket;
    hub.attach(this.name, socket as unknown as WebSocket, () => undefined);
    this.send({ t: 'hello', protocol: PROTOCOL_VERSION, version: 'test', hostname: this.name });
    while (!hub.connected().has(this.name)) await new Promise((r) => setImmediate(r));
  }

  /** The connection drops (a laptop leaves): requests in flight fail, the server's running jobs are told. */
  disconnect(): void {
    const socket = this.socket;
    this.socket = null;
    for (const p of this.pending.values()) p.reject(new CustosError('io', 'connection to the server lost', { transient: true }));
    this.pending.clear();
    socket?.emit('close');
  }

  send(m: AgentMessage): void {
    this.toServer(Buffer.from(JSON.stringify(m)), false);
  }

  async sendBinary(b: Buffer): Promise<void> {
    if (!this.socket) throw new CustosError('io', 'connection to the server lost', { transient: true });
    this.toServer(b, true);
  }

  request(job: number, body: AgentRequest, onBlob?: BlobSink): Promise<Record<string, unknown>> {
    if (!this.socket) return Promise.reject(new CustosError('io', 'connection to the server lost', { transient: true }));
    const req = this.nextReq++;
    return new Promise((resolve, reject) => {
      this.pending.set(req, { resolve, reject, onBlob });
      this.send({ t: 'request', req, job, body });
    });
  }

  private toServer(data: Buffer, isBinary: boolean): void {
    const socket = this.socket;
    if (socket) setImmediate(() => socket.emit('message', data, isBinary));
  }

  private fromServer(data: string | Buffer): void {
    if (typeof data !== 'string') {
      if (data[0] !== FRAME_BLOB) return;
      const f = decodeBlobFrame(data);
      this.pending.get(f.req)?.onBlob?.(f.index, f.rawLength, f.blob);
      return;
    }
    const m = parseMessage<ServerMessage>(data);
    if (m.t === 'reply') {
      const p = this.pending.get(m.req);
      this.pending.delete(m.req);
      if (m.ok) p?.resolve(m.body);
      else p?.reject(new CustosError(m.error.code, m.error.message, { transient: m.error.transient }));
    } else if (m.t === 'job') {
      void this.run(m.job);
    }
  }

  private async run(spec: JobSpec): Promise<void> {
    this.jobsReceived.push(spec.id);
    const link = new JobLink(spec.id, this);
    try {
      const result = spec.kind === 'recovery' ? await runRecoveryJob(spec, link, { workers: 1 }) : await runBackupJob(spec, link, { workers: 1 });
      this.send({ t: 'done', job: spec.id, result });
    } catch (err) {
      this.send({ t: 'failed', job: spec.id, error: toWireError(err) });
    }
  }
}
