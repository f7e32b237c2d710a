/**
 * The catalog's tables as kysely sees them. Column types are what both SQLite
 * and PostgreSQL store: text, integers (bigint-safe numbers), and JSON kept
 * as text so the same queries run on either.
 */
import type { Generated } from 'kysely';

export interface SettingsTable {
  key: string;
  value: string;
}

export interface ApiTokensTable {
  id: Generated<number>;
  name: string;
  role: string;
  token_hash: string;
  created_at: string;
  /** JSON array of scopes (`group:NAME`, `source:ID`); [] = unscoped. */
  scopes: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
}

/** People who sign in to the console (docs/design/security.md, "Console users"). */
export interface UsersTable {
  id: Generated<number>;
  name: string;
  role: string;
  /** JSON array of scopes, as for API tokens. */
  scopes: string;
  /** Self-describing scrypt hash (src/server/passwords.ts); never leaves the server. */
  password_hash: string;
  created_at: string;
  password_changed_at: string;
  /** Failed sign-ins in a row (reset by a successful one). */
  failed_sign_ins: Generated<number>;
  locked_until: string | null;
  last_sign_in_at: string | null;
  /** My files: the agent and the account there this user is linked to (both null: not linked). */
  link_agent: string | null;
  link_account: string | null;
  /** JSON {uid, gid, groups} of the account as its agent last answered, and when. */
  link_identity: string | null;
  link_checked_at: string | null;
}

/** Browser sessions of console users. */
export interface SessionsTable {
  id: Generated<number>;
  /** SHA-256 (hex) of the cookie's secret. */
  secret_hash: string;
  /** The token the console sends back in x-custos-csrf on calls that change something. */
  csrf: string;
  user_id: number;
  created_at: string;
  last_used_at: string;
  /** The latest the session may live (7 days after sign-in); idle expiry is last_used_at + 12 h. */
  expires_at: string;
  address: string | null;
}

export interface AuditLogTable {
  id: Generated<number>;
  time: string;
  actor: string;
  role: string | null;
  action: string;
  target: string | null;
  outcome: string;
  /** JSON object, bounded in size; never holds a secret. */
  detail: string;
  address: string | null;
}

export interface EnrollmentTokensTable {
  secret_hash: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
  used_by: string | null;
}

export interface AgentsTable {
  name: string;
  cert_serial: string;
  cert_fingerprint: string;
  hostname: string;
  attached_at: string;
  last_seen: string | null;
  version: string | null;
  revoked_at: string | null;
}

export interface DataSourcesTable {
  id: string;
  agent: string;
  kind: string;
  path: string;
  group_name: string | null;
  replica_state: string;
  allocation_bytes: number;
  used_bytes: number;
  created_at: string;
  last_sync_started_at: string | null;
  last_sync_ok_at: string | null;
  last_point_slot: string | null;
  last_check_slot: string | null;
  added_to_group_at: string | null;
}

export interface ProtectionGroupsTable {
  name: string;
  policy: string;
  created_at: string;
  /** 1: end-user recovery (custos my) is switched on for the group's data sources. */
  end_user_recovery: Generated<number>;
  /** SLA targets (0006): the longest acceptable recovery point objective and recovery time, in minutes; null: none. */
  rpo_target_minutes: Generated<number | null>;
  rto_target_minutes: Generated<number | null>;
}

export interface RecoveryPointsTable {
  id: string;
  source_id: string;
  time: string;
  recovery_point: number;
  partial: number;
  files: number;
  logical_bytes: number;
  bytes_added: number;
  job_id: number | null;
  /** An application point's metadata (JSON of AppPointMeta, as in the point object); null for a point of files. */
  app: Generated<string | null>;
}

export interface JobsTable {
  id: Generated<number>;
  kind: string;
  state: string;
  source_id: string | null;
  agent: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  attempts: number;
  next_attempt_at: string;
  progress: string;
  error: string | null;
  result: string | null;
  params: string;
  slot: string | null;
}

export interface JobLogTable {
  id: Generated<number>;
  job_id: number;
  time: string;
  level: string;
  message: string;
}

export interface AlertsTable {
  id: Generated<number>;
  kind: string;
  subject: string;
  severity: string;
  state: string;
  message: string;
  recommended_action: string;
  raised_at: string;
  resolved_at: string | null;
}

export interface PoolDirectoriesTable {
  path: string;
  added_at: string;
}

export interface NotificationRecipientsTable {
  address: string;
  /** critical | warning | info: the least severe alert this recipient is told about. */
  min_severity: string;
  /** JSON array of protection group names; [] = alerts of every group (and of none). */
  groups: string;
  /** 1: also a mail when an alert is resolved. */
  resolved: number;
  created_at: string;
}

export interface NotificationWebhooksTable {
  id: Generated<number>;
  url: string;
  /** The HMAC key of the signature header; never leaves the server. */
  secret: string;
  min_severity: string;
  created_at: string;
}

export interface NotificationOutboxTable {
  id: Generated<number>;
  channel: string;
  /** An e-mail address, or the id of a webhook (as text). */
  destination: string;
  subject: string;
  /** The mail's text, or the webhook's JSON body. */
  body: string;
  state: string;
  created_at: string;
  next_attempt_at: string;
  attempts: number;
  last_error: string | null;
  sent_at: string | null;
  /** JSON {fileName, contentType, base64} of the one file a mail carries (a scheduled report); null: none. */
  attachment: Generated<string | null>;
}

/** Reports mailed once a day (custos report schedule). */
export interface ReportSchedulesTable {
  report: string;
  /** HH:MM, the server's local time. */
  daily_at: string;
  /** JSON array of e-mail addresses. */
  recipients: string;
  format: string;
  created_at: string;
  /** Local YYYY-MM-DD of the last day it was queued: once a day, across restarts. */
  last_sent_day: string | null;
}

export interface CatalogSchema {
  settings: SettingsTable;
  api_tokens: ApiTokensTable;
  enrollment_tokens: EnrollmentTokensTable;
  agents: AgentsTable;
  data_sources: DataSourcesTable;
  protection_groups: ProtectionGroupsTable;
  recovery_points: RecoveryPointsTable;
  jobs: JobsTable;
  job_log: JobLogTable;
  alerts: AlertsTable;
  pool_directories: PoolDirectoriesTable;
  audit_log: AuditLogTable;
  users: UsersTable;
  sessions: SessionsTable;
  notification_recipients: NotificationRecipientsTable;
  notification_webhooks: NotificationWebhooksTable;
  notification_outbox: NotificationOutboxTable;
  report_schedules: ReportSchedulesTable;
}
