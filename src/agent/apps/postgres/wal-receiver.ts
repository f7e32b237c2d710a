/**
 * Receives a cluster's WAL through its replication slot, inside the agent
 * (docs/design/postgresql.md §5.1): a physical replication connection as
 * the cluster's owner, `START_REPLICATION SLOT … PHYSICAL`, every XLogData
 * message written into a spool of segment files at the offset its LSN
 * gives. Standby status updates report write = received and flush = what
 * the caller says is durable (the newest point's WAL end), so the slot's
 * restart_lsn — what PostgreSQL keeps — follows the pool, not this spool.
 *
 * The server's bytes are checked before they are written: an XLogData
 * message must start where the previous one ended (no gaps, no overlaps)
 * and fit in the segment it starts in or continue into the next; anything
 * else ends the stream with an error.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { CustosError } from '../../../base/index.js';
import { formatLsn, segmentFileName, segmentOf } from '../../../format/postgres/wal-names.js';
import { connectAsOwner, type OwnerTarget } from './connect.js';

/** Microseconds between the Unix epoch and PostgreSQL's (2000-01-01). */
const PG_EPOCH_OFFSET_US = 946_684_800_000_000n;
const STATUS_EVERY_MS = 10_000;

export interface WalReceiverOptions {
  readonly target: OwnerTarget;
  readonly slot: string;
  readonly timeline: number;
  /** Where streaming starts: a segment's first byte. */
  readonly startLsn: bigint;
  readonly segmentBytes: number;
  /** The spool: segment files named as in pg_wal. */
  readonly spoolDir: string;
  /** The LSN up to which the WAL is durable elsewhere (the pool): reported as flush. */
  readonly flushed: () => bigint;
  readonly log?: (level: 'info' | 'warning', message: string) => void;
}

function nowPgMicros(): bigint {
  return BigInt(Date.now()) * 1000n - PG_EPOCH_OFFSET_US;
}

/** A standby status update: 'r', write, flush, apply, the client's clock, reply-requested. */
export function statusUpdate(write: bigint, flush: bigint, replyNow = false): Buffer {
  const b = Buffer.alloc(34);
  b.write('r', 0, 'latin1');
  b.writeBigUInt64BE(write, 1);
  b.writeBigUInt64BE(flush, 9);
  b.writeBigUInt64BE(0n, 17);
  b.writeBigInt64BE(nowPgMicros(), 25);
  b[33] = replyNow ? 1 : 0;
  return b;
}

export type ReplicationMessage =
  | { readonly kind: 'wal'; readonly start: bigint; readonly end: bigint; readonly data: Buffer }
  | { readonly kind: 'keepalive'; readonly end: bigint; readonly replyNow: boolean };

/** One CopyData payload of a physical stream; anything else is a `format` error. */
export function parseReplicationMessage(b: Buffer): ReplicationMessage {
  if (b.length >= 25 && b[0] === 0x77 /* w */) return { kind: 'wal', start: b.readBigUInt64BE(1), end: b.readBigUInt64BE(9), data: b.subarray(25) };
  if (b.length === 18 && b[0] === 0x6b /* k */) return { kind: 'keepalive', end: b.readBigUInt64BE(1), replyNow: b[17] === 1 };
  throw new CustosError('format', `the replication stream sent a message the agent does not know (${b.length} bytes, type ${b.length > 0 ? b[0] : 'none'})`);
}

/** The stream as pg's client sees it: a query that never completes while WAL flows. */
class ReplicationStream {
  constructor(
    private readonly text: string,
    private readonly onData: (chunk: Buffer) => void,
    private readonly onEnd: (err: Error | null) => void,
  ) {}
  submit(connection: { query(text: string): void }): void {
    connection.query(this.text);
  }
  handleCopyData(msg: { chunk: Buffer }): void {
    this.onData(msg.chunk);
  }
  handleError(err: Error): void {
    this.onEnd(err);
  }
  handleReadyForQuery(): void {
    this.onEnd(null);
  }
  handleCommandComplete(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handleCopyInResponse(): void {}
  handlePortalSuspended(): void {}
}

export class WalReceiver {
  private client: pg.Client | null = null;
  private received: bigint;
  private fd: number | null = null;
  private fdSegno = -1n;
  private timer: NodeJS.Timeout | null = null;
  private ended: Promise<void> | null = null;
  private failure: Error | null = null;
  private waiters: Array<{ lsn: bigint; resolve: () => void; reject: (e: Error) => void; timer?: NodeJS.Timeout }> = [];
  private stopping = false;
  /** The flush position reported; 0 (nothing) until the pool holds WAL past the start. */
  private confirmed = 0n;

  constructor(private readonly o: WalReceiverOptions) {
    if (!/^[a-z0-9_]{1,63}$/.test(o.slot)) throw new CustosError('usage', `${JSON.stringify(o.slot.slice(0, 80))} is not a replication slot name`);
    if (o.startLsn % BigInt(o.segmentBytes) !== 0n) throw new CustosError('internal', `streaming must start at a segment's first byte, not ${formatLsn(o.startLsn)}`);
    this.received = o.startLsn;
    mkdirSync(o.spoolDir, { recursive: true, mode: 0o700 });
  }

  /** Everything up to here is in the spool (written, not necessarily fsynced: see sync()). */
  get receivedLsn(): bigint {
    return this.received;
  }

  async start(): Promise<void> {
    const client = await connectAsOwner(this.o.target, { replication: true });
    this.client = client;
    client.on('error', (e) => this.fail(e));
    this.ended = new Promise<void>((resolve) => {
      const stream = new ReplicationStream(
        `START_REPLICATION SLOT ${this.o.slot} PHYSICAL ${formatLsn(this.o.startLsn)} TIMELINE ${this.o.timeline}`,
        (chunk) => {
          try {
            this.take(parseReplicationMessage(chunk));
          } catch (e) {
            this.fail(e as Error);
          }
        },
        (err) => {
          if (err) this.fail(err);
          else if (!this.stopping) this.fail(new CustosError('io', 'the server ended the replication stream'));
          resolve();
        },
      );
      client.query(stream as unknown as pg.QueryConfig); // a submittable: its handlers get the stream
    });
    this.timer = setInterval(() => this.sendStatus(false), STATUS_EVERY_MS);
    this.timer.unref();
  }

  /** Resolves once the spool holds the WAL up to `lsn`, fsynced. */
  async waitFor(lsn: bigint, timeoutMs: number): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.received < lsn) {
      await new Promise<void>((resolve, reject) => {
        const w: (typeof this.waiters)[number] = { lsn, resolve, reject };
        this.waiters.push(w);
        const t = setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          reject(new CustosError('io', `the WAL up to ${formatLsn(lsn)} did not arrive within ${timeoutMs} ms (received up to ${formatLsn(this.received)})`, { transient: true }));
        }, timeoutMs);
        w.timer = t;
        w.resolve = () => {
          clearTimeout(t);
          resolve();
        };
        w.reject = (e) => {
          clearTimeout(t);
          reject(e);
        };
      });
    }
    if (this.fd !== null) fsyncSync(this.fd);
  }

  /** Tells PostgreSQL at once what the pool now holds (after a commit). */
  acknowledge(): void {
    this.sendStatus(false);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    const client = this.client;
    this.client = null;
    if (client) await client.end().catch(() => undefined);
    await this.ended;
    this.closeSegment();
    for (const w of this.waiters.splice(0)) w.reject(new CustosError('cancelled', 'the WAL receiver stopped'));
  }

  private fail(e: Error): void {
    if (this.failure || this.stopping) return;
    this.failure = e instanceof CustosError ? e : new CustosError('io', `the replication stream failed: ${e.message}`, { transient: true });
    this.o.log?.('warning', this.failure.message);
    for (const w of this.waiters.splice(0)) w.reject(this.failure);
    void this.client?.end().catch(() => undefined);
  }

  private take(m: ReplicationMessage): void {
    if (m.kind === 'keepalive') {
      if (m.replyNow) this.sendStatus(false);
      return;
    }
    if (m.start !== this.received) throw new CustosError('format', `the replication stream jumped from ${formatLsn(this.received)} to ${formatLsn(m.start)}`);
    let lsn = m.start;
    let data = m.data;
    const size = BigInt(this.o.segmentBytes);
    while (data.length > 0) {
      const seg = segmentOf(this.o.timeline, lsn, this.o.segmentBytes);
      const offset = Number(lsn % size);
      const n = Math.min(data.length, this.o.segmentBytes - offset);
      writeSync(this.segmentFd(seg.segno), data, 0, n, offset);
      lsn += BigInt(n);
      data = data.subarray(n);
    }
    this.received = lsn;
    for (const w of this.waiters.filter((x) => x.lsn <= lsn)) {
      this.waiters = this.waiters.filter((x) => x !== w);
      if (this.fd !== null) fsyncSync(this.fd);
      w.resolve();
    }
  }

  private segmentFd(segno: bigint): number {
    if (this.fd !== null && this.fdSegno === segno) return this.fd;
    this.closeSegment();
    const name = segmentFileName({ timeline: this.o.timeline, segno }, this.o.segmentBytes);
    this.fd = openSync(join(this.o.spoolDir, name), 'a+', 0o600);
    closeSync(this.fd);
    this.fd = openSync(join(this.o.spoolDir, name), 'r+');
    this.fdSegno = segno;
    return this.fd;
  }

  private closeSegment(): void {
    if (this.fd === null) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = null;
    this.fdSegno = -1n;
  }

  private sendStatus(replyNow: boolean): void {
    const connection = (this.client as unknown as { connection?: { sendCopyFromChunk(b: Buffer): void } } | null)?.connection;
    if (!connection || this.failure) return;
    // PostgreSQL moves the slot's restart_lsn to the flush reported, backwards too: report only progress
    // past where streaming began (0 confirms nothing), never less than before, never more than received.
    let flush = this.o.flushed();
    if (flush > this.received) flush = this.received;
    if (flush > this.confirmed && flush > this.o.startLsn) this.confirmed = flush;
    connection.sendCopyFromChunk(statusUpdate(this.received, this.confirmed, replyNow));
  }
}
