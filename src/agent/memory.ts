/**
 * Memory a long-running process freed, given back to the kernel.
 *
 * glibc's malloc keeps freed blocks for reuse and returns only the top of
 * its heaps on its own. The buffers a backup or a recovery moves (tens of
 * thousands of chunks, most of them small) leave the heaps fragmented, so a
 * server that had taken in the Linux tree stayed at 370 MiB resident with
 * 45 MiB of live JavaScript objects; one malloc_trim brought it to 178 MiB.
 *
 * The trimmer looks every few seconds at the part of the resident set that
 * JavaScript does not account for — resident minus V8's heap and the
 * external buffers — and trims when that grew by more than a threshold
 * since the last trim: when a job freed its buffers (they leave the
 * accounted part, the resident set stays) or the heaps grew by
 * fragmentation. A trim of a fragmented heap costs a few milliseconds; an
 * idle process is never trimmed. Where the C library is not glibc, or the
 * native binding is missing, nothing happens.
 */
import { loadBinding } from './journal/native.js';

/** One reading of the process's memory (bytes). */
export interface MemorySample {
  readonly rss: number;
  /** V8's heap (committed) and the memory of buffers and other external objects. */
  readonly accounted: number;
}

export interface MemoryTrimmerOptions {
  /** How often to look; default 2 s. */
  readonly everyMs?: number;
  /** Trim when the unaccounted part grew by this much since the last trim; default 32 MiB. */
  readonly slackBytes?: number;
  readonly sample?: () => MemorySample;
  /** Gives free memory back; true when some was. */
  readonly trim?: () => boolean;
}

const MiB = 1024 * 1024;

export function processMemory(): MemorySample {
  const m = process.memoryUsage();
  return { rss: m.rss, accounted: m.heapTotal + m.external };
}

let nativeTrim: (() => boolean) | null | undefined;

/** malloc_trim(0) through our binding; false when there is none (not glibc, not built). */
export function trimMemory(): boolean {
  if (nativeTrim === undefined) {
    try {
      nativeTrim = loadBinding().trimMemory ?? null;
    } catch {
      nativeTrim = null;
    }
  }
  return nativeTrim?.() ?? false;
}

/** The decision, apart from the timer: trim when the unaccounted part grew by `slack` since `baseline`. */
export function unaccounted(s: MemorySample): number {
  return Math.max(0, s.rss - s.accounted);
}

export class MemoryTrimmer {
  private readonly slack: number;
  private readonly sample: () => MemorySample;
  private readonly trimFn: () => boolean;
  private baseline: number;
  private timer: NodeJS.Timeout | null = null;
  /** Trims done (for tests and the log). */
  trims = 0;

  constructor(private readonly options: MemoryTrimmerOptions = {}) {
    this.slack = options.slackBytes ?? 32 * MiB;
    this.sample = options.sample ?? processMemory;
    this.trimFn = options.trim ?? trimMemory;
    this.baseline = unaccounted(this.sample());
  }

  /** One look: trims when due; returns whether it did. */
  check(): boolean {
    const now = unaccounted(this.sample());
    if (now < this.baseline) this.baseline = now;
    if (now - this.baseline < this.slack) return false;
    this.trimFn();
    this.trims++;
    this.baseline = unaccounted(this.sample());
    return true;
  }

  /** Looks every `everyMs` until stop(); the timer does not keep the process alive. */
  start(): this {
    if (this.timer === null) {
      this.timer = setInterval(() => this.check(), this.options.everyMs ?? 2000);
      this.timer.unref();
    }
    return this;
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
