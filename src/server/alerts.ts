/**
 * Alerts are raised and resolved by conditions, never by hand alone: a job's
 * outcome, a committed point (allocation), the agent connection, the
 * replica's state. Each carries the recommended action from the protection
 * layer's catalogue. An admin may resolve one early; it comes back if the
 * condition still holds when next evaluated.
 */
import type { AlertRow, Catalog, JobRow } from '../catalog/index.js';
import {
  AGENT_DISCONNECTED_ALERT_MS,
  POINT_LATE_ALERT_MS,
  ALERT_KINDS,
  allocationLevel,
  defaultAllocation,
  grownAllocation,
  isDiskFullError,
  pointSlotsBetween,
  recommendedAction,
  type AlertKind,
  type ProtectionPolicy,
} from '../protection/index.js';
import { scheduleSince } from './schedule-marks.js';

/** Told of each alert raised or resolved by a condition (notifications); called after the catalog write, never awaited. */
export interface AlertWatcher {
  raised(alert: AlertRow): void;
  resolved(alert: AlertRow): void;
}

export class AlertService {
  readonly #watchers = new Set<AlertWatcher>();
  /** When this service first evaluated the conditions (the server's start): no agent is reported disconnected for time before it. */
  private watchingSince: Date | null = null;

  constructor(
    private readonly catalog: Catalog,
    private readonly connected: () => ReadonlySet<string>,
    private readonly log: (message: string) => void,
  ) {}

  /** Tells `watcher` of every alert raised or resolved from now on; returns what stops it. */
  watch(watcher: AlertWatcher): () => void {
    this.#watchers.add(watcher);
    return () => this.#watchers.delete(watcher);
  }

  /**
   * Raises an alert, or updates the message (and action) of the active one
   * of the same kind and subject: one alert per condition, however often it
   * is seen. `job` fills the action's JOB placeholder.
   */
  async raise(kind: AlertKind, subject: string, message: string, now: Date, job: number | null = null): Promise<void> {
    const def = ALERT_KINDS[kind];
    const raised = await this.catalog.raiseAlert({
      kind,
      subject,
      severity: def.severity,
      message,
      recommendedAction: recommendedAction(kind, subject, job),
      now: now.toISOString(),
    });
    if (!raised) return;
    this.log(`alert ${def.severity}: ${kind} ${subject}: ${message}`);
    if (this.#watchers.size === 0) return;
    const row = await this.catalog.activeAlert(kind, subject);
    if (row) for (const w of this.#watchers) w.raised(row);
  }

  async resolve(kind: AlertKind, subject: string, now: Date): Promise<void> {
    const rows = await this.catalog.resolveAlerts(kind, subject, now.toISOString());
    for (const row of rows) for (const w of this.#watchers) w.resolved(row);
  }

  /**
   * Data sources left protection (their group was deleted): alerts about
   * their protection are moot and resolved; damage to points they keep in
   * the pool (pool-damaged) still matters and stays.
   */
  async sourcesLeftProtection(sources: readonly string[], now: Date): Promise<void> {
    for (const source of sources) for (const kind of PROTECTION_ALERT_KINDS) await this.resolve(kind, source, now);
  }

  /** A data source was removed from the catalog: nothing about it is left to act on. */
  async sourceRemoved(source: string, now: Date): Promise<void> {
    for (const kind of Object.keys(ALERT_KINDS) as AlertKind[]) await this.resolve(kind, source, now);
  }

  /**
   * A job failed and is retried later. A full disk (the pool's, or one an
   * agent reported) raises a warning now rather than when retries run out;
   * it is resolved when a job of the same data source succeeds.
   */
  async jobRetrying(job: JobRow, error: string, now: Date): Promise<void> {
    if (!isDiskFullError(error)) return;
    const subject = diskFullSubject(job);
    await this.raise('disk-full', subject, `${job.kind} job ${job.id} is retrying: ${error.slice(0, 500)}`, now);
  }

  async jobFinished(job: JobRow, state: 'succeeded' | 'failed' | 'cancelled', error: string | null, now: Date): Promise<void> {
    if (state === 'succeeded') await this.resolve('disk-full', diskFullSubject(job), now);
    const source = job.source_id;
    if (!source) return;
    const replicaJob = job.kind === 'sync' || job.kind === 'recovery-point' || job.kind === 'consistency-check';
    if (state === 'succeeded' && replicaJob) {
      await this.resolve('sync-failed', source, now);
      if (job.kind === 'recovery-point') await this.resolve('recovery-point-missed', source, now);
      return;
    }
    if (state !== 'failed' || !replicaJob) return;
    await this.raise('sync-failed', source, `${job.kind} job ${job.id} failed: ${error ?? 'unknown error'}`, now, job.id);
    if (job.kind === 'recovery-point') {
      const what = job.slot ? await this.missedPoints(source, job.slot, now, false) : 'the recovery point requested has not been created';
      await this.raise('recovery-point-missed', source, `${what}: job ${job.id} failed: ${error ?? 'unknown error'}`, now, job.id);
    }
    const s = await this.catalog.source(source);
    // A replica job that failed for good leaves the replica in doubt: check it. (An express full that failed leaves the points before it whole.)
    if (s && s.kind === 'fs' && s.replica_state !== 'none') await this.markInconsistent(source, `${job.kind} job ${job.id} failed midway`, now);
  }

  async markInconsistent(source: string, why: string, now: Date): Promise<void> {
    await this.catalog.updateSource(source, { replica_state: 'inconsistent' });
    await this.raise('replica-inconsistent', source, `the replica is inconsistent: ${why}`, now);
  }

  async replicaConsistent(source: string, now: Date): Promise<void> {
    await this.resolve('replica-inconsistent', source, now);
  }

  /** After a point is committed: recompute the allocation, grow it when near full, alert at 80% / 95%. */
  async pointCommitted(sourceId: string, now: Date): Promise<void> {
    const s = await this.catalog.source(sourceId);
    if (!s) return;
    const points = await this.catalog.listPoints(sourceId);
    const newest = points.at(-1);
    const used = points.reduce((n, p) => n + Number(p.bytes_added), 0);
    const group = s.group_name ? await this.catalog.group(s.group_name) : undefined;
    const retentionDays = group ? (JSON.parse(group.policy) as ProtectionPolicy).retentionDays : 5;
    let allocated = Math.max(Number(s.allocation_bytes), defaultAllocation({ dataBytes: Number(newest?.logical_bytes ?? 0), retentionDays }));
    allocated = grownAllocation(used, allocated);
    await this.catalog.updateSource(sourceId, { used_bytes: used, allocation_bytes: allocated });
    await this.judgeAllocation(sourceId, used, allocated, now);
  }

  /** Raises or resolves a data source's allocation alerts for `used` of `allocated` bytes (after a point, or a change by hand). */
  async judgeAllocation(sourceId: string, used: number, allocated: number, now: Date): Promise<void> {
    const level = allocationLevel(used, allocated);
    const pct = allocated > 0 ? Math.round((used / allocated) * 100) : 0;
    if (level === 'critical') await this.raise('allocation-critical', sourceId, `disk allocation ${pct}% used`, now);
    else await this.resolve('allocation-critical', sourceId, now);
    if (level === 'warning') await this.raise('allocation-warning', sourceId, `disk allocation ${pct}% used`, now);
    else await this.resolve('allocation-warning', sourceId, now);
  }

  async agentConnected(name: string, now: Date): Promise<void> {
    await this.resolve('agent-disconnected', name, now);
  }

  /**
   * Periodic conditions (once a minute): the connected agents' heartbeat,
   * agents disconnected too long, scheduled recovery points that never
   * started.
   */
  async evaluate(now: Date): Promise<void> {
    const connected = this.connected();
    this.watchingSince ??= now;
    for (const j of await this.catalog.listJobs({ state: 'queued', kind: 'recovery-point', limit: 10_000 })) {
      if (!j.source_id || !j.slot || now.getTime() - new Date(j.created_at).getTime() < POINT_LATE_ALERT_MS) continue;
      const waiting = j.agent && !connected.has(j.agent)
        ? `agent ${j.agent} is not connected`
        : j.attempts > 0 ? `attempt ${j.attempts} failed (${j.error ?? 'no reason given'}); it is retried` : 'the job has not started';
      await this.raise('recovery-point-missed', j.source_id, `${await this.missedPoints(j.source_id, j.slot, now, true)}: ${waiting} (job ${j.id})`, now, j.id);
    }
    // The heartbeat: one write a minute keeps every connected agent's last_seen within a minute of the truth, also after a crash.
    await this.catalog.agentsSeen([...connected], now.toISOString());
    for (const a of await this.catalog.listAgents()) {
      if (connected.has(a.name)) continue;
      const lastSeen = a.last_seen ?? a.attached_at;
      // Measured from this server's start at the earliest: agents reconnect only once it runs, and get the same grace then.
      const since = Math.max(new Date(lastSeen).getTime(), this.watchingSince.getTime());
      if (now.getTime() - since >= AGENT_DISCONNECTED_ALERT_MS) {
        await this.raise('agent-disconnected', a.name, `agent ${a.name} has been disconnected since ${lastSeen} (its last contact with this server)`, now);
      }
    }
  }

  /**
   * What the recovery-point-missed alert says: one alert covers an outage,
   * naming its first missed slot, and is updated with the last one and the
   * count — the job's own slot and every slot of the group's schedule since
   * the newest recovery point. `queued`: the job that catches up is waiting.
   */
  private async missedPoints(sourceId: string, jobSlot: string, now: Date, queued: boolean): Promise<string> {
    const keys = new Set([jobSlot]);
    const s = await this.catalog.source(sourceId);
    const group = s?.group_name ? await this.catalog.group(s.group_name) : undefined;
    if (s && group) {
      const policy = JSON.parse(group.policy) as ProtectionPolicy;
      const newest = (await this.catalog.listPoints(sourceId, true)).at(-1);
      // A point made at a slot's very time serves it: count from just after.
      const from = Math.max(newest ? new Date(newest.time).getTime() + 1 : 0, scheduleSince(s).getTime());
      for (const slot of pointSlotsBetween(policy, new Date(from), now)) keys.add(slot.key);
    }
    const sorted = [...keys].sort();
    const first = sorted[0]!;
    const last = sorted.at(-1)!;
    return sorted.length === 1
      ? `the recovery point scheduled for ${first} has not been created`
      : `${sorted.length} recovery points scheduled from ${first} to ${last} have not been created${queued ? ' (one catch-up point is made when the job runs)' : ''}`;
  }
}

/** A disk-full alert is about the data source whose job meets it (or the job, for one without a source). */
function diskFullSubject(job: JobRow): string {
  return job.source_id ?? `job ${job.id}`;
}

/** Alerts about a data source's ongoing protection (resolved when it leaves protection). */
const PROTECTION_ALERT_KINDS: readonly AlertKind[] = ['sync-failed', 'recovery-point-missed', 'replica-inconsistent', 'allocation-warning', 'allocation-critical'];
