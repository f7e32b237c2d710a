/** Job kinds and states, and the rules every job follows whatever it does. */

export const JOB_KINDS = ['sync', 'recovery-point', 'consistency-check', 'recovery', 'prune', 'gc', 'verify', 'catalog-backup'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

export const FINISHED_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];

/** Jobs the server runs on its own pool (no agent). */
export const POOL_JOB_KINDS: readonly JobKind[] = ['prune', 'gc', 'verify'];

/**
 * Jobs that run on an agent (they need its connection): all but the pool's
 * own, catalog backups, and a recovery with no agent (to a folder of the
 * protection server itself, `--to server:/path`).
 */
export function runsOnAgent(job: { readonly kind: JobKind; readonly agent: string | null }): boolean {
  return !POOL_JOB_KINDS.includes(job.kind) && job.kind !== 'catalog-backup' && !(job.kind === 'recovery' && job.agent === null);
}

/**
 * Pool jobs that may not run at the same time (docs/design/concurrency.md):
 * one of each kind at a time; gc waits for pruning (it collects what pruning
 * freed) and does not run beside verify (verify would report the packs gc
 * deletes under it as missing). Backups and recoveries run beside all of
 * them: gc respects what they use through the pool's activity record.
 */
export function conflicts(a: JobKind, b: JobKind): boolean {
  if (!POOL_JOB_KINDS.includes(a) || !POOL_JOB_KINDS.includes(b)) return false;
  if (a === b) return true;
  const pair = new Set([a, b]);
  return pair.has('gc') && (pair.has('prune') || pair.has('verify'));
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
