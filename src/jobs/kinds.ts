/** Job kinds and states, and the rules every job follows whatever it does. */

export const JOB_KINDS = ['sync', 'recovery-point', 'consistency-check', 'recovery', 'prune', 'catalog-backup'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

export const FINISHED_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];

/** Jobs that run on an agent (they need its connection). */
export function runsOnAgent(kind: JobKind): boolean {
  return kind !== 'prune' && kind !== 'catalog-backup';
}

/** Jobs that write a point of their data source (at most one at a time per data source). */
export function writesReplica(kind: JobKind): boolean {
  return kind === 'sync' || kind === 'recovery-point' || kind === 'consistency-check';
}

/** How many times a job is tried when it fails transiently (agent gone, server restarted, I/O). */
export const MAX_ATTEMPTS = 5;

/** Backoff before attempt `attempt + 1`: 30 s, 1 min, 2 min, 4 min … capped at 15 min. */
export function retryDelayMs(attempt: number): number {
  return Math.min(30_000 * 2 ** Math.max(0, attempt - 1), 15 * 60_000);
}
