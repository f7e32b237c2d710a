/** Catalog rows → the REST API's objects (docs/design/rest-api.md). */
import type { AgentRow, AlertRow, ApiTokenRow, AuditRow, DataSourceRow, GroupRow, JobLogRow, JobRow, PointRow, UserRow } from '../catalog/index.js';
import { userLinkOf } from '../catalog/index.js';
import { alertAction, formatCheck, formatReplica, type ProtectionPolicy } from '../protection/index.js';
import { JOB_KIND_NAMES, ROLES } from '../protocol/rest/index.js';
import type { JobKind } from '../jobs/index.js';
import type { Agent, Alert, AuditEntry, DataSource, Job, JobLogLine, ProtectionGroup, RecoveryPoint, Token, User } from '../protocol/rest/index.js';

export function agentView(a: AgentRow, connected: boolean, dataSources: string[]): Agent {
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

export function groupView(g: GroupRow, sources: string[]): ProtectionGroup {
  const p = JSON.parse(g.policy) as ProtectionPolicy;
  return {
    name: g.name,
    sources,
    retentionDays: p.retentionDays,
    syncMinutes: p.syncMinutes,
    pointTimes: [...p.pointTimes],
    days: [...p.days],
    excludes: [...p.excludes],
    replica: formatReplica(p),
    check: formatCheck(p),
    endUserRecovery: g.end_user_recovery === 1,
    rpoTargetMinutes: g.rpo_target_minutes ?? null,
    rtoTargetMinutes: g.rto_target_minutes ?? null,
    createdAt: g.created_at,
  };
}

export function sourceView(s: DataSourceRow, newestPoint: string | null, recoveryPoints: number): DataSource {
  return {
    id: s.id,
    agent: s.agent,
    kind: s.kind,
    path: s.path,
    group: s.group_name,
    replicaState: s.replica_state as DataSource['replicaState'],
    newestPoint,
    recoveryPoints,
    allocationBytes: Number(s.allocation_bytes),
    usedBytes: Number(s.used_bytes),
    lastSynchronized: s.last_sync_ok_at,
  };
}

export function pointView(p: PointRow): RecoveryPoint {
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

export function jobView(j: JobRow, log?: JobLogRow[]): Job {
  return {
    id: j.id,
    kind: j.kind,
    state: j.state as Job['state'],
    source: j.source_id,
    agent: j.agent,
    createdAt: j.created_at,
    startedAt: j.started_at,
    finishedAt: j.finished_at,
    attempts: j.attempts,
    progress: JSON.parse(j.progress) as Job['progress'],
    error: j.error,
    result: j.result === null ? null : (JSON.parse(j.result) as Record<string, unknown>),
    ...(log ? { log: log as JobLogLine[] } : {}),
  };
}

export function alertView(a: AlertRow): Alert {
  return {
    id: a.id,
    kind: a.kind,
    severity: a.severity as Alert['severity'],
    state: a.state as Alert['state'],
    subject: a.subject,
    message: a.message,
    recommendedAction: a.recommended_action,
    action: a.state === 'active' ? alertAction(a.kind) : null,
    raisedAt: a.raised_at,
    resolvedAt: a.resolved_at,
  };
}

/** Stored scopes as shown (what cannot be read shows as none; such a token or user is refused at authentication). */
function shownScopes(json: string): string[] {
  try {
    const v: unknown = JSON.parse(json);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

export function tokenView(t: ApiTokenRow): Token {
  return {
    name: t.name,
    role: t.role as Token['role'],
    scopes: shownScopes(t.scopes),
    createdAt: t.created_at,
    expiresAt: t.expires_at,
    lastUsedAt: t.last_used_at,
    revokedAt: t.revoked_at,
  };
}

/** A console user as the API shows it: never the password hash, nor the count of failed sign-ins. */
export function userView(u: UserRow, now: Date): User {
  return {
    name: u.name,
    role: (ROLES as readonly string[]).includes(u.role) ? (u.role as User['role']) : 'damaged',
    scopes: shownScopes(u.scopes),
    createdAt: u.created_at,
    passwordChangedAt: u.password_changed_at,
    lastSignInAt: u.last_sign_in_at,
    lockedUntil: u.locked_until !== null && u.locked_until > now.toISOString() ? u.locked_until : null,
    link: linkView(u),
  };
}

function linkView(u: UserRow): User['link'] {
  const l = userLinkOf(u);
  return l === null ? null : { agent: l.agent, account: l.account, uid: l.identity.uid, gid: l.identity.gid, groups: [...l.identity.groups], checkedAt: l.checkedAt };
}

export function auditView(a: AuditRow): AuditEntry {
  return {
    id: a.id,
    time: a.time,
    actor: a.actor,
    role: a.role,
    action: a.action,
    target: a.target,
    outcome: a.outcome as AuditEntry['outcome'],
    detail: a.detail,
    address: a.address,
  };
}

/** The API's list of job kinds is the job engine's (a kind added to one and not the other fails here). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const JOB_KINDS_AGREE: Same<(typeof JOB_KIND_NAMES)[number], JobKind> = true;
void JOB_KINDS_AGREE;
