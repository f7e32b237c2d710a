/** Catalog rows → the REST API's objects (docs/design/rest-api.md). */
import type { AgentRow, AlertRow, DataSourceRow, GroupRow, JobLogRow, JobRow, PointRow } from '../catalog/index.js';
import { formatCheck, formatReplica, type ProtectionPolicy } from '../protection/index.js';

export function agentView(a: AgentRow, connected: boolean, dataSources: string[]): Record<string, unknown> {
  return {
    name: a.name,
    status: connected ? 'connected' : 'disconnected',
    lastSeen: a.last_seen,
    version: a.version,
    hostname: a.hostname,
    attachedAt: a.attached_at,
    dataSources,
  };
}

export function groupView(g: GroupRow, sources: string[]): Record<string, unknown> {
  const p = JSON.parse(g.policy) as ProtectionPolicy;
  return {
    name: g.name,
    sources,
    retentionDays: p.retentionDays,
    syncMinutes: p.syncMinutes,
    pointTimes: p.pointTimes,
    days: p.days,
    excludes: p.excludes,
    replica: formatReplica(p),
    check: formatCheck(p),
    createdAt: g.created_at,
  };
}

export function sourceView(s: DataSourceRow, newest: PointRow | undefined, recoveryPoints: number): Record<string, unknown> {
  return {
    id: s.id,
    agent: s.agent,
    kind: s.kind,
    path: s.path,
    group: s.group_name,
    replicaState: s.replica_state,
    newestPoint: newest?.time ?? null,
    recoveryPoints,
    allocationBytes: Number(s.allocation_bytes),
    usedBytes: Number(s.used_bytes),
    lastSynchronized: s.last_sync_ok_at,
  };
}

export function pointView(p: PointRow): Record<string, unknown> {
  return {
    id: p.id,
    time: p.time,
    source: p.source_id,
    recoveryPoint: p.recovery_point === 1,
    partial: p.partial === 1,
    files: Number(p.files),
    logicalBytes: Number(p.logical_bytes),
    bytesAdded: Number(p.bytes_added),
  };
}

export function jobView(j: JobRow, log?: JobLogRow[]): Record<string, unknown> {
  return {
    id: j.id,
    kind: j.kind,
    state: j.state,
    source: j.source_id,
    agent: j.agent,
    createdAt: j.created_at,
    startedAt: j.started_at,
    finishedAt: j.finished_at,
    attempts: j.attempts,
    progress: JSON.parse(j.progress) as unknown,
    error: j.error,
    result: j.result === null ? null : (JSON.parse(j.result) as unknown),
    ...(log ? { log } : {}),
  };
}

export function alertView(a: AlertRow): Record<string, unknown> {
  return {
    id: a.id,
    kind: a.kind,
    severity: a.severity,
    state: a.state,
    subject: a.subject,
    message: a.message,
    recommendedAction: a.recommended_action,
    raisedAt: a.raised_at,
    resolvedAt: a.resolved_at,
  };
}
