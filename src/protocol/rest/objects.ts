/**
 * The objects of the REST API (docs/design/rest-api.md), as TypeBox schemas:
 * each is at once the JSON Schema the server validates and documents in
 * OpenAPI, and (through `Static`) the TypeScript type the server's views,
 * the CLI, the console and the tests use. Change a field here and every
 * copy that disagrees stops compiling.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ISO_LOCAL_TIME_SOURCE, ISO_OFFSET_SOURCE } from '../../base/index.js';

export const Nullable = <T extends TSchema>(t: T, options?: { description?: string }) => Type.Union([t, Type.Null()], options);
const Time = Type.String({ description: 'ISO 8601 UTC time' });
const Count = Type.Integer({ minimum: 0 });

export const ROLES = ['admin', 'operator', 'viewer', 'recovery-operator', 'end-user'] as const;
export type Role = (typeof ROLES)[number];
export const RoleSchema = Type.Union(ROLES.map((r) => Type.Literal(r)));

export const AgentSchema = Type.Object({
  name: Type.String(),
  status: Type.Union([Type.Literal('connected'), Type.Literal('disconnected')]),
  lastSeen: Nullable(Time),
  version: Nullable(Type.String()),
  hostname: Type.String(),
  attachedAt: Time,
  dataSources: Type.Array(Type.String()),
});
export type Agent = Static<typeof AgentSchema>;

/** One entry of a directory on a protected computer, as its agent sees it now (lstat: links are not followed). */
export const LiveEntrySchema = Type.Object({
  name: Type.String({ description: 'the name as text: exact when it is valid UTF-8 without control characters, else with U+FFFD for what is not' }),
  nameBase64: Type.Optional(Type.String({ description: "base64 of the name's exact bytes, present only when `name` is not them" })),
  type: Type.Union([Type.Literal('dir'), Type.Literal('file'), Type.Literal('symlink'), Type.Literal('other')]),
  size: Type.Integer({ minimum: 0, description: 'bytes of a file; 0 for anything else' }),
  mountPoint: Type.Optional(Type.Literal(true, { description: 'present when the entry is on another file system than the directory (a mount point)' })),
});
export type LiveEntry = Static<typeof LiveEntrySchema>;

export const LiveDirectorySchema = Type.Object({
  agent: Type.String(),
  path: Type.String({ description: 'the directory listed (absolute)' }),
  entries: Type.Array(LiveEntrySchema, { description: 'in byte order of the names' }),
  next: Nullable(Type.String({ description: 'pass as `after` for the next page; null: this was the last' })),
});
export type LiveDirectory = Static<typeof LiveDirectorySchema>;

export const DiscoveredFileSystemSchema = Type.Object({
  mountPoint: Type.String(),
  type: Type.String({ description: 'ext4, xfs, btrfs, …' }),
  device: Type.String(),
  sizeBytes: Count,
  usedBytes: Count,
});
export const INSTANCE_STATE_NAMES = ['running', 'down', 'standby'] as const;
export const DiscoveredInstanceSchema = Type.Object({
  id: Type.String({ description: 'the data source it would be: AGENT:postgres:PORT' }),
  kind: Type.String({ description: 'postgres' }),
  port: Type.Integer(),
  socketDir: Nullable(Type.String({ description: 'the Unix socket directory it was found through; null when down' })),
  dataDirectory: Type.String(),
  version: Type.Integer({ description: 'major version' }),
  name: Nullable(Type.String({ description: "pg_lsclusters' name (15/main)" })),
  systemIdentifier: Nullable(Type.String()),
  owner: Type.String({ description: 'the account that runs it' }),
  state: Type.Union(INSTANCE_STATE_NAMES.map((s) => Type.Literal(s))),
  sizeBytes: Count,
  logMode: Nullable(Type.Union([Type.Literal('logs'), Type.Literal('full-only')], { description: 'logs: log synchronization and express fulls; full-only: another tool takes its logs, express fulls only (why says which); null when not protectable' })),
  protectable: Type.Boolean(),
  why: Nullable(Type.String({ description: 'why it cannot be protected, or what to know first' })),
});
export type DiscoveredInstanceView = Static<typeof DiscoveredInstanceSchema>;
export const DiscoverySchema = Type.Object({
  agent: Type.String(),
  fileSystems: Type.Array(DiscoveredFileSystemSchema),
  instances: Type.Array(DiscoveredInstanceSchema, { description: 'application instances (PostgreSQL clusters), by port' }),
  problems: Type.Array(Type.Object({ path: Type.String(), why: Type.String() }), { description: 'sockets that looked like an instance and are not one, with the reason' }),
});
export type Discovery = Static<typeof DiscoverySchema>;

export const REPLICA_STATES = ['ok', 'inconsistent', 'checking', 'none'] as const;
export const DataSourceSchema = Type.Object({
  id: Type.String({ description: 'AGENT:fs:/path or AGENT:postgres:PORT' }),
  agent: Type.String(),
  kind: Type.String({ description: 'fs or postgres' }),
  path: Type.String({ description: 'fs: the absolute path; postgres: the port' }),
  group: Nullable(Type.String()),
  replicaState: Type.Union(REPLICA_STATES.map((s) => Type.Literal(s))),
  newestPoint: Nullable(Type.String({ description: 'time of the newest recovery point (a synchronization makes none: see lastSynchronized)' })),
  recoveryPoints: Count,
  allocationBytes: Count,
  usedBytes: Count,
  lastSynchronized: Nullable(Type.String({ description: 'ISO 8601 UTC time the last successful synchronization ended (a recovery point or consistency check synchronizes too)' })),
});
export type DataSource = Static<typeof DataSourceSchema>;

export const ProtectionGroupSchema = Type.Object({
  name: Type.String(),
  sources: Type.Array(Type.String()),
  retentionDays: Count,
  syncMinutes: Count,
  pointTimes: Type.Array(Type.String({ description: 'HH:MM' })),
  days: Type.Array(Type.String({ description: 'mon … sun' })),
  excludes: Type.Array(Type.String()),
  replica: Type.String({ description: "'now', 'later@HH:MM' or 'manual'" }),
  check: Type.String({ description: "'auto', 'daily@HH:MM' or 'auto,daily@HH:MM'" }),
  endUserRecovery: Type.Boolean({ description: 'people logged into the protected computers may recover files they could read (custos my)' }),
  rpoTargetMinutes: Nullable(Count),
  rtoTargetMinutes: Nullable(Count),
  createdAt: Time,
});
export type ProtectionGroup = Static<typeof ProtectionGroupSchema>;

/** What a new protection group gets unless told otherwise, and the choices the server accepts (the console's wizard offers exactly these). */
export const ProtectionOptionsSchema = Type.Object({
  defaults: Type.Object({
    retentionDays: Count,
    sync: Type.String({ description: 'e.g. 15m' }),
    pointTimes: Type.Array(Type.String()),
    days: Type.Array(Type.String()),
    replica: Type.String(),
    check: Type.String(),
  }),
  syncChoices: Type.Array(Type.String(), { description: 'the allowed synchronization frequencies, e.g. 15m … 24h' }),
  weekdays: Type.Array(Type.String()),
  retentionDays: Type.Object({ min: Count, max: Count }),
  maxPointTimes: Count,
  maxRecoveryPoints: Count,
  allocation: Type.String({ description: 'how the default disk allocation of a data source is computed, in words' }),
});
export type ProtectionOptions = Static<typeof ProtectionOptionsSchema>;

export const GroupAnswerSchema = Type.Object({ group: ProtectionGroupSchema, warnings: Type.Array(Type.String()) });
export type GroupAnswer = Static<typeof GroupAnswerSchema>;

const SourceIdList = Type.Array(Type.String({ minLength: 1, maxLength: 4200 }), { maxItems: 1000 });
const TextList = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 16 });
const GroupInputFields = {
  sources: SourceIdList,
  retention: Type.Union([Type.String({ maxLength: 32 }), Type.Integer()], { description: "days: 5 or '5d' or '2w'" }),
  sync: Type.Union([Type.String({ maxLength: 32 }), Type.Integer()], { description: "minutes: 15 or '15m' or '1h'" }),
  points: Type.Union([Type.String({ maxLength: 200 }), TextList], { description: "'08:00,12:00' or ['08:00','12:00']" }),
  days: Type.Union([Type.String({ maxLength: 100 }), TextList], { description: "'mon,tue' or ['mon','tue']" }),
  excludes: Type.Array(Type.String({ minLength: 1, maxLength: 1024 }), { maxItems: 1000 }),
  replica: Type.String({ maxLength: 32 }),
  check: Type.String({ maxLength: 64 }),
};

/** The policy fields of a group, each optional (a create fills in the defaults, an update changes only what it names). */
const OptionalPolicyFields = {
  retention: Type.Optional(GroupInputFields.retention),
  sync: Type.Optional(GroupInputFields.sync),
  points: Type.Optional(GroupInputFields.points),
  days: Type.Optional(GroupInputFields.days),
  excludes: Type.Optional(GroupInputFields.excludes),
  replica: Type.Optional(GroupInputFields.replica),
  check: Type.Optional(GroupInputFields.check),
  endUserRecovery: Type.Optional(Type.Boolean({ description: 'switch end-user recovery (custos my) on or off; a new group has it off' })),
  rpoTarget: Type.Optional(Nullable(Type.Union([Type.String({ maxLength: 16 }), Type.Integer()], { description: "SLA: the longest acceptable RPO, '1h' or minutes (1 min to 30 d); null clears it" }))),
  rtoTarget: Type.Optional(Nullable(Type.Union([Type.String({ maxLength: 16 }), Type.Integer()], { description: "SLA: the longest acceptable recovery time, '4h' or minutes; null clears it" }))),
};

export const GroupCreateSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 63 }),
    ...GroupInputFields,
    ...OptionalPolicyFields,
  },
  { additionalProperties: false },
);
export type GroupCreate = Static<typeof GroupCreateSchema>;

export const GroupUpdateSchema = Type.Object(
  {
    sources: Type.Optional(SourceIdList),
    addSources: Type.Optional(SourceIdList),
    removeSources: Type.Optional(SourceIdList),
    ...OptionalPolicyFields,
  },
  { additionalProperties: false },
);
export type GroupUpdate = Static<typeof GroupUpdateSchema>;

/** The kinds of job, as the API names them (the same list as src/jobs/kinds.ts; src/server/views.ts checks it at compile time). */
export const JOB_KIND_NAMES = ['sync', 'recovery-point', 'consistency-check', 'recovery', 'prune', 'gc', 'verify', 'catalog-backup'] as const;
export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];
const LogLevel = Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('error')]);

export const JobLogLineSchema = Type.Object({ time: Time, level: LogLevel, message: Type.String() });
export type JobLogLine = Static<typeof JobLogLineSchema>;

export const JobProgressSchema = Type.Object({ phase: Type.String(), filesDone: Count, bytesDone: Count, bytesTotal: Nullable(Count) });

export const JobSchema = Type.Object({
  id: Type.Integer(),
  kind: Type.String({ description: 'sync, recovery-point, consistency-check, recovery, prune, catalog-backup, …' }),
  state: Type.Union(JOB_STATES.map((s) => Type.Literal(s))),
  source: Nullable(Type.String()),
  agent: Nullable(Type.String()),
  createdAt: Time,
  startedAt: Nullable(Time),
  finishedAt: Nullable(Time),
  attempts: Count,
  progress: JobProgressSchema,
  error: Nullable(Type.String()),
  result: Nullable(Type.Record(Type.String(), Type.Unknown())),
  log: Type.Optional(Type.Array(JobLogLineSchema)),
});
export type Job = Static<typeof JobSchema>;

/** A job just asked for, with what the caller should know about it (e.g. that the oldest recovery point will be pruned). */
export const JobWithWarningsSchema = Type.Object({
  ...JobSchema.properties,
  warnings: Type.Array(Type.String(), { description: 'empty, or what the request will do that the caller may not expect' }),
});
export type JobWithWarnings = Static<typeof JobWithWarningsSchema>;

export const RecoveryPointSchema = Type.Object({
  id: Type.String(),
  time: Time,
  source: Type.String(),
  recoveryPoint: Type.Boolean({ description: 'false: a replica-only synchronization point' }),
  partial: Type.Boolean(),
  files: Count,
  logicalBytes: Count,
  bytesAdded: Count,
});
export type RecoveryPoint = Static<typeof RecoveryPointSchema>;

/** An event of GET /api/events: which list changed (the caller fetches it again through its own, authorised, calls). */
export const ServerEventSchema = Type.Object({ changed: Type.Union([Type.Literal('jobs'), Type.Literal('alerts'), Type.Literal('agents')]) });
export type ServerEvent = Static<typeof ServerEventSchema>;

export const ALERT_ACTIONS = ['sync', 'recovery-point', 'consistency-check', 'grow-allocation'] as const;

export const AlertSchema = Type.Object({
  id: Type.Integer(),
  kind: Type.String(),
  severity: Type.Union([Type.Literal('critical'), Type.Literal('warning'), Type.Literal('info')]),
  state: Type.Union([Type.Literal('active'), Type.Literal('resolved')]),
  subject: Type.String({ description: 'a data source, agent or group' }),
  message: Type.String(),
  recommendedAction: Type.String(),
  action: Nullable(Type.Union(ALERT_ACTIONS.map((a) => Type.Literal(a)), {
    description: 'what a single button does about it, to the data source named by subject: sync (POST …/sync), recovery-point (POST …/recovery-points), consistency-check (POST …/consistency-check); null: no one-click remedy',
  })),
  raisedAt: Time,
  resolvedAt: Nullable(Time),
});
export type Alert = Static<typeof AlertSchema>;

export const PoolStatusSchema = Type.Object({
  directories: Type.Array(Type.Object({ path: Type.String(), bytesUsed: Count, bytesFree: Count, bytesTotal: Count })),
  bytesStored: Count,
  chunks: Count,
});
export type PoolStatus = Static<typeof PoolStatusSchema>;

/** What the storage calculator plans from (POST /api/plan/storage; the limits are the product's, checked by src/protection/storage-plan.ts). */
const PlanSourceInputSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 4200, description: 'a data source id or any label' }),
    dataBytes: Type.Integer({ minimum: 0, description: 'bytes of data now (at most 1 PiB)' }),
    dailyChangePercent: Type.Number({ minimum: 0, maximum: 100, description: 'percent of the data that changes a day' }),
    logBytesPerDay: Type.Optional(Type.Integer({ minimum: 0, description: 'bytes of logs a day (application data sources); 0 for files' })),
  },
  { additionalProperties: false },
);
export const WEEKDAY_NAMES = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const PlanGroupInputSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 63 }),
    sources: Type.Array(PlanSourceInputSchema, { minItems: 1, maxItems: 1000 }),
    retentionDays: Type.Integer({ description: '1 to 448' }),
    syncMinutes: Type.Integer({ description: '15, 30, 60, 120, 240, 360, 720 or 1440' }),
    pointTimes: Type.Array(Type.String({ maxLength: 5, description: 'HH:MM' }), { minItems: 1, maxItems: 8 }),
    days: Type.Optional(Type.Array(Type.Union(WEEKDAY_NAMES.map((d) => Type.Literal(d))), { minItems: 1, maxItems: 7, description: 'weekdays with recovery points; default every day' })),
    yearlyGrowthPercent: Type.Number({ minimum: 0, maximum: 1000 }),
    years: Type.Integer({ minimum: 0, maximum: 10, description: 'years to plan beyond now' }),
  },
  { additionalProperties: false },
);
export const PlanRequestSchema = Type.Object(
  {
    groups: Type.Optional(Type.Array(PlanGroupInputSchema, { maxItems: 100, description: 'groups to plan (planned ones, or planned beside the current ones)' })),
    fromGroups: Type.Optional(Type.Boolean({
      description: "also plan the server's protection groups: each data source with its newest point's logical size and the daily change its points of the last 7 days added",
    })),
    growthPercent: Type.Optional(Type.Number({ minimum: 0, maximum: 1000, description: 'yearly growth of the current groups (fromGroups); default 0' })),
    years: Type.Optional(Type.Integer({ minimum: 0, maximum: 10, description: 'years to plan the current groups (fromGroups); default 0' })),
    preparationSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 604_800, description: 'time before a recovery starts moving bytes, added to every RTO; default 0' })),
  },
  { additionalProperties: false },
);
export type PlanRequest = Static<typeof PlanRequestSchema>;

const Seconds = Nullable(Type.Number({ minimum: 0, description: 'seconds; null: no measured recovery rate' }));
const PlanFiguresFields = {
  dataBytes: Count,
  logBytesPerDay: Count,
  dailyChangeBytes: Count,
  replicaBytes: Count,
  recoveryPointBytes: Count,
  plannedBytes: Count,
  rtoSeconds: Seconds,
};
const PlanYearSchema = Type.Object({ year: Count, ...PlanFiguresFields });
export const StoragePlanSchema = Type.Object({
  recoveryRate: Nullable(Type.Number({ description: 'bytes per second the RTOs are computed with' })),
  preparationSeconds: Type.Number(),
  groups: Type.Array(Type.Object({
    name: Type.String(),
    retentionDays: Count,
    syncMinutes: Count,
    pointTimes: Type.Array(Type.String()),
    days: Type.Array(Type.Union(WEEKDAY_NAMES.map((d) => Type.Literal(d)))),
    yearlyGrowthPercent: Type.Number(),
    years: Count,
    recoveryPointsKept: Count,
    rpo: Type.Object({ syncMinutes: Count, recoveryPointMinutes: Count }),
    ...PlanFiguresFields,
    defaultAllocationBytes: Count,
    sources: Type.Array(Type.Object({
      name: Type.String(),
      dailyChangePercent: Type.Number(),
      ...PlanFiguresFields,
      defaultAllocationBytes: Count,
      growth: Type.Array(PlanYearSchema),
    })),
    growth: Type.Array(PlanYearSchema),
  })),
  pool: Type.Object({
    protectedBytes: Count,
    plannedBytes: Count,
    defaultAllocationBytes: Count,
    recommendedMinBytes: Count,
    recommendedMaxBytes: Count,
    growth: Type.Array(Type.Object({ year: Count, protectedBytes: Count, plannedBytes: Count, recommendedMinBytes: Count, recommendedMaxBytes: Count, rtoSeconds: Seconds })),
  }),
  warnings: Type.Array(Type.String()),
});
export type StoragePlanView = Static<typeof StoragePlanSchema>;

export const PlanAnswerSchema = Type.Object({
  plan: StoragePlanSchema,
  recoveryRate: Type.Object({
    bytesPerSecond: Nullable(Type.Number({ description: 'median of recent recoveries; null: none measured yet' })),
    recoveries: Type.Integer({ minimum: 0, description: 'how many recoveries the rate rests on' }),
  }),
  measured: Type.Array(Type.Object({
    group: Type.String(),
    source: Type.String(),
    dataBytes: Count,
    dailyChangePercent: Nullable(Type.Number({ description: 'null: no point after the first yet (the plan then uses 2 %, DPM\'s default)' })),
    days: Type.Number({ description: 'days the change was measured over' }),
    points: Count,
  }), { description: 'fromGroups: what was measured for each data source of the current groups' }),
});
export type PlanAnswer = Static<typeof PlanAnswerSchema>;

/** `group:NAME` or `source:AGENT:fs:/path`: what a recovery-operator token may see and recover. */
export const ScopeSchema = Type.String({
  pattern: '^(group:[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}|source:[^\\u0000]{3,4200}|target:[^:/\\u0000]{1,63}:(/[^\\u0000]{0,4095}|postgres:(\\*|[1-9][0-9]{0,4})))$',
  maxLength: 4300,
  description: 'group:NAME or source:ID (what a recovery-operator sees and recovers); target:AGENT:/dir (folders it may recover into, at or under /dir) or target:AGENT:postgres:PORT|* (new PostgreSQL instances it may start there; target:SOURCE-ID of a PostgreSQL data source in scope also allows recovering it over itself)',
});

export const TokenSchema = Type.Object({
  name: Type.String(),
  role: RoleSchema,
  scopes: Type.Array(Type.String()),
  createdAt: Time,
  expiresAt: Nullable(Time),
  lastUsedAt: Nullable(Time),
  revokedAt: Nullable(Time),
});
export type Token = Static<typeof TokenSchema>;

export const TokenCreateSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9][A-Za-z0-9 ._@-]*$' }),
    role: RoleSchema,
    scopes: Type.Optional(Type.Array(ScopeSchema, { maxItems: 100 })),
    expires: Type.Optional(Type.String({ maxLength: 16, description: "a duration: '30d', '12h'; none: never" })),
  },
  { additionalProperties: false },
);
export type TokenCreate = Static<typeof TokenCreateSchema>;

export const TokenCreatedSchema = Type.Object({
  token: Type.String({ description: 'shown once; the server keeps only its hash' }),
  name: Type.String(),
  role: RoleSchema,
  scopes: Type.Array(Type.String()),
  expiresAt: Nullable(Time),
});
export type TokenCreated = Static<typeof TokenCreatedSchema>;

const SessionLink = Type.Object({ agent: Type.String(), account: Type.String() }, { description: 'a console user linked to an account on a protected computer (My files)' });

/** Who a call was made by: an API token, or a console user's browser session (with its CSRF token). */
export const SessionSchema = Type.Object({
  kind: Type.Union([Type.Literal('token'), Type.Literal('user')]),
  name: Type.String(),
  role: RoleSchema,
  scopes: Type.Array(Type.String()),
  expiresAt: Nullable(Time),
  csrf: Type.Optional(Type.String({ description: 'a console session only: send it as x-custos-csrf on every call but GET and HEAD' })),
  link: Type.Optional(SessionLink),
});
export type Session = Static<typeof SessionSchema>;

/** A console user's name: what they sign in with. */
export const USER_NAME_PATTERN = '^[A-Za-z0-9._-]{1,63}$';

export const SignInSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 63 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);
export type SignIn = Static<typeof SignInSchema>;

export const SignedInSchema = Type.Object({
  name: Type.String(),
  role: RoleSchema,
  scopes: Type.Array(Type.String()),
  csrf: Type.String({ description: 'send it as x-custos-csrf on every call of this session but GET and HEAD' }),
  expiresAt: Type.String({ description: 'ISO 8601 UTC time: when the session ends unless it is used (12 h idle, 7 days at most)' }),
  link: Type.Optional(SessionLink),
});
export type SignedIn = Static<typeof SignedInSchema>;

/** An account on a protected computer, as a console user links to it (My files). */
export const ACCOUNT_NAME_SOURCE = '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\\$?$';
export const UserLinkInputSchema = Type.Object(
  {
    agent: Type.String({ minLength: 1, maxLength: 63, description: 'the protection agent of the computer (custos agent list)' }),
    account: Type.String({ minLength: 1, maxLength: 33, pattern: ACCOUNT_NAME_SOURCE, description: "the account's name on that computer" }),
  },
  { additionalProperties: false },
);
export type UserLinkInput = Static<typeof UserLinkInputSchema>;

export const UserLinkSchema = Type.Object({
  agent: Type.String(),
  account: Type.String(),
  uid: Type.Integer(),
  gid: Type.Integer(),
  groups: Type.Array(Type.Integer()),
  checkedAt: Type.String({ description: 'ISO 8601 UTC time: when the agent last said who the account is' }),
});
export type UserLink = Static<typeof UserLinkSchema>;

export const UserSchema = Type.Object({
  name: Type.String(),
  role: Type.Union([...ROLES.map((r) => Type.Literal(r)), Type.Literal('damaged')], {
    description: "the user's role; damaged: the catalog holds something else, and the user cannot sign in until an admin gives it a role (custos user update NAME --role R)",
  }),
  scopes: Type.Array(Type.String()),
  createdAt: Time,
  passwordChangedAt: Time,
  lastSignInAt: Nullable(Time),
  lockedUntil: Nullable(Time),
  link: Nullable(UserLinkSchema, { description: 'My files: the account on a protected computer this user sees files as' }),
});
export type User = Static<typeof UserSchema>;

/** Passwords: the server says what is wrong with one (8 to 1024 characters); the schema only bounds the input. */
const NewPassword = Type.String({ maxLength: 4096, description: '8 to 1024 characters' });

export const UserCreateSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 63, pattern: USER_NAME_PATTERN, description: '1 to 63 of A-Z a-z 0-9 . _ -' }),
    role: RoleSchema,
    scopes: Type.Optional(Type.Array(ScopeSchema, { maxItems: 100 })),
    password: NewPassword,
    link: Type.Optional(UserLinkInputSchema),
  },
  { additionalProperties: false },
);
export type UserCreate = Static<typeof UserCreateSchema>;

export const UserUpdateSchema = Type.Object(
  {
    password: Type.Optional(NewPassword),
    role: Type.Optional(RoleSchema),
    scopes: Type.Optional(Type.Array(ScopeSchema, { maxItems: 100 })),
    link: Type.Optional(Nullable(UserLinkInputSchema, { description: 'null: unlink' })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UserUpdate = Static<typeof UserUpdateSchema>;

export const AUDIT_OUTCOMES = ['ok', 'denied', 'failed'] as const;
export const AuditEntrySchema = Type.Object({
  id: Type.Integer(),
  time: Time,
  actor: Type.String({ description: "token name, 'agent:NAME', 'enrollment' or 'anonymous'" }),
  role: Nullable(Type.String()),
  action: Type.String({ description: 'e.g. recovery, token.create, agent.enroll, group.update, request' }),
  target: Nullable(Type.String()),
  outcome: Type.Union(AUDIT_OUTCOMES.map((o) => Type.Literal(o))),
  detail: Type.String(),
  address: Nullable(Type.String()),
});
export type AuditEntry = Static<typeof AuditEntrySchema>;

// --- notifications (docs/user-guide.md, Notifications)

export const SEVERITIES = ['critical', 'warning', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];
export const SeveritySchema = Type.Union(SEVERITIES.map((x) => Type.Literal(x)));

/**
 * An e-mail address as notifications take it: one plain address (no display
 * name, no quotes, no spaces, commas or line breaks), so it can never add a
 * header or a recipient to a mail.
 */
export const EMAIL_PATTERN = "^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$";
export const EmailSchema = Type.String({ minLength: 3, maxLength: 254, pattern: EMAIL_PATTERN, description: 'one plain e-mail address: name@example.com' });
/** Printable text on one line (no control characters). */
const OneLine = (max: number, description?: string) => Type.String({ minLength: 1, maxLength: max, pattern: '^[^\\u0000-\\u001f\\u007f]+$', ...(description ? { description } : {}) });
const GroupNameRef = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$', maxLength: 63 });
const ClockTime = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'HH:MM, the server\'s local time' });

export const SMTP_TLS_MODES = ['implicit', 'starttls', 'none'] as const;
export type SmtpTlsMode = (typeof SMTP_TLS_MODES)[number];

export const SmtpSettingsInputSchema = Type.Object(
  {
    host: Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9._:-]+$', description: 'host name or address of the mail server' }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'default 465 (implicit), 587 (starttls), 25 (none)' })),
    tls: Type.Optional(Type.Union(SMTP_TLS_MODES.map((m) => Type.Literal(m)), {
      description: 'implicit: TLS from the first byte; starttls (the default): STARTTLS required, never plain text; none: no TLS, only to a mail server on this computer (loopback)',
    })),
    user: Type.Optional(OneLine(256, 'log in with this user (AUTH); none: no authentication')),
    password: Type.Optional(OneLine(1024, 'stored in the catalog, never shown again; left out with the same user: the stored one is kept')),
    from: EmailSchema,
  },
  { additionalProperties: false },
);
export type SmtpSettingsInput = Static<typeof SmtpSettingsInputSchema>;

export const SmtpSettingsSchema = Type.Object({
  smtp: Type.Union([Type.Object({
    host: Type.String(),
    port: Type.Integer(),
    tls: Type.Union(SMTP_TLS_MODES.map((m) => Type.Literal(m))),
    user: Nullable(Type.String()),
    passwordSet: Type.Boolean({ description: 'whether a password is stored (it is never shown)' }),
    from: Type.String(),
  }), Type.Null()], { description: 'null: no mail server is set, so no mail is sent' }),
});
export type SmtpSettings = Static<typeof SmtpSettingsSchema>;

export const RecipientInputSchema = Type.Object(
  {
    address: EmailSchema,
    severity: Type.Optional(Type.Union(SEVERITIES.map((x) => Type.Literal(x)), { description: 'the least severe alert mailed (default warning)' })),
    groups: Type.Optional(Type.Array(GroupNameRef, { maxItems: 100, description: 'only alerts about these protection groups; none: every alert' })),
    resolved: Type.Optional(Type.Boolean({ description: 'also a mail when an alert is resolved (default false)' })),
  },
  { additionalProperties: false },
);
export type RecipientInput = Static<typeof RecipientInputSchema>;

export const RecipientSchema = Type.Object({
  address: Type.String(),
  severity: SeveritySchema,
  groups: Type.Array(Type.String()),
  resolved: Type.Boolean(),
  createdAt: Time,
});
export type Recipient = Static<typeof RecipientSchema>;

export const WebhookInputSchema = Type.Object(
  {
    url: Type.String({ minLength: 8, maxLength: 2048, pattern: '^https?://[^\\s]+$', description: 'https://…, or http:// to this computer (loopback) only' }),
    secret: Type.String({ minLength: 16, maxLength: 512, pattern: '^[\\x21-\\x7e]+$', description: 'the HMAC-SHA256 key of X-Custos-Signature (16 to 512 printable ASCII characters); never shown again' }),
    severity: Type.Optional(Type.Union(SEVERITIES.map((x) => Type.Literal(x)), { description: 'the least severe alert posted (default warning)' })),
  },
  { additionalProperties: false },
);
export type WebhookInput = Static<typeof WebhookInputSchema>;

export const WebhookSchema = Type.Object({ id: Type.Integer(), url: Type.String(), severity: SeveritySchema, createdAt: Time });
export type Webhook = Static<typeof WebhookSchema>;

export const DigestSettingsSchema = Type.Object(
  { enabled: Type.Boolean(), at: ClockTime },
  { additionalProperties: false },
);
export type DigestSettings = Static<typeof DigestSettingsSchema>;
export const DigestInputSchema = Type.Object(
  { enabled: Type.Boolean(), at: Type.Optional(ClockTime) },
  { additionalProperties: false },
);

export const NotifyTestInputSchema = Type.Object(
  { to: Type.Optional(EmailSchema) },
  { additionalProperties: false },
);
export const NotifyTestAnswerSchema = Type.Object({
  results: Type.Array(Type.Object({
    channel: Type.Union([Type.Literal('mail'), Type.Literal('webhook')]),
    destination: Type.String(),
    ok: Type.Boolean(),
    error: Nullable(Type.String({ description: 'why it failed, as the mail server or the webhook answered' })),
  })),
});
export type NotifyTestAnswer = Static<typeof NotifyTestAnswerSchema>;

/** The `to` of a recovery that means the data source's own agent and path. */
export const ORIGINAL_TARGET = 'original';

export const RecoveryRequestSchema = Type.Object(
  {
    source: Type.String({ minLength: 1, maxLength: 4200 }),
    point: Type.Optional(Type.String({
      minLength: 1,
      maxLength: 64,
      description: "the recovery point's id or its first 4 or more hex digits (resolved among the data source's points; a prefix that begins several ids is refused, naming them); exactly one of point and at",
    })),
    at: Type.Optional(Type.String({
      maxLength: 40,
      pattern: `^${ISO_LOCAL_TIME_SOURCE}${ISO_OFFSET_SOURCE}$`,
      description: 'ISO 8601 time with Z or an offset: the newest recovery point at or before it; exactly one of point and at',
    })),
    to: Type.String({ minLength: 3, maxLength: 4200, description: "AGENT:/absolute/path; 'original': the data source's own agent and path; server:/absolute/path (a folder under one of the recovery directories of the protection server); or, for a PostgreSQL point, AGENT:postgres:PORT: a new instance on that agent, started on PORT (with dataDir)" }),
    items: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), {
      maxItems: 10_000,
      description: 'paths inside the data source, absolute (under its path) or relative to it; each must be in the point (404 naming the missing ones, before anything is queued)',
    })),
    conflict: Type.Optional(Type.Union([Type.Literal('overwrite'), Type.Literal('skip'), Type.Literal('keep-both')], {
      description: 'when a different item exists at the target: overwrite (the default), skip, or keep-both (the recovered file is written beside it as NAME.restored, NAME.restored-2, …); a file identical to the point\'s is never rewritten',
    })),
    security: Type.Optional(Type.Union([Type.Literal('point'), Type.Literal('target')], {
      description: 'point (the default): the point\'s owners, modes, ACLs and security labels; target: new items get what the target directory gives them, existing ones keep theirs',
    })),
    throttle: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 80 }), {
      maxItems: 16,
      description: 'bytes written per second at most, as --throttle takes them: "20MiB/s" (at most one plain rate) and windowed rates in the agent\'s local time, "5MiB/s@mon-fri,08:00-18:00"',
    })),
    allowSystemTarget: Type.Optional(Type.Boolean({ description: 'admin only: allow / or a system directory as the target' })),
    paused: Type.Optional(Type.Boolean({ description: 'PostgreSQL points only: the recovered cluster stops at the point, read-only, for inspection, instead of promoting there' })),
    dataDir: Type.Optional(Type.String({ minLength: 2, maxLength: 4096, pattern: '^/', description: 'an absolute folder (/…) on the agent of a new PostgreSQL instance (with to AGENT:postgres:PORT only), new or empty: the instance is recovered into it, its data directory DIR/data' })),
    notify: Type.Optional(Type.Array(EmailSchema, { maxItems: 5, description: 'mail these addresses when the recovery has finished (what, where, the outcome and the counts); needs a mail server (PUT /api/notifications/smtp)' })),
  },
  { additionalProperties: false },
);
export type RecoveryRequest = Static<typeof RecoveryRequestSchema>;

export const ARCHIVE_FORMATS = ['tar', 'tar.zst', 'zip'] as const;
export type ArchiveFormat = (typeof ARCHIVE_FORMATS)[number];

/** A recovery point, or items of it, as an archive streamed to the caller. */
export const DownloadRequestSchema = Type.Object(
  {
    point: RecoveryRequestSchema.properties.point,
    at: RecoveryRequestSchema.properties.at,
    items: RecoveryRequestSchema.properties.items,
    format: Type.Union(ARCHIVE_FORMATS.map((f) => Type.Literal(f))),
  },
  { additionalProperties: false },
);
export type DownloadRequest = Static<typeof DownloadRequestSchema>;

const ItemProblem = Type.Object({ path: Type.String(), message: Type.String() });
/** What a download held, sent after the archive (the X-Custos-Summary trailer); lists are cut at 20, the counts are whole. */
export const DownloadSummarySchema = Type.Object({
  complete: Type.Boolean({ description: 'false: the archive is cut short (see error) and must not be used' }),
  point: Type.String(),
  files: Count,
  dirs: Count,
  others: Count,
  bytes: Count,
  leftOut: Count,
  warnings: Type.Array(Type.String()),
  warningCount: Count,
  errors: Type.Array(ItemProblem, { description: 'items whose content could not be read (written zero-filled)' }),
  errorCount: Count,
  error: Nullable(Type.String()),
});
export type DownloadSummary = Static<typeof DownloadSummarySchema>;

export const EnrollRequestSchema = Type.Object(
  {
    secret: Type.String({ minLength: 1, maxLength: 200 }),
    name: Type.String({ minLength: 1, maxLength: 63 }),
    csr: Type.String({ minLength: 1, maxLength: 8192 }),
    hostname: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
  },
  { additionalProperties: false },
);
export const EnrollAnswerSchema = Type.Object({ name: Type.String(), certificate: Type.String(), ca: Type.String(), server: Type.String() });
export type EnrollAnswer = Static<typeof EnrollAnswerSchema>;

/**
 * Paths and names inside a data source are raw bytes. In JSON they are
 * strings when they are valid UTF-8; otherwise the string is lossy and the
 * `…Base64` field beside it carries the exact bytes.
 */
const PathText = Type.String({ description: 'relative to the protected directory (lossy when the bytes are not UTF-8: see the Base64 field)' });
const PathBytes = Type.Optional(Type.String({ description: 'base64 of the exact bytes, present only when they are not valid UTF-8' }));
const PointRefSchema = Type.Object({ id: Type.String(), time: Time });
const ITEM_TYPES = ['file', 'dir', 'symlink', 'hardlink', 'fifo', 'char', 'block', 'socket'] as const;
const ItemType = Type.Union(ITEM_TYPES.map((t) => Type.Literal(t)));

export const FileItemSchema = Type.Object({
  name: Type.String(),
  nameBase64: PathBytes,
  type: ItemType,
  size: Count,
  mtime: Time,
  mode: Type.Integer({ minimum: 0, maximum: 0o7777, description: 'permission bits incl. setuid/setgid/sticky' }),
  uid: Count,
  gid: Count,
  user: Nullable(Type.String()),
  group: Nullable(Type.String()),
  target: Type.Optional(Type.String({ description: 'symlink target, or the path a hard link links to' })),
  error: Type.Optional(Type.String({ description: 'why the content could not be read at backup time' })),
});
export type FileItem = Static<typeof FileItemSchema>;

export const DirectoryListingSchema = Type.Object({
  source: Type.String(),
  point: PointRefSchema,
  path: PathText,
  items: Type.Array(FileItemSchema),
  next: Nullable(Type.String({ description: 'pass as `after` for the next page; null: this was the last' })),
});
export type DirectoryListing = Static<typeof DirectoryListingSchema>;

export const SearchAnswerSchema = Type.Object({
  source: Type.String(),
  pattern: Type.String(),
  pointsSearched: Count,
  hits: Type.Array(Type.Object({
    path: PathText,
    pathBase64: PathBytes,
    type: ItemType,
    size: Count,
    first: PointRefSchema,
    last: PointRefSchema,
    points: Count,
  })),
  truncated: Type.Boolean({ description: 'more paths matched than the limit' }),
});
export type SearchAnswer = Static<typeof SearchAnswerSchema>;

export const VersionsAnswerSchema = Type.Object({
  source: Type.String(),
  path: PathText,
  versions: Type.Array(Type.Object({
    size: Count,
    mtime: Time,
    content: Nullable(Type.String({ description: 'identifies the content: equal ⇔ same bytes' })),
    points: Type.Array(PointRefSchema, { description: 'oldest first' }),
  }), { description: 'oldest first' }),
});
export type VersionsAnswer = Static<typeof VersionsAnswerSchema>;

// --- reports ---------------------------------------------------------------------------------------

/** The reports, by the names the URL, the CLI and the console use (the same list as src/protection/reports.ts; the server checks it at compile time). */
export const REPORT_NAME_LIST = ['status', 'recovery-points', 'disk-utilization', 'protected-computers', 'sla'] as const;
export type ReportNameText = (typeof REPORT_NAME_LIST)[number];
export const REPORT_FORMATS = ['json', 'html', 'csv', 'pdf'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];
/** The formats a scheduled report is mailed in. */
export const MAILED_REPORT_FORMATS = ['pdf', 'csv', 'html'] as const;
export type MailedReportFormat = (typeof MAILED_REPORT_FORMATS)[number];

const WholeSeconds = Type.Integer({ minimum: 0, description: 'seconds' });
const Day = Type.String({ description: "YYYY-MM-DD, the server's local calendar day" });
const ReportHeader = {
  title: Type.String(),
  from: Time,
  to: Type.String({ description: 'ISO 8601 UTC time; exclusive' }),
  generatedAt: Time,
  notes: Type.Array(Type.String(), { description: 'how the numbers were measured, in words' }),
};
const JobCounts = { succeeded: Count, failed: Count, cancelled: Count };

export const StatusReportSchema = Type.Object({
  report: Type.Literal('status'),
  ...ReportHeader,
  totals: Type.Object(JobCounts),
  days: Type.Array(Type.Object({ day: Day, ...JobCounts })),
  rows: Type.Array(Type.Object({ group: Nullable(Type.String()), day: Day, kind: Type.String(), ...JobCounts })),
});
export const RecoveryPointStatusReportSchema = Type.Object({
  report: Type.Literal('recovery-points'),
  ...ReportHeader,
  missed: Count,
  sources: Type.Array(Type.Object({
    source: Type.String(),
    group: Nullable(Type.String()),
    newestPoint: Nullable(Time),
    newestAgeSeconds: Nullable(WholeSeconds),
    scheduleSeconds: Nullable(WholeSeconds),
    measuredRpoSeconds: WholeSeconds,
    pointsExpected: Count,
    pointsMade: Count,
    pointsMissed: Count,
    missedRpo: Type.Boolean(),
  })),
});
const Directory = Type.Object({ path: Type.String(), bytesUsed: Count, bytesFree: Count, bytesTotal: Count });
export const DiskUtilizationReportSchema = Type.Object({
  report: Type.Literal('disk-utilization'),
  ...ReportHeader,
  pool: Type.Object({ bytesStored: Count, bytesFree: Count, bytesTotal: Count, directories: Type.Array(Directory) }),
  groups: Type.Array(Type.Object({ group: Nullable(Type.String()), dataSources: Count, logicalBytes: Count, bytesAdded: Count, bytesPerDay: Count, allocationBytes: Count, usedBytes: Count })),
  days: Type.Array(Type.Object({ day: Day, bytesAdded: Count, bytesStored: Count })),
  forecast: Type.Object({ bytesPerDay: Count, daysLeft: Nullable(Count), fullOn: Nullable(Day), method: Type.String() }),
});
export const ProtectedComputersReportSchema = Type.Object({
  report: Type.Literal('protected-computers'),
  ...ReportHeader,
  computers: Type.Array(Type.Object({
    name: Type.String(),
    hostname: Type.String(),
    status: Type.Union([Type.Literal('connected'), Type.Literal('disconnected'), Type.Literal('revoked')]),
    lastContact: Nullable(Time),
    version: Nullable(Type.String()),
    dataSources: Count,
    newestPoint: Nullable(Time),
  })),
});
export const SlaReportSchema = Type.Object({
  report: Type.Literal('sla'),
  ...ReportHeader,
  groups: Type.Array(Type.Object({
    group: Type.String(),
    rpoTargetSeconds: Nullable(WholeSeconds),
    measuredRpoSeconds: Nullable(WholeSeconds),
    rpoMet: Nullable(Type.Boolean()),
    rtoTargetSeconds: Nullable(WholeSeconds),
    recoveries: Count,
    failedRecoveries: Count,
    measuredRtoSeconds: Nullable(WholeSeconds),
    rtoMet: Nullable(Type.Boolean()),
  })),
});
/** A report as `format=json` answers it: what the console draws and the other formats print. */
export const ReportSchema = Type.Union([StatusReportSchema, RecoveryPointStatusReportSchema, DiskUtilizationReportSchema, ProtectedComputersReportSchema, SlaReportSchema]);
export type Report = Static<typeof ReportSchema>;

/** What follows a report's bytes (the X-Custos-Summary trailer). */
export const ReportSummarySchema = Type.Object({ report: Type.String(), format: Type.String(), from: Time, to: Type.String(), bytes: Count });

export const ReportScheduleInputSchema = Type.Object(
  {
    report: Type.Union(REPORT_NAME_LIST.map((n) => Type.Literal(n))),
    daily: ClockTime,
    to: Type.Array(EmailSchema, { minItems: 1, maxItems: 10, description: 'who gets it (1 to 10 addresses)' }),
    format: Type.Optional(Type.Union(MAILED_REPORT_FORMATS.map((f) => Type.Literal(f)), { description: 'default pdf' })),
  },
  { additionalProperties: false },
);
export type ReportScheduleInput = Static<typeof ReportScheduleInputSchema>;
export const ReportScheduleSchema = Type.Object({
  report: Type.String(),
  daily: Type.String({ description: "HH:MM, the server's local time" }),
  to: Type.Array(Type.String()),
  format: Type.String(),
  createdAt: Time,
  lastSentDay: Nullable(Day),
});
export type ReportSchedule = Static<typeof ReportScheduleSchema>;

// --- My files (a console user linked to an account on a protected computer) ---------------------------

export const MyFilesSchema = Type.Object({
  agent: Type.String(),
  account: Type.String(),
  connected: Type.Boolean({ description: 'whether the agent is connected now (when not, who the account is was last checked at checkedAt)' }),
  checkedAt: Time,
  sources: Type.Array(Type.Object({
    id: Type.String(),
    path: Type.String({ description: 'the protected directory on the computer' }),
    points: Type.Array(PointRefSchema, { description: 'newest first' }),
  }), { description: "the computer's data sources in groups with end-user recovery on" }),
});
export type MyFiles = Static<typeof MyFilesSchema>;

export const MyItemSchema = Type.Object({
  name: Type.String(),
  type: Type.String(),
  size: Count,
  mtime: Time,
  mode: Type.Integer(),
  user: Nullable(Type.String()),
  group: Nullable(Type.String()),
});

export const MyListingSchema = Type.Object({
  path: Type.String(),
  point: PointRefSchema,
  items: Type.Array(MyItemSchema, { description: 'only what the account could read when the point was taken' }),
  next: Nullable(Type.String({ description: 'pass as `after` for the next page; null: this was the last' })),
});
export type MyListing = Static<typeof MyListingSchema>;

export const MySearchSchema = Type.Object({
  path: Type.String(),
  pattern: Type.String(),
  hits: Type.Array(Type.Object({ path: Type.String(), type: Type.String(), size: Count, first: PointRefSchema, last: PointRefSchema, points: Count })),
});
export type MySearch = Static<typeof MySearchSchema>;

export const MyVersionsSchema = Type.Object({
  path: Type.String(),
  versions: Type.Array(Type.Object({ size: Count, mtime: Time, points: Type.Array(PointRefSchema) }), { description: 'oldest first' }),
});
export type MyVersions = Static<typeof MyVersionsSchema>;

export const MyDownloadSummarySchema = Type.Object({ path: Type.String(), point: PointRefSchema, size: Count });
export type MyDownloadSummary = Static<typeof MyDownloadSummarySchema>;

/** A data source's disk allocation set by hand: a size, or grown as auto-grow would (exactly one). */
export const AllocationInputSchema = Type.Object(
  {
    bytes: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'the new allocation in bytes: not below what the data source uses' })),
    grow: Type.Optional(Type.Literal(true, { description: 'grow it as auto-grow does: the larger of 1.25 × the allocation and what is used / 0.75' })),
  },
  { additionalProperties: false, minProperties: 1, maxProperties: 1 },
);
export type AllocationInput = Static<typeof AllocationInputSchema>;
