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
 * fragmentation (at most every 15 looks). And when the process goes quiet after work (its CPU time
 * over the last look was high, now low) it settles: a full garbage
 * collection, which lets V8 shrink a heap a job left full of garbage, and
 * at the next look a trim (V8 frees the buffers and pages a moment after a
 * collection: a trim at once found 20 MiB to give back, one 200 ms later
 * 140 MiB). A trim of a fragmented heap costs a few milliseconds, a
 * collection after a job tens; an idle process does neither. Where the C
 * library is not glibc, or the native binding is missing, only the
 * collection happens.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
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
  /** CPU time (µs) the process used so far. */
  readonly cpuMicros?: () => number;
  /** A full garbage collection. */
  readonly collect?: () => void;
}

/** A look counts as busy when the process used at least this share of one core over it. */
const BUSY_SHARE = 0.2;
/**
 * Looks between two trims for growth, at least: a trim of a heap that a
 * running job keeps churning cost the server 6% of its time when done at
 * every look (~130 ms each, measured during a recovery of the Linux tree).
 */
const LOOKS_BETWEEN_TRIMS = 15;

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

let gcFunction: (() => void) | null | undefined;

/** A full garbage collection (V8's gc(), reached without starting node with --expose-gc). */
export function collectGarbage(): void {
  if (gcFunction === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      gcFunction = runInNewContext('gc') as () => void;
    } catch {
      gcFunction = null;
    }
  }
  gcFunction?.();
}

const processCpuMicros = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** What JavaScript does not account for in a sample: malloc's free memory, native libraries, other threads. */
export function unaccounted(s: MemorySample): number {
  return Math.max(0, s.rss - s.accounted);
}

export class MemoryTrimmer {
  private readonly slack: number;
  private readonly sample: () => MemorySample;
  private readonly trimFn: () => boolean;
  private readonly cpuMicros: () => number;
  private readonly collect: () => void;
  private readonly everyMs: number;
  private baseline: number;
  private cpuAtLastLook: number;
  private wasBusy = false;
  private trimAfterCollect = false;
  private looksSinceTrim = LOOKS_BETWEEN_TRIMS;
  private timer: NodeJS.Timeout | null = null;
  /** Trims done, and of them settlings (for tests and the log). */
  trims = 0;
  settles = 0;

  constructor(options: MemoryTrimmerOptions = {}) {
    this.slack = options.slackBytes ?? 32 * MiB;
    this.everyMs = options.everyMs ?? 2000;
    this.sample = options.sample ?? processMemory;
    this.trimFn = options.trim ?? trimMemory;
    this.cpuMicros = options.cpuMicros ?? processCpuMicros;
    this.collect = options.collect ?? collectGarbage;
    this.baseline = unaccounted(this.sample());
    this.cpuAtLastLook = this.cpuMicros();
  }

  /** One look (every `everyMs`): settles or trims when due; returns what it did. */
  check(): 'settled' | 'trimmed' | null {
    const cpu = this.cpuMicros();
    const busy = cpu - this.cpuAtLastLook >= this.everyMs * 1000 * BUSY_SHARE;
    this.cpuAtLastLook = cpu;
    const quietAfterWork = this.wasBusy && !busy;
    this.wasBusy = busy;
    this.looksSinceTrim++;
    if (this.trimAfterCollect) {
      // V8 frees the buffers and returns the pages of a collection a moment after it: trim a look later.
      this.trimAfterCollect = false;
      this.trimmed();
      return 'trimmed';
    }
    if (quietAfterWork) {
      this.collect();
      this.trimAfterCollect = true;
      this.settles++;
      return 'settled';
    }
    const now = unaccounted(this.sample());
    if (now < this.baseline) this.baseline = now;
    if (now - this.baseline < this.slack || this.looksSinceTrim < LOOKS_BETWEEN_TRIMS) return null;
    this.trimmed();
    return 'trimmed';
  }

  private trimmed(): void {
    this.trimFn();
    this.trims++;
    this.looksSinceTrim = 0;
    this.baseline = unaccounted(this.sample());
  }

  /** Looks every `everyMs` until stop(); the timer does not keep the process alive. */
  start(): this {
    if (this.timer === null) {
      this.timer = setInterval(() => this.check(), this.everyMs);
      this.timer.unref();
    }
    return this;
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
