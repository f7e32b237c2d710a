/** Wall-clock time only through here, so tests can move time. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** Parses "90s", "15m", "12h", "5d", "2w" into milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+)(s|m|h|d|w)$/.exec(text.trim());
  if (!m) return undefined;
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as 's' | 'm' | 'h' | 'd' | 'w'];
  return Number(m[1]) * unit;
}

/**
 * A clock that moves only when told: for tests of anything that reads the
 * time (schedules, retention, the job engine), so a week passes in a loop.
 */
export class ManualClock implements Clock {
  private ms: number;

  constructor(start: Date) {
    this.ms = start.getTime();
  }

  now(): Date {
    return new Date(this.ms);
  }

  /** Moves the clock forward by `ms` milliseconds (not backward: use set). */
  advance(ms: number): Date {
    if (!(ms >= 0)) throw new RangeError(`a clock advances by a duration of at least 0 ms; got ${ms}`);
    this.ms += ms;
    return this.now();
  }

  set(to: Date): Date {
    this.ms = to.getTime();
    return this.now();
  }
}
