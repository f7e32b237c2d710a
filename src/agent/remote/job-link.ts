/**
 * One job's view of the server connection: requests with replies, blob
 * fetches, chunk frames, progress and log lines. Cancelling the job makes
 * every later call fail, which stops the pipelines at their next step.
 */
import { CustosError } from '../../base/index.js';
import { clip, MAX_LOG_CHARS, type AgentMessage, type AgentRequest, type JobProgress } from '../../protocol/index.js';

export interface Wire {
  send(m: AgentMessage): void;
  sendBinary(b: Buffer): Promise<void>;
  request(job: number, body: AgentRequest, onBlob?: (index: number, rawLength: number, blob: Buffer) => void): Promise<Record<string, unknown>>;
}

/** A copy of `b` in an ArrayBuffer of its own, exactly its size (one a writer thread can take over). */
export function ownCopy(b: Uint8Array): Buffer {
  const copy = new Uint8Array(b.length);
  copy.set(b);
  return Buffer.from(copy.buffer, 0, copy.length);
}

export class JobLink {
  private cancelledReason: string | null = null;

  /** `connection`: which connection of the agent the job came on (AgentRuntime counts them). */
  constructor(readonly jobId: number, private readonly wire: Wire, readonly connection = 0) {}

  cancel(reason: string): void {
    this.cancelledReason = reason;
  }

  get cancelled(): boolean {
    return this.cancelledReason !== null;
  }

  private check(): void {
    if (this.cancelledReason !== null) throw new CustosError('cancelled', this.cancelledReason);
  }

  async request(body: AgentRequest): Promise<Record<string, unknown>> {
    this.check();
    return this.wire.request(this.jobId, body);
  }

  async requestBlobs(ids: string[]): Promise<Array<{ rawLength: number; blob: Buffer }>> {
    this.check();
    const out: Array<{ rawLength: number; blob: Buffer }> = new Array(ids.length);
    await this.wire.request(this.jobId, { op: 'blobs', ids }, (i, rawLength, blob) => {
      // A copy of its own, exactly its size: a small copy made by Buffer.from would share an 8 KiB slab,
      // and handing it to a restore writer (structured clone) would copy the whole slab each time.
      if (i < ids.length) out[i] = { rawLength, blob: ownCopy(blob) };
    });
    return out;
  }

  async sendBinary(b: Buffer): Promise<void> {
    this.check();
    await this.wire.sendBinary(b);
  }

  progress(p: JobProgress): void {
    if (!this.cancelled) this.wire.send({ t: 'progress', job: this.jobId, progress: p });
  }

  /** A log line of the job (none once the job is cancelled: the server has stopped listening to it, or will hear it as retried). */
  log(level: 'info' | 'warning' | 'error', message: string): void {
    if (this.cancelled) return;
    this.wire.send({ t: 'log', job: this.jobId, level, message: clip(message, MAX_LOG_CHARS) });
  }
}
