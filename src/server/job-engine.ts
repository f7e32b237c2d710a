/**
 * The job engine: queues jobs in the catalog, starts them when the dispatch
 * rules allow (src/jobs), runs them (on agents through job channels, prune
 * here), records progress and log lines, retries transient failures with
 * backoff, and raises or resolves alerts from outcomes. Every state change is
 * a catalog write first, so a server killed at any instant restarts with each
 * job either finished or re-queued ("interrupted … retried"), never lost.
 */
import { CustosError, errorMessage, type Clock, type RecoveryPointId } from '../base/index.js';
import { parseLsn } from '../format/postgres/wal-names.js';
import type { Catalog, DataSourceRow, JobRow, PointRow } from '../catalog/index.js';
import {
  DEFAULT_LIMITS,
  dueMaintenance,
  catalogBackupDue,
  dueWork,
  POOL_JOB_KINDS,
  MAX_ATTEMPTS,
  mergeInto,
  pickJobs,
  requestsMerge,
  retryDelayMs,
  runsOnAgent,
  type DispatchLimits,
  type JobKind,
  type JobSlot,
  type ScheduledSource,
} from '../jobs/index.js';
import type { Pool } from '../pool/index.js';
import {
  isDiskFullError,
  isSystemTarget,
  MAX_APP_RECOVERY_POINTS,
  MAX_FILE_RECOVERY_POINTS,
  onDemandPointWarning,
  pruneDecisions,
  type PruneDecision,
  type ProtectionPolicy,
} from '../protection/index.js';
import { DEFAULT_CONFLICT, missedPathsText, type PostgresRecoverySettings, type PostgresRecoveryTarget, type BackupJobSpec, type ConflictModeName, type JobProgress, type JobSpec, type SecurityModeName, type WireKeys, type WireThrottleRule } from '../protocol/index.js';
import type { AgentHub } from './agent-hub.js';
import type { AlertService } from './alerts.js';
import { BackupChannel, RecoveryChannel } from './job-channels.js';
import type { PoolMaintenance } from './pool-maintenance.js';
import { CATALOG_BACKUP_REASONS, type AppPointMeta, type CatalogBackupReason, type ManifestPageRef, type RecoveryPointRecord } from '../format/index.js';
import { checkCommitWal, runChainCheck } from './app-check.js';
import type { SlotWatch } from './app-watch.js';
import { CATALOG_BACKUP_SETTINGS, type CatalogBackupService } from './catalog-backup.js';
import { scheduleSince, servedMarksPatch } from './schedule-marks.js';
import { appJobRefusal, appOf, slotNameOf } from './source-id.js';
import type { ServerRecoveries } from './server-recovery.js';

export interface JobEngineDeps {
  readonly catalog: Catalog;
  readonly hub: AgentHub;
  readonly pool: Pool;
  readonly clock: Clock;
  readonly alerts: AlertService;
  readonly maintenance: PoolMaintenance;
  readonly limits?: DispatchLimits;
  readonly log: (message: string) => void;
  /** Runs `catalog-backup` jobs (absent: such jobs fail). */
  readonly catalogBackups?: CatalogBackupService;
  /** Runs recoveries to folders of the server (absent: such jobs fail). */
  readonly serverRecoveries?: ServerRecoveries;
  /** An agent's verification scan found `n` changed items its change journal had missed (counted in /metrics). */
  readonly journalMissed?: (source: string, n: number) => void;
  /** The recovery points of a data source changed: a commit or a prune (the file index follows). */
  readonly pointsChanged?: (source: string) => void;
  /** A job ended for good (not a retry): notifications. Called after the catalog write; must not throw, is not awaited. */
  readonly jobEnded?: (job: JobRow, state: 'succeeded' | 'failed' | 'cancelled', error: string | null, result: Record<string, unknown> | null) => void;
  /** The lag watch of PostgreSQL slots, given the scheduled sources each scheduler minute. */
  readonly slotWatch?: SlotWatch;
}

export interface EnqueueRequest {
  readonly kind: JobKind;
  readonly source: string | null;
  readonly agent: string | null;
  readonly slot?: string | null;
  readonly params?: Record<string, unknown>;
  readonly reason: string;
}

const NO_PROGRESS: JobProgress = { phase: 'queued', filesDone: 0, bytesDone: 0, bytesTotal: null };

interface Running {
  readonly job: JobRow;
  cancel(): void;
}

export class JobEngine {
  private readonly running = new Map<number, Running>();
  private timer: NodeJS.Timeout | null = null;
  private dispatching = false;
  private rerun = false;
  private stopping = false;
  private lastTickMinute = '';
  private readonly settled = new Set<Promise<void>>();
  private enqueueing: Promise<unknown> = Promise.resolve();
  /** Pruning runs one data source at a time, whichever path asks (pruneSource). */
  private pruning: Promise<unknown> = Promise.resolve();

  constructor(private readonly d: JobEngineDeps) {}

  private now(): string {
    return this.d.clock.now().toISOString();
  }

  /** At start: jobs left "running" by a server that died are re-queued, and say so. */
  async recoverInterrupted(): Promise<number> {
    const stale = await this.d.catalog.listJobs({ state: 'running', limit: 100_000 });
    for (const j of stale) {
      await this.d.catalog.updateJob(j.id, { state: 'queued', next_attempt_at: this.now(), progress: JSON.stringify(NO_PROGRESS) });
      await this.d.catalog.appendJobLog(j.id, this.now(), 'warning', 'interrupted: the server stopped while this job ran; it is retried');
    }
    return stale.length;
  }

  /**
   * Queues a job, or answers with the queued job of the same kind for the same
   * data source when there is one (src/jobs/merge.ts); `merged` says which.
   * Requests are taken one at a time, so two at once cannot both queue.
   */
  enqueue(r: EnqueueRequest): Promise<JobRow & { readonly merged: boolean }> {
    const next = this.enqueueing.then(() => this.enqueueNow(r));
    this.enqueueing = next.catch(() => undefined);
    return next;
  }

  private async enqueueNow(r: EnqueueRequest): Promise<JobRow & { readonly merged: boolean }> {
    const now = this.now();
    if (r.source !== null && requestsMerge(r.kind)) {
      const queued = await this.d.catalog.listJobs({ source: r.source, kind: r.kind, state: 'queued', limit: 100 });
      const into = mergeInto(r.kind, r.source, queued.map((j) => ({ id: j.id, kind: j.kind, source: j.source_id, state: j.state })));
      if (into !== null) {
        // A schedule slot merged in is one more slot this job serves (an outage over several slots makes one catch-up point).
        await this.d.catalog.appendJobLog(into, now, 'info', `merged: ${r.reason} ${r.slot ? 'came due' : 'again'} while this job was queued; this job answers it`);
        return { ...(await this.d.catalog.job(into))!, merged: true };
      }
    }
    const id = await this.d.catalog.insertJob({
      kind: r.kind,
      state: 'queued',
      source_id: r.source,
      agent: r.agent,
      created_at: now,
      started_at: null,
      finished_at: null,
      attempts: 0,
      next_attempt_at: now,
      progress: JSON.stringify(NO_PROGRESS),
      error: null,
      result: null,
      params: JSON.stringify(r.params ?? {}),
      slot: r.slot ?? null,
    });
    await this.d.catalog.appendJobLog(id, now, 'info', `queued: ${r.reason}`);
    this.kick();
    return { ...(await this.d.catalog.job(id))!, merged: false };
  }

  /**
   * On-demand pool maintenance (`prune`, `gc`, `verify`): a job of that kind
   * already queued with the same parameters is returned instead of queuing
   * another (its log says why it was asked for again).
   */
  async requestPoolJob(kind: 'prune' | 'gc' | 'verify', params: Record<string, unknown>, reason: string): Promise<JobRow> {
    const wanted = JSON.stringify(params);
    const queued = await this.d.catalog.listJobs({ state: 'queued', kind, limit: 100 });
    const same = queued.find((j) => j.params === wanted);
    if (same) {
      await this.d.catalog.appendJobLog(same.id, this.now(), 'info', `merged: ${reason}; this job answers it`);
      return same;
    }
    return this.enqueue({ kind, source: null, agent: null, params, reason });
  }

  /**
   * A protection group's policy was saved (`before` null: the group is new).
   * The schedule is evaluated now, and a changed retention range applies at
   * once: a prune job is queued (the nightly one would come only after
   * midnight).
   */
  async groupSaved(name: string, before: ProtectionPolicy | null, after: ProtectionPolicy): Promise<JobRow | null> {
    this.scheduleNow();
    if (before === null || before.retentionDays === after.retentionDays) return null;
    return this.requestPoolJob('prune', {}, `retention range of ${name} changed from ${before.retentionDays} to ${after.retentionDays} days`);
  }

  /**
   * A recovery point now, on demand. One beyond the limit of recovery
   * points kept is not refused (DPM does not refuse it either: VSS drops the
   * oldest shadow copy), but the answer and the job log say that the oldest
   * recovery point is pruned when the new one is made.
   */
  async requestRecoveryPoint(source: { readonly id: string; readonly agent: string; readonly kind: string }, requestedBy: string): Promise<{ job: JobRow & { readonly merged: boolean }; warnings: string[] }> {
    const held = await this.d.catalog.listPoints(source.id, true);
    const warning = onDemandPointWarning(source.id, held.map((p) => new Date(p.time)), maxRecoveryPoints(source.kind));
    const job = await this.enqueue({ kind: 'recovery-point', source: source.id, agent: source.agent, reason: `recovery point requested by ${requestedBy}` });
    if (warning !== null && !job.merged) await this.d.catalog.appendJobLog(job.id, this.now(), 'warning', warning);
    return { job, warnings: warning === null ? [] : [warning] };
  }

  async cancel(id: number): Promise<JobRow> {
    const job = await this.d.catalog.job(id);
    if (!job) throw new CustosError('not-found', `job ${id} does not exist`);
    if (job.state === 'queued') {
      if (await this.d.catalog.updateJob(id, { state: 'cancelled', finished_at: this.now() }, ['queued'])) {
        await this.d.catalog.appendJobLog(id, this.now(), 'info', 'cancelled before it started');
      }
    } else if (job.state === 'running') {
      await this.d.catalog.appendJobLog(id, this.now(), 'info', 'cancel requested');
      this.running.get(id)?.cancel();
    } else {
      throw new CustosError('exists', `job ${id} has already ${job.state === 'succeeded' ? 'succeeded' : job.state}`);
    }
    return (await this.d.catalog.job(id))!;
  }

  start(tickMs: number): void {
    const loop = () => {
      void this.dispatch().finally(() => {
        if (!this.stopping) this.timer = setTimeout(loop, tickMs);
      });
    };
    loop();
  }

  kick(): void {
    setImmediate(() => void this.dispatch());
  }

  /** Re-evaluates the schedule now (a group changed) instead of at the next clock minute. */
  scheduleNow(): void {
    this.lastTickMinute = '';
    if (this.dispatching) this.rerun = true;
    this.kick();
  }

  /** Stops starting jobs; running ones are left to the agents (they are re-queued at next start). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    for (const r of this.running.values()) r.cancel();
    await Promise.race([Promise.allSettled([...this.settled]), new Promise((r) => setTimeout(r, 3000))]);
  }

  /** The scheduler tick (once per clock minute) and the dispatcher (every call). */
  async dispatch(): Promise<void> {
    if (this.dispatching || this.stopping) return;
    this.dispatching = true;
    try {
      const now = this.d.clock.now();
      const minute = now.toISOString().slice(0, 16);
      if (minute !== this.lastTickMinute) {
        this.lastTickMinute = minute;
        await this.schedulerTick(now);
        await this.d.alerts.evaluate(now);
      }
      const queued = (await this.d.catalog.listJobs({ state: 'queued', limit: 1000 }))
        .filter((j) => j.next_attempt_at <= now.toISOString())
        .sort((a, b) => a.id - b.id);
      if (queued.length === 0) return;
      const running = [...this.running.values()].map((r) => slotOf(r.job));
      const picked = pickJobs(queued.map(slotOf), running, this.d.hub.connected(), this.d.limits ?? DEFAULT_LIMITS);
      for (const p of picked) {
        const job = queued.find((j) => j.id === p.id)!;
        await this.launch(job);
      }
    } catch (err) {
      this.d.log(`job engine: ${errorMessage(err)}`);
    } finally {
      this.dispatching = false;
      if (this.rerun) {
        this.rerun = false;
        this.kick();
      }
    }
  }

  private async schedulerTick(now: Date): Promise<void> {
    const c = this.d.catalog;
    const active = await c.listJobs({ states: ['queued', 'running'], limit: 100_000 });
    const activeBySource = new Map<string, Set<JobKind>>();
    for (const j of active) {
      if (!j.source_id) continue;
      const s = activeBySource.get(j.source_id) ?? new Set<JobKind>();
      s.add(j.kind as JobKind);
      activeBySource.set(j.source_id, s);
    }
    const groups = await this.groupPolicies();
    const sources: ScheduledSource[] = [];
    for (const s of await c.listSources()) {
      const policy = s.group_name ? groups.get(s.group_name) : undefined;
      if (!policy) continue;
      sources.push({
        id: s.id,
        agent: s.agent,
        policy,
        since: scheduleSince(s),
        replicaState: s.replica_state as ScheduledSource['replicaState'],
        lastSyncStartedAt: s.last_sync_started_at ? new Date(s.last_sync_started_at) : null,
        lastPointSlot: s.last_point_slot,
        lastCheckSlot: s.last_check_slot,
        activeKinds: activeBySource.get(s.id) ?? new Set(),
        ...(s.kind === 'fs' ? {} : { app: await this.logModeOf(s.id) }),
      });
    }
    const lastPrune = await c.setting('last_prune_at');
    const poolActive = new Set(active.map((j) => j.kind as JobKind).filter((k) => POOL_JOB_KINDS.includes(k)));
    const maintenance = dueMaintenance({ lastPruneAt: lastPrune ? new Date(lastPrune) : null, active: poolActive }, now);
    if (maintenance.length > 0) await c.setSetting('last_prune_at', now.toISOString());
    this.d.slotWatch?.tick(sources, now);
    for (const due of [...dueWork(sources, now), ...maintenance]) {
      if (due.source && due.slot) {
        await c.updateSource(due.source, due.kind === 'recovery-point' ? { last_point_slot: due.slot } : { last_check_slot: due.slot });
      }
      if (due.source && due.kind === 'sync') await c.updateSource(due.source, { last_sync_started_at: now.toISOString() });
      await this.enqueue({ kind: due.kind, source: due.source, agent: due.agent, slot: due.slot, reason: due.reason });
    }
    await this.catalogBackupTick(now, active.some((j) => j.kind === 'catalog-backup'));
  }

  /** Queues a catalog backup when one is due (daily; a short while after a configuration change). */
  private async catalogBackupTick(now: Date, active: boolean): Promise<void> {
    if (!this.d.catalogBackups) return;
    const c = this.d.catalog;
    const S = CATALOG_BACKUP_SETTINGS;
    const fingerprint = await c.configurationFingerprint();
    const seen = parseSeen(await c.setting(S.seen));
    let since = seen?.fingerprint === fingerprint ? seen.since : now;
    if (seen?.fingerprint !== fingerprint) await c.setSetting(S.seen, JSON.stringify({ fingerprint, since: now.toISOString() }));
    if (Number.isNaN(since.getTime())) since = now;
    const date = (v: string | null) => (v && !Number.isNaN(Date.parse(v)) ? new Date(v) : null);
    const due = catalogBackupDue({
      lastBackupAt: date(await c.setting(S.lastAt)),
      lastQueuedAt: date(await c.setting(S.lastQueuedAt)),
      backedUpFingerprint: await c.setting(S.fingerprint),
      fingerprint,
      fingerprintSince: since,
      active,
    }, now);
    if (!due) return;
    await c.setSetting(S.lastQueuedAt, now.toISOString());
    await this.enqueue({ kind: 'catalog-backup', source: null, agent: null, params: { reason: due.reason }, reason: due.why });
  }

  /** An on-demand catalog backup: the one already queued, else a new job. */
  async requestCatalogBackup(): Promise<JobRow> {
    const queued = await this.d.catalog.listJobs({ state: 'queued', kind: 'catalog-backup', limit: 1 });
    if (queued[0]) return queued[0];
    return this.enqueue({ kind: 'catalog-backup', source: null, agent: null, params: { reason: 'on demand' }, reason: 'catalog backup on demand' });
  }

  private async launch(job: JobRow): Promise<void> {
    const c = this.d.catalog;
    const started = this.now();
    if (!(await c.updateJob(job.id, { state: 'running', started_at: started, attempts: job.attempts + 1 }, ['queued']))) return;
    const row = (await c.job(job.id))!;
    await c.appendJobLog(job.id, started, 'info', `started (attempt ${row.attempts})`);
    let cancel: () => void = () => undefined;
    const cancelled = { value: false };
    const entry: Running = { job: row, cancel: () => { cancelled.value = true; cancel(); } };
    this.running.set(job.id, entry);
    const p = (async () => {
      try {
        const result = await this.run(row, (fn) => { cancel = fn; }, cancelled);
        await this.finish(row, 'succeeded', null, result);
      } catch (err) {
        await this.failed(row, err, cancelled.value);
      } finally {
        this.running.delete(job.id);
        await this.pruneAfterJob(row);
        this.kick();
      }
    })();
    this.settled.add(p);
    void p.finally(() => this.settled.delete(p));
  }

  private async failed(job: JobRow, err: unknown, cancelled: boolean): Promise<void> {
    const c = this.d.catalog;
    const message = errorMessage(err);
    if (cancelled || (err instanceof CustosError && err.code === 'cancelled')) {
      if (this.stopping) return this.requeue(job, 'the server is shutting down; the job is retried at next start');
      return this.finish(job, 'cancelled', 'cancelled', null);
    }
    // A full disk (the pool's, or one the agent reports) is worth retrying once space is freed, whatever the error's code says.
    const transient = (err instanceof CustosError ? err.transient : true) || isDiskFullError(message);
    const attempts = (await c.job(job.id))?.attempts ?? job.attempts + 1;
    if (transient && attempts < MAX_ATTEMPTS && !this.stopping) {
      const delay = retryDelayMs(attempts);
      await c.updateJob(job.id, { state: 'queued', next_attempt_at: new Date(this.d.clock.now().getTime() + delay).toISOString(), error: message });
      await c.appendJobLog(job.id, this.now(), 'warning', `attempt ${attempts} failed: ${message}; retrying in ${Math.round(delay / 1000)} s`);
      await this.d.alerts.jobRetrying(job, message, this.d.clock.now());
      return;
    }
    if (this.stopping && transient) return this.requeue(job, `interrupted by shutdown: ${message}`);
    // The failure's code, so a client can tell "the target is a file" from other failures (recover --wait exits as restore would).
    await this.finish(job, 'failed', message, err instanceof CustosError ? { errorCode: err.code } : null);
  }

  private async requeue(job: JobRow, why: string): Promise<void> {
    await this.d.catalog.updateJob(job.id, { state: 'queued', next_attempt_at: this.now() });
    await this.d.catalog.appendJobLog(job.id, this.now(), 'warning', why);
  }

  private async finish(job: JobRow, state: 'succeeded' | 'failed' | 'cancelled', error: string | null, result: Record<string, unknown> | null): Promise<void> {
    const c = this.d.catalog;
    await c.updateJob(job.id, { state, finished_at: this.now(), error, result: result ? JSON.stringify(result) : null }, ['running']);
    await c.appendJobLog(job.id, this.now(), state === 'succeeded' ? 'info' : 'error', state === 'succeeded' ? 'succeeded' : `${state}: ${error ?? ''}`);
    await this.d.alerts.jobFinished(job, state, error, this.d.clock.now());
    this.d.jobEnded?.(job, state, error, result);
  }

  private progressWriter(job: JobRow): (p: JobProgress) => void {
    let last = 0;
    let pending: JobProgress | null = null;
    return (p) => {
      pending = p;
      const t = Date.now();
      if (t - last < 1000) return;
      last = t;
      const value = pending;
      pending = null;
      void this.d.catalog.updateJob(job.id, { progress: JSON.stringify(value) }, ['running']);
    };
  }

  private wireKeys(): WireKeys | null {
    const k = this.d.pool.keys;
    // The id key only: the data key never leaves the server (docs/design/agent-protocol.md).
    return k ? { idKey: k.idKey.toString('base64') } : null;
  }

  private async run(job: JobRow, onCancel: (fn: () => void) => void, cancelled: { value: boolean }): Promise<Record<string, unknown>> {
    const kind = job.kind as JobKind;
    const c = this.d.catalog;
    const jobLog = (level: 'info' | 'warning' | 'error', message: string) => void c.appendJobLog(job.id, this.now(), level, message);
    if (kind === 'prune') return this.prune(job);
    if (kind === 'gc') return this.d.maintenance.gc(jobLog);
    if (kind === 'verify') return this.d.maintenance.verify(job, jobLog);
    if (kind === 'catalog-backup') return this.catalogBackup(job);
    if (kind === 'recovery' && job.agent === null) return this.serverRecovery(job, cancelled);
    if (!runsOnAgent({ kind, agent: job.agent })) throw new CustosError('internal', `no runner for ${kind}`);
    const params = JSON.parse(job.params) as Record<string, unknown>;
    const agentName = job.agent!;
    const session = this.d.hub.get(agentName);
    if (!session) throw new CustosError('io', `agent ${agentName} is not connected`, { transient: true });
    const source = job.source_id ? await c.source(job.source_id) : undefined;
    if (!source) throw new CustosError('not-found', `data source ${job.source_id} no longer exists`);
    const sourceKind = kindOf(source);
    if (!session.kinds.has(sourceKind)) throw new CustosError('usage', `agent ${agentName} cannot protect ${sourceKind} data sources: update it to this server's version`);
    const parts = kind === 'recovery'
      ? await this.recoveryParts(job, source, params, jobLog, onCancel, cancelled)
      : await this.backupParts(job, kind as BackupJobSpec['kind'], source, jobLog);
    try {
      const result = await this.runChannel(job, kind, source.id, session, parts.spec, parts.channel, onCancel, cancelled);
      if (kind === 'recovery' && params['original'] === true) {
        // A new timeline began, and the replication slot went with the old data directory: a check makes a new express full (and slot).
        await this.d.alerts.markInconsistent(source.id, `job ${job.id} recovered it over itself: a new timeline began and its replication slot stayed with the old data directory; the consistency check makes a new express full`, this.d.clock.now());
      }
      return result;
    } finally {
      parts.unpin();
    }
  }

  /** What a job sends its agent, the channel that serves it, and the unpinning of the point it reads (kept live for gc while it runs). */
  private async recoveryParts(
    job: JobRow, source: DataSourceRow, params: Record<string, unknown>, jobLog: JobLogger, onCancel: (fn: () => void) => void, cancelled: { value: boolean },
  ): Promise<JobParts> {
    const target = String(params['target']);
    const allowSystemTarget = params['allowSystemTarget'] === true;
    // The agent checks again on its disk (links resolved); this refuses early what is plain from the path. (An application over itself: the agent finds its place.)
    if (!allowSystemTarget && params['original'] !== true && isSystemTarget(target)) {
      throw new CustosError('denied', `refused: recovering onto ${target} would replace system files; recover elsewhere, or an admin may allow a system target`);
    }
    let point = await this.loadPoint(String(params['point']));
    // An application's latest: the log not yet synchronized first (a tail synchronization on the source's agent).
    if (params['latest'] === true && point.app) point = (await this.tailSync(job, source, point, jobLog, onCancel, cancelled, params['original'] === true)) ?? point;
    const unpin = this.d.pool.activity.pin(point);
    const events = { progress: this.progressWriter(job), log: jobLog };
    const spec: JobSpec = {
      id: job.id,
      kind: 'recovery',
      source: sourceRef(source),
      point: { id: point.id, pages: point.manifest },
      target,
      items: (params['items'] as string[] | undefined) ?? [],
      // Checked by the route when queued, and again by the agent (parseRecoverySettings).
      conflict: (params['conflict'] as ConflictModeName | undefined) ?? DEFAULT_CONFLICT,
      security: (params['security'] as SecurityModeName | undefined) ?? 'point',
      throttle: (params['throttle'] as WireThrottleRule[] | undefined) ?? [],
      keys: this.wireKeys(),
      compressionLevel: this.d.pool.config.compression.level,
      allowSystemTarget,
      ...(point.app ? { app: appRecoverySettings(point, source.id, params) } : {}),
    };
    return { spec, channel: new RecoveryChannel(this.d.pool, point, events), unpin };
  }

  /**
   * The latest of an application data source (DPM's "latest"): a
   * synchronization on its agent before the recovery — a running cluster's
   * as any, a stopped one's read from what its pg_wal holds (a tail point).
   * Its point, or null when there is nothing more to read (the job log says
   * why): the newest point is the latest then.
   */
  private async tailSync(
    job: JobRow, source: DataSourceRow, newest: RecoveryPointRecord, jobLog: JobLogger, onCancel: (fn: () => void) => void, cancelled: { value: boolean },
    mustRead = false,
  ): Promise<RecoveryPointRecord | null> {
    const latestIs = `the latest is the newest point ${newest.id} of ${newest.time}`;
    if (newest.app?.logMode !== 'logs') {
      jobLog('info', `${source.id} is protected by express fulls only: ${latestIs}`);
      return null;
    }
    const session = this.d.hub.get(source.agent);
    if (!session?.kinds.has('postgres')) {
      jobLog('warning', `the agent of ${source.id} (${source.agent}) is not connected, so the log not yet synchronized cannot be read: ${latestIs}`);
      return null;
    }
    jobLog('info', `reading the log of ${source.id} not yet synchronized on ${source.agent} first`);
    try {
      const parts = await this.backupParts(job, 'sync', source, jobLog, { tail: true });
      try {
        const result = await this.runChannel(job, 'sync', source.id, session, parts.spec, parts.channel, onCancel, cancelled);
        jobLog('info', `the latest: point ${String(result['point'])}`);
        return await this.loadPoint(String(result['point']));
      } finally {
        parts.unpin();
      }
    } catch (err) {
      // Over the cluster itself, an older point than asked for would lose what the cluster holds: the recovery does not go on.
      if (cancelled.value || mustRead) throw err;
      jobLog('warning', `the log not yet synchronized could not be read (${errorMessage(err)}): ${latestIs}`);
      return null;
    }
  }

  private async backupParts(job: JobRow, kind: BackupJobSpec['kind'], source: DataSourceRow, jobLog: JobLogger, options: { tail?: boolean } = {}): Promise<JobParts> {
    const c = this.d.catalog;
    const sourceKind = kindOf(source);
    const events = { progress: this.progressWriter(job), log: jobLog };
    const newestRow = sourceKind === 'fs' ? await c.newestPoint(source.id) : await this.newestToFollow(source.id);
    const newest = newestRow ? await this.loadPoint(newestRow.id) : null;
    // A check of an application's points: its WAL chain first (app-check.ts). Damage found, nothing of the newest point counts as the agent's own: it offers every chunk, and what is not stored whole is stored again.
    const whole = kind === 'consistency-check' && sourceKind !== 'fs' ? await runChainCheck(this.d, source.id, jobLog) : true;
    const refusal = sourceKind === 'fs' ? null : appJobRefusal(kind, source.id, newest?.app ?? null);
    if (refusal !== null) throw new CustosError('usage', refusal);
    const logSync = sourceKind !== 'fs' && kind === 'sync';
    // An express full reads every file (a page rewritten within one clock tick keeps its file's stat): no previous manifest.
    // A log synchronization extends its previous point's manifest with the new WAL.
    const previous = kind !== 'consistency-check' && (sourceKind === 'fs' || logSync) ? newest : null;
    const unpin = newest ? this.d.pool.activity.pin(newest) : () => undefined;
    if (kind !== 'consistency-check') await c.updateSource(source.id, { last_sync_started_at: this.now() });
    // A check that creates a (manual) replica leaves it 'none' until done, as a replica-creating sync does: the scheduler waits for it.
    else if (source.replica_state !== 'none') await c.updateSource(source.id, { replica_state: 'checking' });
    const policy = source.group_name ? await this.policyOf(source.group_name) : null;
    // Each synchronization of an application's log is a recovery point, as in DPM.
    const makesRecoveryPoint = kind === 'recovery-point' || source.replica_state === 'none' || sourceKind !== 'fs';
    const channel = new BackupChannel(
      this.d.pool,
      {
        host: source.agent, path: source.path, parent: newest?.id ?? null, previousPages: previous?.manifest ?? [], newest: whole ? newest : null, now: () => this.d.clock.now(),
        app: sourceKind === 'fs' ? null : sourceKind,
        ...(sourceKind === 'fs' ? {} : {
          appCheck: async (meta: AppPointMeta, manifest: readonly ManifestPageRef[]) => {
            checkAppCommit(meta, kind, newest);
            await checkCommitWal(this.d.pool, meta, manifest);
          },
        }),
      },
      events,
      async (record) => this.recordPoint(job, source.id, record, makesRecoveryPoint),
    );
    const spec: JobSpec = {
      id: job.id,
      kind,
      source: sourceRef(source),
      excludes: sourceKind === 'fs' ? policy?.excludes ?? [] : [],
      keys: this.wireKeys(),
      compressionLevel: this.d.pool.config.compression.level,
      chunker: this.d.pool.config.chunker,
      previous: previous ? { point: previous.id, pages: previous.manifest } : null,
      fullScan: kind === 'consistency-check',
      ...(sourceKind === 'postgres' ? {
        app: {
          kind: 'postgres' as const, port: Number(source.path), blockSize: POSTGRES_BLOCK_SIZE, systemIdentifier: newest?.app?.systemIdentifier ?? null,
          slot: slotNameOf(source), previous: logSync && newest?.app ? { point: newest.id, app: newest.app } : null,
          ...(options.tail ? { tail: true } : {}),
        },
      } : {}),
    };
    return { spec, channel, unpin };
  }

  /** A recovery to a folder of the server: run here, with no agent (server-recovery.ts). */
  private async serverRecovery(job: JobRow, cancelled: { value: boolean }): Promise<Record<string, unknown>> {
    if (!this.d.serverRecoveries) throw new CustosError('denied', 'this server takes no recoveries to its own folders');
    const params = JSON.parse(job.params) as Record<string, unknown>;
    const source = job.source_id ? await this.d.catalog.source(job.source_id) : undefined;
    if (!source) throw new CustosError('not-found', `data source ${job.source_id} no longer exists`);
    const point = await this.loadPoint(String(params['point']));
    const jobLog = (level: 'info' | 'warning' | 'error', message: string) => void this.d.catalog.appendJobLog(job.id, this.now(), level, message);
    return this.d.serverRecoveries.run({
      id: job.id,
      point,
      source: { id: source.id, path: source.path },
      target: String(params['target']),
      items: (params['items'] as string[] | undefined) ?? [],
      conflict: (params['conflict'] as ConflictModeName | undefined) ?? DEFAULT_CONFLICT,
      security: (params['security'] as SecurityModeName | undefined) ?? 'point',
      throttle: (params['throttle'] as WireThrottleRule[] | undefined) ?? [],
    }, { progress: this.progressWriter(job), log: jobLog }, cancelled);
  }

  private async runChannel(
    job: JobRow,
    kind: JobKind,
    sourceId: string,
    session: NonNullable<ReturnType<AgentHub['get']>>,
    spec: JobSpec,
    channel: BackupChannel | RecoveryChannel,
    onCancel: (fn: () => void) => void,
    cancelled: { value: boolean },
  ): Promise<Record<string, unknown>> {
    session.addJob(job.id, channel);
    onCancel(() => {
      session.send({ t: 'cancel', job: job.id });
      // An agent that does not answer a cancel within 30 s is not waited for.
      setTimeout(() => channel.failed({ code: 'cancelled', message: 'cancelled', transient: false }), 30_000).unref();
    });
    if (cancelled.value) throw new CustosError('cancelled', 'cancelled');
    session.send({ t: 'job', job: spec });
    try {
      const result = await channel.finished;
      if (channel instanceof BackupChannel) {
        if (!channel.committed) throw new CustosError('internal', 'the agent finished without committing a recovery point');
        await this.replicaOk(sourceId, kind);
        const c = channel.committed;
        await this.journalVerified(sourceId, result);
        // The server's own figures where the agent's could be wrong (or are not told to it: bytesAdded).
        const recoveryPoint = (await this.d.catalog.point(c.id))?.recovery_point === 1;
        // An express full: where its base backup starts and stops in the WAL (the point object's, which the server checked).
        const app = c.app ? {
          app: c.app.point === 'log'
            ? { point: 'log', base: c.app.base, walEnd: c.app.walEnd, marker: c.app.marker?.name ?? null, markerTime: c.app.marker?.time ?? null, timeline: c.app.timeline }
            : { point: 'full', logMode: c.app.logMode, startLsn: c.app.startLsn, stopLsn: c.app.stopLsn, timeline: c.app.timeline },
        } : {};
        if (c.app?.point === 'full') await this.logConsumerAlert(sourceId, c.app, result['logModeWhy']);
        return { ...result, point: c.id, recoveryPoint, time: c.time, bytesAdded: c.summary.bytesAdded, summary: c.summary, chunksReceived: channel.chunksReceived, bytesReceived: channel.bytesReceived, ...app };
      }
      return result;
    } finally {
      session.removeJob(job.id);
    }
  }

  /**
   * The point an application's next job follows: its newest, passing over
   * tail points (the WAL a stopped cluster left, read for a latest). A tail
   * ends at the last whole page read, which the cluster, started again,
   * writes over from its last whole record: the log goes on from the point
   * before, which the slot still holds.
   */
  private async newestToFollow(sourceId: string): Promise<PointRow | undefined> {
    const rows = await this.d.catalog.listPoints(sourceId);
    for (let i = rows.length - 1; i >= 0; i--) {
      const app = appOf(rows[i]);
      if (!(app?.point === 'log' && app.marker === null)) return rows[i];
    }
    return undefined;
  }

  /**
   * DPM's one-consumer rule: an express full that found the cluster's log
   * taken by another tool (or not to be had) says why, and the data source
   * is protected by express fulls only until one finds it free again.
   */
  private async logConsumerAlert(sourceId: string, app: AppPointMeta, why: unknown): Promise<void> {
    const now = this.d.clock.now();
    if (app.logMode === 'logs') return this.d.alerts.resolve('log-consumer', sourceId, now);
    if (typeof why !== 'string') return;
    await this.d.alerts.raise('log-consumer', sourceId, `${sourceId} is protected by express fulls only, so it can be recovered only to them: ${why}`, now);
  }

  /** Whether an application data source's log is synchronized: as its newest point says (full-only before its first). */
  private async logModeOf(sourceId: string): Promise<'logs' | 'full-only'> {
    const app = appOf(await this.d.catalog.newestPoint(sourceId));
    return app?.logMode === 'logs' ? 'logs' : 'full-only';
  }

  private async policyOf(group: string): Promise<ProtectionPolicy | null> {
    const g = await this.d.catalog.group(group);
    return g ? (JSON.parse(g.policy) as ProtectionPolicy) : null;
  }

  private async groupPolicies(): Promise<Map<string, ProtectionPolicy>> {
    return new Map((await this.d.catalog.listGroups()).map((g) => [g.name, JSON.parse(g.policy) as ProtectionPolicy]));
  }

  private async loadPoint(id: string): Promise<RecoveryPointRecord> {
    const row = await this.d.catalog.point(id);
    if (!row) throw new CustosError('not-found', `recovery point ${id} does not exist`);
    return this.d.pool.findPoint(id);
  }

  /** Catalog row after the point object is durable (the order that makes crashes harmless). */
  private async recordPoint(job: JobRow, sourceId: string, record: RecoveryPointRecord, recoveryPoint: boolean): Promise<void> {
    const s = record.summary;
    await this.d.catalog.insertPoint({
      id: record.id,
      source_id: sourceId,
      time: record.time,
      recovery_point: recoveryPoint ? 1 : 0,
      partial: record.partial ? 1 : 0,
      files: s.filesNew + s.filesChanged + s.filesUnchanged,
      logical_bytes: s.logicalBytes,
      bytes_added: s.bytesAdded,
      job_id: job.id,
      app: record.app ? JSON.stringify(record.app) : null,
    });
    if (recoveryPoint) this.d.pointsChanged?.(sourceId);
    await this.d.catalog.appendJobLog(job.id, this.now(), 'info', committedLine(record, recoveryPoint, sourceId));
    await this.d.alerts.pointCommitted(sourceId, this.d.clock.now());
  }

  /**
   * A verification scan (the walk itself was complete, so the point is
   * right) found changes the agent's change journal had missed: the replica
   * is marked inconsistent with the paths in the alert, so a consistency
   * check runs, and the miss is counted.
   */
  private async journalVerified(sourceId: string, result: Record<string, unknown>): Promise<void> {
    const walk = result['walk'] as { journalMissed?: number; journalMissedPaths?: string[] } | undefined;
    const n = walk?.journalMissed ?? 0;
    if (n === 0) return;
    this.d.journalMissed?.(sourceId, n);
    const paths = walk?.journalMissedPaths ?? [];
    await this.d.alerts.markInconsistent(sourceId, `a verification scan found ${n} changed item(s) the change journal had missed (${missedPathsText(paths, n)})`, this.d.clock.now());
  }

  /**
   * The replica is whole. A consistency check, and the job that created the
   * replica (it made a recovery point too), read the whole data source: the
   * slots already past are served, so no redundant check or point follows.
   */
  private async replicaOk(sourceId: string, kind: JobKind): Promise<void> {
    const s = await this.d.catalog.source(sourceId);
    const created = s?.replica_state === 'none';
    const policy = s?.group_name ? await this.policyOf(s.group_name) : null;
    const marks = s && policy ? servedMarksPatch(s, policy, this.d.clock.now(), { points: created, check: created || kind === 'consistency-check' }) : {};
    await this.d.catalog.updateSource(sourceId, { replica_state: 'ok', last_sync_ok_at: this.now(), ...marks });
    // An express full is a whole base backup: it settles any doubt about the replica (after a resync, say) as a check does.
    if (kind === 'consistency-check' || (s && s.kind !== 'fs')) await this.d.alerts.replicaConsistent(sourceId, this.d.clock.now());
  }

  private async catalogBackup(job: JobRow): Promise<Record<string, unknown>> {
    if (!this.d.catalogBackups) throw new CustosError('internal', 'this server takes no catalog backups');
    const params = JSON.parse(job.params) as { reason?: unknown };
    const reason: CatalogBackupReason = CATALOG_BACKUP_REASONS.includes(params.reason as CatalogBackupReason) ? (params.reason as CatalogBackupReason) : 'on demand';
    return this.d.catalogBackups.take(reason, job.id, (m) => void this.d.catalog.appendJobLog(job.id, this.now(), 'info', m));
  }

  /**
   * The prune job (nightly, or after a retention range changed): every data
   * source in a group. One with a running job is left to the end of that job
   * (pruneAfterJob), which prunes it then.
   */
  private async prune(job: JobRow): Promise<Record<string, unknown>> {
    const c = this.d.catalog;
    const groups = await this.groupPolicies();
    let deleted = 0;
    let skipped = 0;
    for (const s of await c.listSources()) {
      const policy = s.group_name ? groups.get(s.group_name) : undefined;
      if (!policy) continue;
      const busy = await c.listJobs({ source: s.id, states: ['running'], limit: 1 });
      if (busy.length > 0) {
        skipped++;
        await c.appendJobLog(job.id, this.now(), 'info', `${s.id}: job ${busy[0]!.id} is running; this data source is pruned when it ends`);
        continue;
      }
      const pruned = await this.pruneSource(s, policy);
      deleted += pruned.length;
      if (pruned.length > 0) await c.appendJobLog(job.id, this.now(), 'info', `${s.id}: ${describePruned(pruned, policy, maxRecoveryPoints(s.kind))}`);
    }
    return { pointsDeleted: deleted, sourcesLeftToTheirJobs: skipped };
  }

  /**
   * When a job of a data source ends (succeeded, failed, cancelled or to be
   * retried), the data source is pruned, unless another of its jobs still
   * runs (the last to end prunes). So a data source the prune job left
   * alone, a replica-only point a synchronization superseded, and a
   * recovery point made beyond the limit are pruned now, not next night.
   * Pruning is cheap: one data source's catalog rows.
   */
  private async pruneAfterJob(job: JobRow): Promise<void> {
    if (job.source_id === null || this.stopping) return;
    const c = this.d.catalog;
    try {
      const source = await c.source(job.source_id);
      const policy = source?.group_name ? await this.policyOf(source.group_name) : null;
      if (!source || !policy) return;
      if ((await c.listJobs({ source: source.id, states: ['running'], limit: 1 })).length > 0) return;
      const pruned = await this.pruneSource(source, policy);
      if (pruned.length > 0) await c.appendJobLog(job.id, this.now(), 'info', `after the job: ${describePruned(pruned, policy, maxRecoveryPoints(source.kind))}`);
    } catch (err) {
      this.d.log(`job engine: pruning ${job.source_id} after job ${job.id}: ${errorMessage(err)}`);
    }
  }

  /**
   * Prunes one data source by the rules of pruneDecisions (retention.ts):
   * the one place points are pruned, whichever path asks (the prune job, the
   * end of a job, a retention change). Catalog row first, then the pool
   * object, so a point is invisible before its object goes. One data source
   * at a time in this server, so two paths never delete the same point.
   */
  private pruneSource(source: { readonly id: string; readonly kind: string }, policy: ProtectionPolicy): Promise<PruneDecision[]> {
    const sourceId = source.id;
    const run = this.pruning.then(async () => {
      const c = this.d.catalog;
      const points = (await c.listPoints(sourceId)).map((p) => ({ id: p.id, time: new Date(p.time), recoveryPoint: p.recovery_point === 1 }));
      const decisions = pruneDecisions(points, policy, this.d.clock.now(), { maxRecoveryPoints: maxRecoveryPoints(source.kind) });
      for (const d of decisions) {
        await c.deletePoints([d.id]);
        await this.d.pool.deletePoint(d.id as RecoveryPointId);
      }
      if (decisions.length > 0) this.d.pointsChanged?.(sourceId);
      return decisions;
    });
    this.pruning = run.catch(() => undefined);
    return run;
  }
}

/** Recovery points a data source keeps at most: 64 of a tree of files (VSS's limit in DPM), 512 of an application (DPM's for SQL Server and Exchange). */
function maxRecoveryPoints(kind: string): number {
  return kind === 'fs' ? MAX_FILE_RECOVERY_POINTS : MAX_APP_RECOVERY_POINTS;
}

/** Relation files of an express full are cut in PostgreSQL's page size (docs/design/postgresql.md §4.2). */
const POSTGRES_BLOCK_SIZE = 8192;

/**
 * The commit of an application data source's job, against what the job was
 * for: an express full is a full point of the same cluster; a log
 * synchronization is a log point on the base of the point it follows, its
 * WAL going on from where that one's ended.
 */
export function checkAppCommit(meta: AppPointMeta, kind: JobKind, newest: RecoveryPointRecord | null): void {
  const prev = newest?.app ?? null;
  if (prev && meta.systemIdentifier !== prev.systemIdentifier) throw new CustosError('denied', `the point is of another cluster (system identifier ${meta.systemIdentifier}, was ${prev.systemIdentifier})`);
  if (kind !== 'sync') {
    if (meta.point !== 'full') throw new CustosError('denied', `a ${kind} job commits an express full, not a ${meta.point} point`);
    return;
  }
  if (meta.point !== 'log' || !prev || !newest) throw new CustosError('denied', 'a log synchronization commits a log point after a point of the same data source');
  const base = prev.point === 'full' ? newest.id : prev.base;
  if (meta.base !== base) throw new CustosError('denied', `the log point names base ${meta.base}, not ${base}`);
  for (const k of ['version', 'walSegmentSize', 'blockSize', 'timeline', 'startLsn', 'stopLsn', 'startTime', 'stopTime', 'dataChecksums'] as const) {
    if (meta[k] !== prev[k]) throw new CustosError('denied', `the log point's ${k} is not its base's`);
  }
  if (meta.walSegments[0] !== prev.walSegments[0]) throw new CustosError('denied', "the log point's WAL does not start where its base's does");
  const prevEnd = parseLsn(prev.walEnd ?? prev.stopLsn)!;
  if (parseLsn(meta.walEnd!)! < prevEnd) throw new CustosError('denied', `the log point's WAL ends at ${meta.walEnd}, before the previous point's end`);
}

type JobLogger = (level: 'info' | 'warning' | 'error', message: string) => void;

interface JobParts {
  readonly spec: JobSpec;
  readonly channel: BackupChannel | RecoveryChannel;
  readonly unpin: () => void;
}

function kindOf(source: DataSourceRow): 'fs' | 'postgres' {
  return source.kind === 'postgres' ? 'postgres' : 'fs';
}

function sourceRef(source: DataSourceRow): JobSpec['source'] {
  const kind = kindOf(source);
  return { id: source.id, path: source.path, ...(kind === 'fs' ? {} : { kind }) };
}

/** How a recovered postgres point is made ready: where it stops (the end of its base backup), and whether it waits there. */
function appRecoverySettings(point: RecoveryPointRecord, sourceId: string, params: Record<string, unknown>): PostgresRecoverySettings {
  const app = point.app!;
  // A time the route planned (recovery_target_time); else the point itself: the end of its base, or its marker.
  const at = typeof params['appTime'] === 'string' ? params['appTime'] : null;
  // A tail point (no marker): all its WAL, to the last whole record.
  const marker = app.point === 'log' ? app.marker ?? null : undefined;
  const target: PostgresRecoveryTarget = at ? { kind: 'time', time: at } : marker ? { kind: 'name', name: marker.name } : marker === null ? { kind: 'latest' } : { kind: 'immediate' };
  const what = marker ? `a log synchronization of ${marker.time.slice(0, 19).replace('T', ' ')} UTC`
    : marker === null ? `the latest: the WAL left on the stopped cluster, read at ${point.time.slice(0, 19).replace('T', ' ')} UTC`
      : `an express full of ${app.stopTime.slice(0, 19).replace('T', ' ')} UTC`;
  return {
    kind: 'postgres',
    target,
    paused: params['paused'] === true,
    segmentBytes: app.walSegmentSize,
    describe: `point ${point.id} of ${sourceId}, ${what}${at ? `, replayed to ${at}` : ''}`,
    ...(typeof params['instancePort'] === 'number' ? { instance: { port: params['instancePort'] } } : {}),
    ...(params['original'] === true ? { original: { port: Number(point.source.path), systemIdentifier: app.systemIdentifier } } : {}),
  };
}

/**
 * The job log's line for a committed point. A synchronization's point is
 * replica-only: it is not among the recovery points (`point list` leaves it
 * out) and the next point replaces it, so the line says so and how to see it.
 */
export function committedLine(record: RecoveryPointRecord, recoveryPoint: boolean, sourceId: string): string {
  const s = record.summary;
  const what = recoveryPoint
    ? `recovery point ${record.id} committed`
    : `replica-only synchronization point ${record.id} committed (not a recovery point: the next synchronization or recovery point replaces it; custos point list ${sourceId} --all shows it)`;
  return `${what}: ${s.filesNew} new, ${s.filesChanged} changed, ${s.filesUnchanged} unchanged files; ${s.bytesAdded} bytes added`;
}

/** "pruned 3 point(s): 1 older than the retention range of 5 days, 2 replica-only superseded by a newer point". */
function describePruned(pruned: readonly PruneDecision[], policy: ProtectionPolicy, max: number): string {
  const count = (reason: PruneDecision['reason']) => pruned.filter((d) => d.reason === reason).length;
  const parts = [
    [count('expired'), `older than the retention range of ${policy.retentionDays} day${policy.retentionDays === 1 ? '' : 's'}`],
    [count('over-limit'), `over the limit of ${max} recovery points`],
    [count('superseded'), 'replica-only superseded by a newer point'],
  ] as const;
  return `pruned ${pruned.length} point(s): ${parts.filter(([n]) => n > 0).map(([n, what]) => `${n} ${what}`).join(', ')}`;
}

/** The schedule's record of the configuration fingerprint and since when it has held (null when absent or malformed). */
function parseSeen(text: string | null): { fingerprint: string; since: Date } | null {
  if (!text) return null;
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null) return null;
    const { fingerprint, since } = v as Record<string, unknown>;
    if (typeof fingerprint !== 'string' || typeof since !== 'string' || Number.isNaN(Date.parse(since))) return null;
    return { fingerprint, since: new Date(since) };
  } catch {
    return null;
  }
}

function slotOf(j: JobRow): JobSlot {
  return { id: j.id, kind: j.kind as JobKind, source: j.source_id, agent: j.agent };
}
