/**
 * The REST contract: every call of the protection server's API, once. A
 * call names its method, path, the access it needs, and the schemas of its
 * path parameters, query, body and answer. The server registers its routes
 * from these entries (a route without an entry cannot be served), the
 * OpenAPI document is generated from them, and the CLI client, the console
 * and the tests call through them, so the four can no longer disagree.
 */
import type { Readable } from 'node:stream';
import { Type, type Static, type TObject, type TSchema } from '@sinclair/typebox';
import { ISO_LOCAL_TIME_SOURCE, ISO_OFFSET_SOURCE } from '../../base/index.js';
import {
  AgentSchema,
  AlertSchema,
  AuditEntrySchema,
  ServerEventSchema,
  DataSourceSchema,
  DownloadRequestSchema,
  DownloadSummarySchema,
  DigestInputSchema,
  DigestSettingsSchema,
  NotifyTestAnswerSchema,
  NotifyTestInputSchema,
  RecipientInputSchema,
  RecipientSchema,
  SmtpSettingsInputSchema,
  SmtpSettingsSchema,
  WebhookInputSchema,
  WebhookSchema,
  DirectoryListingSchema,
  EnrollAnswerSchema,
  EnrollRequestSchema,
  GroupAnswerSchema,
  GroupCreateSchema,
  GroupUpdateSchema,
  JOB_STATES,
  JobSchema,
  REPLICA_STATES,
  JobWithWarningsSchema,
  PlanAnswerSchema,
  PlanRequestSchema,
  LiveDirectorySchema,
  DiscoverySchema,
  PoolStatusSchema,
  ProtectionGroupSchema,
  ProtectionOptionsSchema,
  RecoveryPointSchema,
  RecoveryRequestSchema,
  REPORT_FORMATS,
  REPORT_NAME_LIST,
  ReportScheduleInputSchema,
  ReportScheduleSchema,
  ReportSummarySchema,
  SearchAnswerSchema,
  VersionsAnswerSchema,
  SessionSchema,
  SignedInSchema,
  SignInSchema,
  UserCreateSchema,
  UserSchema,
  UserUpdateSchema,
  MyFilesSchema,
  AllocationInputSchema,
  MyListingSchema,
  MySearchSchema,
  MyVersionsSchema,
  MyDownloadSummarySchema,
  TokenCreatedSchema,
  TokenCreateSchema,
  TokenSchema,
  type Role,
} from './objects.js';

/**
 * What a call needs. The server authorises on the route it matched (never on
 * the raw URL) and refuses a route that declares no access.
 */
export type Access =
  | 'public' //          no token (health, the CA, enrollment: the enrollment token is the credential)
  | 'authenticated' //   any valid token
  | 'view' //            configuration and state of the whole server
  | 'view-sources' //    data sources, their points and jobs (a recovery-operator sees those in its scope)
  | 'operate' //         run jobs now, cancel them, resolve alerts
  | 'recover' //         start a recovery (a recovery-operator: within its scope)
  | 'configure' //       protection groups, agents' enrollment, the pool
  | 'manage-access' //   tokens, console users, agent removal, the audit log
  | 'my'; //             My files: a console user's own files on the computer its account is linked to

/** Which roles hold each access (docs/design/security.md says why). */
export const ACCESS: Record<Exclude<Access, 'public'>, readonly Role[]> = {
  authenticated: ['admin', 'operator', 'viewer', 'recovery-operator', 'end-user'],
  view: ['admin', 'operator', 'viewer'],
  'view-sources': ['admin', 'operator', 'viewer', 'recovery-operator'],
  operate: ['admin', 'operator'],
  recover: ['admin', 'operator', 'recovery-operator'],
  configure: ['admin'],
  'manage-access': ['admin'],
  // Every role: what a user sees there is decided by the account it is linked to (a user without a link gets 403).
  my: ['admin', 'operator', 'viewer', 'recovery-operator', 'end-user'],
};

/** Whether `role` may make a call that needs `access`. */
export function roleAllows(role: Role, access: Access): boolean {
  return access === 'public' || ACCESS[access].includes(role);
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteSpec {
  readonly method: Method;
  /** fastify-style: `:name` segments are path parameters. */
  readonly path: string;
  readonly access: Access;
  readonly summary: string;
  readonly params?: TObject;
  readonly query?: TObject;
  readonly body?: TSchema;
  /** The success status (default 200). */
  readonly status?: 200 | 201 | 202;
  /** The answer's schema; a `text` answer is sent as it is with that content type. */
  readonly response: TSchema;
  readonly text?: string;
  /**
   * The answer is a byte stream (an archive) of one of these media types,
   * not JSON; `response` is then the schema of the summary that follows the
   * stream in the X-Custos-Summary trailer (StreamReply).
   */
  readonly stream?: readonly string[];
  /**
   * The answer is a stream of server-sent events (text/event-stream) that
   * lasts until the caller goes away; each event's data is JSON of `response`.
   */
  readonly events?: true;
  /** Left out of the OpenAPI document. */
  readonly hide?: boolean;
  /** The audit log's name for this call; every call that changes something has one. */
  readonly audit?: string;
  /**
   * A POST that changes nothing: a calculation whose input is too large for
   * a query string. It needs no audit name, and a role that only views may
   * make it.
   */
  readonly readOnly?: true;
}

const route = <const R extends RouteSpec>(r: R): R => r;

export type ParamsOf<R extends RouteSpec> = R['params'] extends TObject ? Static<R['params']> : undefined;
export type QueryOf<R extends RouteSpec> = R['query'] extends TObject ? Static<R['query']> : undefined;
export type BodyOf<R extends RouteSpec> = R['body'] extends TSchema ? Static<R['body']> : undefined;
export type ReplyOf<R extends RouteSpec> = R['stream'] extends readonly string[]
  ? StreamReply<Static<R['response']>>
  : R['events'] extends true
    ? EventFeed<Static<R['response']>>
    : Static<R['response']>;
type Part<K extends string, T> = undefined extends T ? { readonly [P in K]?: T } : {} extends T ? { readonly [P in K]?: T } : { readonly [P in K]: T };
/** What a call takes (the CLI's and the console's clients): `params` when its path has parameters, `query` and `body` as its contract says. */
export type CallArgs<R extends RouteSpec> =
  Part<'params', ParamsOf<R>> & Part<'query', QueryOf<R>> & Part<'body', BodyOf<R>> extends infer A
    ? {} extends A
      ? [args?: A]
      : [args: A]
    : never;

/** One event of an `events` call as the caller receives it. */
export type EventOf<R extends RouteSpec> = Static<R['response']>;

/** What a handler of an `events` call returns: a way to follow the events until the caller leaves. */
export interface EventFeed<E> {
  /** Starts sending events; `end` ends the stream from the server's side (shutdown); the function returned stops it. */
  follow(send: (event: E) => void, end: () => void): () => void;
}

/** The trailer that carries a stream's summary (JSON, non-ASCII escaped). */
export const SUMMARY_TRAILER = 'x-custos-summary';

/** What a handler of a streaming call returns: the stream, and its summary once the stream has ended. */
export interface StreamReply<S> {
  readonly contentType: string;
  /** The file name suggested to the caller (Content-Disposition). */
  readonly fileName: string;
  readonly body: Readable;
  summary(): S;
}

const strict = <T extends Parameters<typeof Type.Object>[0]>(props: T) => Type.Object(props, { additionalProperties: false });
const JobId = strict({ id: Type.String({ pattern: '^[0-9]{1,15}$' }) });
const AlertId = JobId;
const SourceId = strict({ id: Type.String({ minLength: 1, maxLength: 4200 }) });
const GroupName = strict({ name: Type.String({ minLength: 1, maxLength: 63 }) });
const AgentName = strict({ name: Type.String({ minLength: 1, maxLength: 63 }) });
const TokenName = strict({ name: Type.String({ minLength: 1, maxLength: 100 }) });
const UserName = strict({ name: Type.String({ minLength: 1, maxLength: 63 }) });
/** Which recovery point: an id (or a prefix of at least 4 hex digits, or latest), or a time; neither: the newest. */
const PointChoice = {
  point: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^([0-9a-f]{4,64}|latest)$', description: 'a recovery point id, a prefix of 4+ hex digits, or latest' })),
  at: Type.Optional(Type.String({
    maxLength: 40, pattern: `^${ISO_LOCAL_TIME_SOURCE}${ISO_OFFSET_SOURCE}$`, description: 'ISO 8601 time with Z or an offset: the newest recovery point at or before it',
  })),
};
/** A path inside the data source: relative to the protected directory, or absolute under it; base64:… for bytes that are not UTF-8. */
const ItemPath = Type.String({ maxLength: 6000, description: "relative to the protected directory or absolute under it ('' or / is the protected directory); base64:… gives raw bytes" });
/** A path on the linked account's computer: absolute, without empty, . or .. components. */
const MyPath = Type.String({ minLength: 1, maxLength: 4096, description: 'an absolute path on the computer, e.g. /home/alice/report.odt' });
const MyLimit = Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'default 200' }));
const Limit = (dflt: number) => Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: `default ${dflt}` }));

export const api = {
  health: route({
    method: 'GET', path: '/api/health', access: 'public', summary: 'Readiness (no authentication)',
    response: Type.Object({ status: Type.Literal('ok'), version: Type.String() }),
  }),
  openapi: route({
    method: 'GET', path: '/api/openapi.json', access: 'authenticated', summary: 'This OpenAPI document', hide: true,
    response: Type.Unknown(),
  }),
  events: route({
    method: 'GET', path: '/api/events', access: 'authenticated', events: true,
    summary: 'Server-sent events: which lists changed (jobs, alerts), so a console can fetch them again; carries no data of its own',
    response: ServerEventSchema,
  }),
  session: route({
    method: 'GET', path: '/api/session', access: 'authenticated',
    summary: 'Who this call was made by (an API token or a console user): name, role, scopes, expiry, and for a console session its CSRF token',
    response: SessionSchema,
  }),

  // --- console users and their sessions
  signIn: route({
    method: 'POST', path: '/api/sign-in', audit: 'session.sign-in', access: 'public',
    summary: 'Sign a console user in: sets the session cookie __Host-custos_session and answers the CSRF token (401 for a wrong name or password, 429 while locked out)',
    body: SignInSchema, response: SignedInSchema,
  }),
  signOut: route({
    method: 'POST', path: '/api/sign-out', audit: 'session.sign-out', access: 'authenticated', summary: 'End the console session this call was made with and clear its cookie',
    response: Type.Object({ signedOut: Type.String() }),
  }),
  listUsers: route({ method: 'GET', path: '/api/users', access: 'manage-access', summary: 'Console users (never their passwords)', response: Type.Array(UserSchema) }),
  createUser: route({
    method: 'POST', path: '/api/users', audit: 'user.create', access: 'manage-access', status: 201, summary: 'Create a console user with a password',
    body: UserCreateSchema, response: UserSchema,
  }),
  updateUser: route({
    method: 'PATCH', path: '/api/users/:name', audit: 'user.update', access: 'manage-access', params: UserName,
    summary: "Change a console user's password, role or scopes (ends the user's sessions)", body: UserUpdateSchema, response: UserSchema,
  }),
  deleteUser: route({
    method: 'DELETE', path: '/api/users/:name', audit: 'user.delete', access: 'manage-access', params: UserName,
    summary: 'Delete a console user (ends its sessions; not the user this call is signed in as)', response: Type.Object({ deleted: Type.String() }),
  }),

  // --- tokens
  createToken: route({
    method: 'POST', path: '/api/tokens', audit: 'token.create', access: 'manage-access', status: 201,
    summary: 'Create an API token (shown once; the server keeps only its hash)', body: TokenCreateSchema, response: TokenCreatedSchema,
  }),
  listTokens: route({ method: 'GET', path: '/api/tokens', access: 'manage-access', summary: 'API tokens (never the secrets)', response: Type.Array(TokenSchema) }),
  revokeToken: route({
    method: 'DELETE', path: '/api/tokens/:name', audit: 'token.revoke', access: 'manage-access', params: TokenName, summary: 'Revoke an API token',
    response: Type.Object({ revoked: Type.String() }),
  }),

  // --- agents
  createEnrollmentToken: route({
    method: 'POST', path: '/api/agents/enrollment-tokens', audit: 'agent.enrollment-token', access: 'configure',
    summary: 'Create a one-time enrollment token for `custos agent attach`',
    body: strict({ expires: Type.Optional(Type.String({ maxLength: 16 })) }),
    response: Type.Object({ token: Type.String(), expiresAt: Type.String() }),
  }),
  listAgents: route({ method: 'GET', path: '/api/agents', access: 'view', summary: 'Protected computers and their agents', response: Type.Array(AgentSchema) }),
  removeAgent: route({
    method: 'DELETE', path: '/api/agents/:name', audit: 'agent.remove', access: 'manage-access', params: AgentName, summary: 'Revoke an agent certificate',
    response: Type.Object({ removed: Type.String() }),
  }),
  browseAgent: route({
    method: 'GET', path: '/api/agents/:name/files', audit: 'agent.browse', access: 'configure', params: AgentName,
    summary: "One directory of a protected computer's live file system, as its agent sees it now (to pick protection group members): names in byte order, a page at a time; mount points marked, links not followed",
    // The bounds are the agent protocol's (src/protocol/live-names.ts), which this portable file cannot import.
    query: strict({
      path: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'an absolute path without empty, . or .. components [/]' })),
      after: Type.Optional(Type.String({ minLength: 1, maxLength: 340, description: 'the `next` of the previous page' })),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'default 1000' })),
    }),
    response: LiveDirectorySchema,
  }),
  discoverAgent: route({
    method: 'GET', path: '/api/agents/:name/discovery', audit: 'agent.discover', access: 'configure', params: AgentName,
    summary: "What a protected computer holds that can be protected, as its agent finds it now: mounted file systems and PostgreSQL clusters (with why one cannot be protected)",
    response: DiscoverySchema,
  }),
  agentCa: route({
    method: 'GET', path: '/api/agent/ca', access: 'public', text: 'application/x-pem-file',
    summary: 'The CA certificate (agents check its fingerprint against their enrollment token)', response: Type.String(),
  }),
  enroll: route({
    method: 'POST', path: '/api/agent/enroll', audit: 'agent.enroll', access: 'public',
    summary: 'Exchange an enrollment token and a certificate request for a client certificate', body: EnrollRequestSchema, response: EnrollAnswerSchema,
  }),

  // --- protection groups
  listGroups: route({ method: 'GET', path: '/api/protection-groups', access: 'view', summary: 'Protection groups', response: Type.Array(ProtectionGroupSchema) }),
  protectionOptions: route({
    method: 'GET', path: '/api/protection-options', access: 'view',
    summary: "A new group's defaults and the allowed choices (synchronization frequencies, retention range, limits)", response: ProtectionOptionsSchema,
  }),
  getGroup: route({ method: 'GET', path: '/api/protection-groups/:name', access: 'view', params: GroupName, summary: 'One protection group', response: ProtectionGroupSchema }),
  createGroup: route({
    method: 'POST', path: '/api/protection-groups', audit: 'group.create', access: 'configure', status: 201, summary: 'Create a protection group',
    body: GroupCreateSchema, response: GroupAnswerSchema,
  }),
  updateGroup: route({
    method: 'PATCH', path: '/api/protection-groups/:name', audit: 'group.update', access: 'configure', params: GroupName, summary: 'Change a protection group',
    body: GroupUpdateSchema, response: GroupAnswerSchema,
  }),
  deleteGroup: route({
    method: 'DELETE', path: '/api/protection-groups/:name', audit: 'group.delete', access: 'configure', params: GroupName,
    query: strict({ points: Type.Union([Type.Literal('keep'), Type.Literal('delete')]) }),
    summary: 'Delete a protection group, keeping or deleting its recovery points',
    response: Type.Object({ deleted: Type.String(), recoveryPointsDeleted: Type.Integer({ minimum: 0 }), replicaOnlyPointsDeleted: Type.Integer({ minimum: 0 }) }),
  }),

  // --- data sources
  listSources: route({
    method: 'GET', path: '/api/data-sources', access: 'view-sources',
    summary: 'Data sources with their group, replica state and newest point, ordered by id; filtered, and a page at a time with limit and after',
    query: strict({
      group: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
      agent: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
      state: Type.Optional(Type.Union(REPLICA_STATES.map((s) => Type.Literal(s)))),
      search: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'part of the data source id, any case' })),
      after: Type.Optional(Type.String({ minLength: 1, maxLength: 4200, description: 'the last id of the previous page' })),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'default: all' })),
    }),
    response: Type.Array(DataSourceSchema),
  }),
  removeSource: route({
    method: 'DELETE', path: '/api/data-sources/:id', audit: 'source.remove', access: 'configure', params: SourceId,
    query: strict({ points: Type.Optional(Type.Union([Type.Literal('keep'), Type.Literal('delete')], { description: 'delete: its recovery points too; keep (default): refused while it has any' })) }),
    summary: 'Remove a data source that is in no protection group (a computer or folder that is gone), with its recovery points when asked',
    response: Type.Object({ removed: Type.String(), recoveryPointsDeleted: Type.Integer({ minimum: 0 }), replicaOnlyPointsDeleted: Type.Integer({ minimum: 0 }) }),
  }),
  getSource: route({ method: 'GET', path: '/api/data-sources/:id', access: 'view-sources', params: SourceId, summary: 'One data source', response: DataSourceSchema }),
  listPoints: route({
    method: 'GET', path: '/api/data-sources/:id/recovery-points', access: 'view-sources', params: SourceId,
    summary: 'Recovery points, oldest first; with all=true also the replica-only point the last synchronization left (recoveryPoint false)',
    query: strict({ all: Type.Optional(Type.Boolean({ description: 'also replica-only synchronization points' })) }),
    response: Type.Array(RecoveryPointSchema),
  }),
  syncNow: route({
    method: 'POST', path: '/api/data-sources/:id/sync', audit: 'job.sync', access: 'operate', params: SourceId, status: 202, summary: 'Synchronize now',
    response: JobSchema,
  }),
  createPoint: route({
    method: 'POST', path: '/api/data-sources/:id/recovery-points', audit: 'job.recovery-point', access: 'operate', params: SourceId, status: 202,
    summary: 'Create a recovery point now (synchronizes first); warns when the oldest recovery point will be pruned to make room',
    response: JobWithWarningsSchema,
  }),
  setAllocation: route({
    method: 'POST', path: '/api/data-sources/:id/allocation', audit: 'source.allocation', access: 'configure', params: SourceId,
    summary: "Set or grow a data source's disk allocation (its quota in the pool); its allocation alerts are judged again at once",
    body: AllocationInputSchema, response: DataSourceSchema,
  }),
  checkNow: route({
    method: 'POST', path: '/api/data-sources/:id/consistency-check', audit: 'job.consistency-check', access: 'operate', params: SourceId, status: 202,
    summary: 'Run a consistency check', response: JobSchema,
  }),
  browse: route({
    method: 'GET', path: '/api/data-sources/:id/files', access: 'recover', params: SourceId,
    summary: 'One directory of a recovery point (the newest when neither point nor at is given), in name order, a page at a time',
    query: strict({ ...PointChoice, path: Type.Optional(ItemPath), after: Type.Optional(Type.String({ maxLength: 6000, description: 'the `next` of the previous page' })), limit: Limit(1000) }),
    response: DirectoryListingSchema,
  }),
  search: route({
    method: 'GET', path: '/api/data-sources/:id/search', access: 'recover', params: SourceId,
    summary: 'Paths matching a glob in any recovery point of the data source, with the first and last point holding each',
    query: strict({ pattern: Type.String({ minLength: 1, maxLength: 1024, description: "*.tex matches names at any depth; a pattern with '/' matches whole paths, ** any directories" }), limit: Limit(1000) }),
    response: SearchAnswerSchema,
  }),
  versions: route({
    method: 'GET', path: '/api/data-sources/:id/versions', access: 'recover', params: SourceId,
    summary: 'The distinct versions of one item across the recovery points of the data source, each with the points holding it',
    query: strict({ path: ItemPath }),
    response: VersionsAnswerSchema,
  }),
  recover: route({
    method: 'POST', path: '/api/recoveries', audit: 'recovery', access: 'recover', status: 202,
    summary: 'Recover a recovery point (or items of it) to a path on an agent', body: RecoveryRequestSchema, response: JobSchema,
  }),
  download: route({
    method: 'POST', path: '/api/data-sources/:id/downloads', audit: 'recovery.download', access: 'recover', params: SourceId,
    summary: 'Download a recovery point (or items of it) as a tar, tar.zst or zip archive, streamed as it is read; its summary follows in the X-Custos-Summary trailer',
    body: DownloadRequestSchema, stream: ['application/x-tar', 'application/zstd', 'application/zip'], response: DownloadSummarySchema,
  }),

  // --- My files: a console user linked to an account on a protected computer (docs/design/security.md, "My files")
  myFiles: route({
    method: 'GET', path: '/api/my', access: 'my',
    summary: "The linked account and its computer's data sources where end-user recovery is on, with their recovery points",
    response: MyFilesSchema,
  }),
  myBrowse: route({
    method: 'GET', path: '/api/my/files', access: 'my',
    summary: 'One directory of a recovery point (the newest when neither point nor at is given): only what the linked account could read there',
    query: strict({ ...PointChoice, path: MyPath, after: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'the `next` of the previous page: one name' })), limit: MyLimit }),
    response: MyListingSchema,
  }),
  mySearch: route({
    method: 'GET', path: '/api/my/search', access: 'my',
    summary: 'Paths under a directory matching a glob in any recovery point, where the linked account could read them',
    query: strict({ path: MyPath, pattern: Type.String({ minLength: 1, maxLength: 1024 }), limit: MyLimit }),
    response: MySearchSchema,
  }),
  myVersions: route({
    method: 'GET', path: '/api/my/versions', access: 'my',
    summary: 'The versions of one file the linked account could read, each with the recovery points holding it',
    query: strict({ path: MyPath }),
    response: MyVersionsSchema,
  }),
  myDownload: route({
    method: 'GET', path: '/api/my/download', access: 'my', audit: 'my.download',
    summary: 'One file of a recovery point (the newest when neither point nor at is given) the linked account could read, streamed; its summary follows in the X-Custos-Summary trailer',
    query: strict({ ...PointChoice, path: MyPath }),
    stream: ['application/octet-stream'], response: MyDownloadSummarySchema,
  }),

  // --- jobs
  listJobs: route({
    method: 'GET', path: '/api/jobs', access: 'view-sources', summary: 'Jobs, newest first',
    query: strict({
      state: Type.Optional(Type.Union(JOB_STATES.map((s) => Type.Literal(s)))),
      kind: Type.Optional(Type.String({ maxLength: 32 })),
      source: Type.Optional(Type.String({ maxLength: 4200 })),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
      before: Type.Optional(Type.Integer({ minimum: 1, description: 'only jobs with a smaller id: the last id of the previous page' })),
    }),
    response: Type.Array(JobSchema),
  }),
  getJob: route({
    method: 'GET', path: '/api/jobs/:id', access: 'view-sources', params: JobId,
    summary: 'One job with its log; with wait=N, answers once the job has finished or after N seconds, whichever comes first',
    query: strict({ wait: Type.Optional(Type.Integer({ minimum: 0, maximum: 60 })) }),
    response: JobSchema,
  }),
  cancelJob: route({
    method: 'POST', path: '/api/jobs/:id/cancel', audit: 'job.cancel', access: 'operate', params: JobId, summary: 'Cancel a queued or running job',
    response: JobSchema,
  }),

  // --- alerts
  listAlerts: route({
    method: 'GET', path: '/api/alerts', access: 'view', summary: 'Alerts (active by default)',
    query: strict({ state: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('resolved'), Type.Literal('all')])) }),
    response: Type.Array(AlertSchema),
  }),
  resolveAlert: route({
    method: 'POST', path: '/api/alerts/:id/resolve', audit: 'alert.resolve', access: 'operate', params: AlertId, summary: 'Resolve an alert',
    response: AlertSchema,
  }),

  // --- notifications
  getSmtp: route({
    method: 'GET', path: '/api/notifications/smtp', access: 'view', summary: 'The mail server notifications go through (whether a password is set, never the password)',
    response: SmtpSettingsSchema,
  }),
  setSmtp: route({
    method: 'PUT', path: '/api/notifications/smtp', audit: 'notify.smtp', access: 'configure',
    summary: 'Set the mail server: host, port, TLS (implicit, starttls; none only to this computer), login, sender address',
    body: SmtpSettingsInputSchema, response: SmtpSettingsSchema,
  }),
  listRecipients: route({
    method: 'GET', path: '/api/notifications/recipients', access: 'view', summary: 'Who is mailed about alerts (and the digest): minimum severity, groups, resolved mails',
    response: Type.Array(RecipientSchema),
  }),
  setRecipient: route({
    method: 'POST', path: '/api/notifications/recipients', audit: 'notify.recipient.set', access: 'configure', status: 201,
    summary: 'Add a recipient, or change the one with that address', body: RecipientInputSchema, response: RecipientSchema,
  }),
  removeRecipient: route({
    method: 'DELETE', path: '/api/notifications/recipients/:address', audit: 'notify.recipient.remove', access: 'configure',
    params: strict({ address: Type.String({ minLength: 1, maxLength: 254 }) }), summary: 'Stop mailing an address',
    response: Type.Object({ removed: Type.String() }),
  }),
  listWebhooks: route({
    method: 'GET', path: '/api/notifications/webhooks', access: 'view', summary: 'Webhooks alerts are posted to (never their secrets)',
    response: Type.Array(WebhookSchema),
  }),
  addWebhook: route({
    method: 'POST', path: '/api/notifications/webhooks', audit: 'notify.webhook.add', access: 'configure', status: 201,
    summary: 'Add a webhook (or replace the secret and severity of the one with that URL): alerts are POSTed as JSON, signed with HMAC-SHA256 of the secret',
    body: WebhookInputSchema, response: WebhookSchema,
  }),
  removeWebhook: route({
    method: 'DELETE', path: '/api/notifications/webhooks/:id', audit: 'notify.webhook.remove', access: 'configure', params: JobId,
    summary: 'Remove a webhook (what its outbox still held is dropped)', response: Type.Object({ removed: Type.String() }),
  }),
  getDigest: route({
    method: 'GET', path: '/api/notifications/digest', access: 'view', summary: 'The daily digest mail: on or off, and its time (the server\'s local time)',
    response: DigestSettingsSchema,
  }),
  setDigest: route({
    method: 'PUT', path: '/api/notifications/digest', audit: 'notify.digest', access: 'configure', summary: 'Switch the daily digest on (at HH:MM, default 07:00) or off',
    body: DigestInputSchema, response: DigestSettingsSchema,
  }),
  testNotifications: route({
    method: 'POST', path: '/api/notifications/test', audit: 'notify.test', access: 'configure',
    summary: 'Send a test mail now (to `to`, or to every recipient and every webhook) and say what failed and why',
    body: NotifyTestInputSchema, response: NotifyTestAnswerSchema,
  }),

  // --- reports
  getReport: route({
    method: 'GET', path: '/api/reports/:name', access: 'view',
    params: strict({ name: Type.Union(REPORT_NAME_LIST.map((n) => Type.Literal(n))) }),
    query: strict({
      from: Type.Optional(Type.String({ maxLength: 40, description: 'YYYY-MM-DD (local midnight) or an ISO 8601 time; default: 7 days before to' })),
      to: Type.Optional(Type.String({ maxLength: 40, description: 'YYYY-MM-DD (the whole day) or an ISO 8601 time; default: now' })),
      format: Type.Optional(Type.Union(REPORT_FORMATS.map((f) => Type.Literal(f)), { description: 'json (default: the Report object the console draws), html, csv or pdf' })),
    }),
    summary: 'A report over a period (status, recovery-points, disk-utilization, protected-computers, sla) as JSON, HTML, CSV or PDF; its summary follows in the X-Custos-Summary trailer',
    stream: ['application/json', 'text/html', 'text/csv', 'application/pdf'], response: ReportSummarySchema,
  }),
  listReportSchedules: route({
    method: 'GET', path: '/api/report-schedules', access: 'configure', summary: 'Reports mailed every day: when, to whom, in which format',
    response: Type.Array(ReportScheduleSchema),
  }),
  setReportSchedule: route({
    method: 'PUT', path: '/api/report-schedules', audit: 'report.schedule', access: 'configure',
    summary: 'Mail a report every day at HH:MM (the server\'s local time) to up to 10 addresses, as PDF (default), CSV or HTML; replaces that report\'s schedule',
    body: ReportScheduleInputSchema, response: ReportScheduleSchema,
  }),
  deleteReportSchedule: route({
    method: 'DELETE', path: '/api/report-schedules/:name', audit: 'report.unschedule', access: 'configure',
    params: strict({ name: Type.String({ minLength: 1, maxLength: 63 }) }), summary: 'Stop mailing a report', response: Type.Object({ removed: Type.String() }),
  }),

  // --- catalog
  catalogBackup: route({
    method: 'POST', path: '/api/catalog/backups', audit: 'catalog.backup', access: 'operate', status: 202,
    summary: 'Take a catalog backup now (a catalog-backup job; the one already queued, if any). Listing and restoring backups is done with the server stopped',
    response: JobSchema,
  }),

  // --- planning
  planStorage: route({
    method: 'POST', path: '/api/plan/storage', access: 'view', readOnly: true,
    summary: 'The storage calculator: pool size, allocation per group, growth, RPO and RTO (at the recovery rate this server measured) for planned groups and/or the current ones',
    body: PlanRequestSchema, response: PlanAnswerSchema,
  }),

  // --- pool, audit, metrics
  getPool: route({ method: 'GET', path: '/api/pool', access: 'view', summary: 'Storage pool directories and usage', response: PoolStatusSchema }),
  poolGc: route({
    method: 'POST', path: '/api/pool/gc', access: 'operate', audit: 'pool.gc', status: 202,
    summary: 'Queue a garbage collection of the storage pool (frees the space of deleted recovery points)', response: JobSchema,
  }),
  poolVerify: route({
    method: 'POST', path: '/api/pool/verify', access: 'operate', audit: 'pool.verify', status: 202,
    summary: 'Queue a verification of the whole storage pool (re-reads and checks every chunk)', response: JobSchema,
  }),
  listAudit: route({
    method: 'GET', path: '/api/audit', access: 'manage-access', summary: 'The audit log, newest first: who did what, when (recoveries, tokens, enrollments, group changes, denied requests)',
    query: strict({
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
      before: Type.Optional(Type.Integer({ minimum: 1, description: 'entries with a smaller id (paging)' })),
      action: Type.Optional(Type.String({ maxLength: 64 })),
    }),
    response: Type.Array(AuditEntrySchema),
  }),
  metrics: route({
    method: 'GET', path: '/metrics', access: 'view', text: 'text/plain; version=0.0.4', hide: true, summary: 'Prometheus metrics',
    response: Type.String(),
  }),
} as const satisfies Record<string, RouteSpec>;

export type Api = typeof api;
export type RouteName = keyof Api;

/** The URL path of a call with its parameters filled in (each percent-encoded). */
export function pathFor(spec: RouteSpec, params?: Record<string, string | number>): string {
  return spec.path.replace(/:([A-Za-z]+)/g, (_m, name: string) => {
    const v = params?.[name];
    if (v === undefined) throw new Error(`${spec.method} ${spec.path}: parameter ${name} missing`);
    return encodeURIComponent(String(v));
  });
}

/** The query string for a call ('' when nothing is set). */
export function queryFor(query?: Record<string, string | number | boolean | undefined>): string {
  if (!query) return '';
  const parts = Object.entries(query)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}
