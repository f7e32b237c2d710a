/**
 * The scheduler tick: a pure function from what the catalog says now to the
 * jobs that are due. It keeps no state of its own — the marks it reads
 * (last synchronization start, last recovery point slot, last check slot) are
 * written when a job is queued — so a server restart loses nothing, and a run
 * missed while the server was down is caught up once: only the newest missed
 * slot is due, and its key then becomes the mark. A slot that comes due while
 * the data source's recovery point job is still queued (its agent away) is
 * due all the same, and the job engine merges it into that job: an outage
 * over several slots also ends with one catch-up point.
 *
 * Marks also move without a job (servedMarks): a changed schedule starts with
 * its next slot, as a new group does, and a job that read the whole data
 * source (replica creation, consistency check) serves the slots before it.
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
  /**
   * An application data source (a PostgreSQL cluster): its replica and its
   * scheduled recovery points are express fulls (recovery point jobs); its
   * consistency check (automatic when inconsistent, daily when set) checks
   * the WAL chain of its points and makes an express full.
   * `logs`: its log is synchronized between them (sync jobs, each a
   * recovery point); `full-only`: no synchronization is ever due.
   */
  readonly app?: 'logs' | 'full-only';
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
      // After an attempt that failed for good, the next one waits a synchronization interval (not one a minute).
      const retryDue = s.lastSyncStartedAt === null || isSyncDue(s.lastSyncStartedAt, s.policy, now);
      if (at && at.getTime() <= now.getTime() && !replicaBusy && retryDue) due.push(s.app ? job('recovery-point', null, 'replica creation: an express full') : job('sync', null, 'replica creation'));
      continue;
    }
    if (s.app) {
      // A check: the WAL chain of its points on the server, then an express full; after damage (inconsistent), at once when automatic.
      if (s.replicaState === 'inconsistent' && s.policy.check.auto && !active.has('consistency-check')) {
        due.push(job('consistency-check', null, 'replica inconsistent: automatic consistency check (WAL chain and an express full)'));
        continue;
      }
      const daily = dailyCheckSlot(s.policy, now, s.since);
      if (daily && daily.key !== s.lastCheckSlot && !active.has('consistency-check')) due.push(job('consistency-check', daily.key, `daily consistency check ${daily.key} (WAL chain and an express full)`));
      const point = latestPointSlot(s.policy, now, s.since);
      if (point && point.key !== s.lastPointSlot) due.push(job('recovery-point', point.key, `scheduled express full ${point.key}`));
      else if (s.app === 'logs' && !replicaBusy && isSyncDue(s.lastSyncStartedAt, s.policy, now)) due.push(job('sync', null, `log synchronization every ${s.policy.syncMinutes} min`));
      continue;
    }
    if (s.replicaState === 'inconsistent' && s.policy.check.auto && !active.has('consistency-check')) {
      due.push(job('consistency-check', null, 'replica inconsistent: automatic consistency check'));
      continue;
    }
    const point = latestPointSlot(s.policy, now, s.since);
    let pointQueued = false;
    // Due even while a recovery point job is queued or running: a queued one takes it in (merge), a running one started before the slot.
    if (point && point.key !== s.lastPointSlot) {
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

/** New values of a data source's marks (absent: unchanged). */
export interface ScheduleMarks {
  readonly lastPointSlot?: string;
  readonly lastCheckSlot?: string;
}

/** Which schedules a mark is moved for: recovery points, the daily consistency check. */
export interface ScheduleParts {
  readonly points: boolean;
  readonly check: boolean;
}

/**
 * The marks that make every slot of `parts` at or before `at` count as
 * served, so no job is due for it: after the schedule changed (at the
 * change: slots of the new schedule already past are not made up), and when
 * a job that read the whole data source ended (a consistency check serves
 * the daily check slot before it; the job that created the replica also made
 * a recovery point, so it serves the recovery point slot before it too).
 */
export function servedMarks(policy: ProtectionPolicy, at: Date, since: Date, parts: ScheduleParts): ScheduleMarks {
  const point = parts.points ? latestPointSlot(policy, at, since) : null;
  const check = parts.check ? dailyCheckSlot(policy, at, since) : null;
  return { ...(point ? { lastPointSlot: point.key } : {}), ...(check ? { lastCheckSlot: check.key } : {}) };
}

/** The schedules a policy change altered: recovery point times or weekdays; the daily check time. */
export function scheduleChanges(before: ProtectionPolicy, after: ProtectionPolicy): ScheduleParts {
  return {
    points: before.pointTimes.join(',') !== after.pointTimes.join(',') || before.days.join(',') !== after.days.join(','),
    check: before.check.dailyAt !== after.check.dailyAt,
  };
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
