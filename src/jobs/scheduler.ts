/**
 * The scheduler tick: a pure function from what the catalog says now to the
 * jobs that are due. It keeps no state of its own — the marks it reads
 * (last synchronization start, last recovery point slot, last check slot) are
 * written when a job is queued — so a server restart loses nothing, and a run
 * missed while the server was down is caught up once: only the newest missed
 * slot is due, and its key then becomes the mark.
 */
import {
  dailyCheckSlot,
  isPruneDue,
  isSyncDue,
  latestPointSlot,
  replicaCreationTime,
  type ProtectionPolicy,
} from '../protection/index.js';
import type { JobKind } from './kinds.js';

export interface ScheduledSource {
  readonly id: string;
  readonly agent: string;
  readonly policy: ProtectionPolicy;
  /** When the data source joined its group: no slot before this is due. */
  readonly since: Date;
  readonly replicaState: 'none' | 'ok' | 'inconsistent' | 'checking';
  readonly lastSyncStartedAt: Date | null;
  readonly lastPointSlot: string | null;
  readonly lastCheckSlot: string | null;
  /** Kinds of this data source's jobs that are queued or running. */
  readonly activeKinds: ReadonlySet<JobKind>;
}

export interface DueJob {
  readonly kind: JobKind;
  readonly source: string | null;
  readonly agent: string | null;
  /** The schedule slot this job serves (recovery point / daily check), or null. */
  readonly slot: string | null;
  /** Why, for the job log. */
  readonly reason: string;
}

/** Work due for the data sources (pool maintenance: dueMaintenance). */
export function dueWork(sources: readonly ScheduledSource[], now: Date): DueJob[] {
  const due: DueJob[] = [];
  for (const s of sources) {
    const job = (kind: JobKind, slot: string | null, reason: string): DueJob => ({ kind, source: s.id, agent: s.agent, slot, reason });
    const active = s.activeKinds;
    const replicaBusy = active.has('sync') || active.has('recovery-point') || active.has('consistency-check');
    if (s.replicaState === 'none') {
      // Replica creation: now, at a set time, or manual (a consistency check creates it).
      const at = replicaCreationTime(s.policy, s.since);
      if (at && at.getTime() <= now.getTime() && !replicaBusy) due.push(job('sync', null, 'replica creation'));
      continue;
    }
    if (s.replicaState === 'inconsistent' && s.policy.check.auto && !active.has('consistency-check')) {
      due.push(job('consistency-check', null, 'replica inconsistent: automatic consistency check'));
      continue;
    }
    const point = latestPointSlot(s.policy, now, s.since);
    let pointQueued = false;
    if (point && point.key !== s.lastPointSlot && !active.has('recovery-point')) {
      due.push(job('recovery-point', point.key, `scheduled recovery point ${point.key}`));
      pointQueued = true;
    }
    if (!pointQueued && !replicaBusy && isSyncDue(s.lastSyncStartedAt, s.policy, now)) {
      due.push(job('sync', null, `synchronization every ${s.policy.syncMinutes} min`));
    }
    const check = dailyCheckSlot(s.policy, now, s.since);
    if (check && check.key !== s.lastCheckSlot && !active.has('consistency-check')) {
      due.push(job('consistency-check', check.key, `daily consistency check ${check.key}`));
    }
  }
  return due;
}

/** What the scheduler reads to decide pool maintenance. */
export interface MaintenanceMarks {
  /** When nightly pruning was last queued (null: never). */
  readonly lastPruneAt: Date | null;
  /** Pool job kinds (prune, gc, verify) queued or running now. */
  readonly active: ReadonlySet<JobKind>;
}

/**
 * Nightly pool maintenance, queued together at the first tick of each local
 * day: pruning, then garbage collection (it waits for pruning to finish, see
 * conflicts() in kinds.ts, and collects what pruning and deletions freed),
 * and verification of the next slice of the pool. Each kind is queued only
 * when none of it is queued or running.
 */
export function dueMaintenance(marks: MaintenanceMarks, now: Date): DueJob[] {
  if (!isPruneDue(marks.lastPruneAt, now)) return [];
  const due: DueJob[] = [];
  const add = (kind: JobKind, reason: string): void => {
    if (!marks.active.has(kind)) due.push({ kind, source: null, agent: null, slot: null, reason });
  };
  add('prune', 'nightly pruning');
  add('gc', 'nightly garbage collection (after pruning)');
  add('verify', 'nightly verification of the next slice of the pool');
  return due;
}
