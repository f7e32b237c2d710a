/**
 * The catalog: the server's database of configuration, data sources,
 * recovery points, jobs and alerts (DPMDB's role). Typed queries over kysely,
 * so the embedded SQLite catalog and a later PostgreSQL one share them. The
 * catalog never decides anything: the server's services call it.
 */
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, type Insertable, type MigrationProvider, type Selectable, type Updateable } from 'kysely';
import { CustosError } from '../base/index.js';
import { MIGRATIONS } from './migrations.js';
import type {
  AgentsTable,
  AlertsTable,
  ApiTokensTable,
  AuditLogTable,
  CatalogSchema,
  DataSourcesTable,
  JobsTable,
  NotificationOutboxTable,
  NotificationRecipientsTable,
  NotificationWebhooksTable,
  ProtectionGroupsTable,
  RecoveryPointsTable,
  ReportSchedulesTable,
  SessionsTable,
  UsersTable,
} from './schema.js';

export type AgentRow = Selectable<AgentsTable>;
export type DataSourceRow = Selectable<DataSourcesTable>;
export type GroupRow = Selectable<ProtectionGroupsTable>;
export type PointRow = Selectable<RecoveryPointsTable>;
export type JobRow = Selectable<JobsTable>;
export type AlertRow = Selectable<AlertsTable>;
export type ApiTokenRow = Selectable<ApiTokensTable>;
export type AuditRow = Selectable<AuditLogTable>;
export type UserRow = Selectable<UsersTable>;

/** What a data source in no protection group holds of it: no group, no allocation. */
const LEFT_PROTECTION = { group_name: null, added_to_group_at: null, allocation_bytes: 0 } as const;

/** Who a linked account is on its computer (the agent's answer to the `account` question). */
export interface LinkedIdentity {
  readonly uid: number;
  readonly gid: number;
  readonly groups: readonly number[];
}

/** A console user's link to an account on a protected computer, with who that account was when checked. */
export interface UserLink {
  readonly agent: string;
  readonly account: string;
  readonly identity: LinkedIdentity;
  readonly checkedAt: string;
}

/** A user row's link, or null when it has none or its stored identity does not read as one (then nothing is shown as the account). */
export function userLinkOf(u: { link_agent: string | null; link_account: string | null; link_identity: string | null; link_checked_at: string | null }): UserLink | null {
  if (u.link_agent === null || u.link_account === null || u.link_identity === null || u.link_checked_at === null) return null;
  let v: unknown;
  try {
    v = JSON.parse(u.link_identity);
  } catch {
    return null;
  }
  const id = (x: unknown) => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0xffff_fffe;
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  if (!id(o['uid']) || !id(o['gid']) || !Array.isArray(o['groups']) || !o['groups'].every(id) || o['groups'].length > 1024) return null;
  return { agent: u.link_agent, account: u.link_account, identity: { uid: o['uid'] as number, gid: o['gid'] as number, groups: o['groups'] as number[] }, checkedAt: u.link_checked_at };
}

function linkColumns(link: UserLink | null) {
  return link === null
    ? { link_agent: null, link_account: null, link_identity: null, link_checked_at: null }
    : { link_agent: link.agent, link_account: link.account, link_identity: JSON.stringify(link.identity), link_checked_at: link.checkedAt };
}
export type SessionRow = Selectable<SessionsTable>;
export type RecipientRow = Selectable<NotificationRecipientsTable>;
export type WebhookRow = Selectable<NotificationWebhooksTable>;
export type OutboxRow = Selectable<NotificationOutboxTable>;
export type ReportScheduleRow = Selectable<ReportSchedulesTable>;
/** A job as the reports count it. */
export type ReportJobRow = Pick<JobRow, 'id' | 'kind' | 'state' | 'source_id' | 'created_at' | 'started_at' | 'finished_at'>;
/** A point as the reports measure it. */
export type ReportPointRow = Pick<PointRow, 'source_id' | 'time' | 'recovery_point' | 'logical_bytes' | 'bytes_added'>;
export interface JobLogRow {
  readonly time: string;
  readonly level: string;
  readonly message: string;
}

export const ACTIVE_JOB_STATES = ['queued', 'running'] as const;

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

export interface SourceFilter {
  readonly agent?: string;
  /** A group's name; null: data sources in no group. */
  readonly group?: string | null;
  readonly state?: string;
  /** Part of the id, any case. */
  readonly search?: string;
  /** Only ids after this one (paging). */
  readonly after?: string;
  readonly ids?: readonly string[];
  readonly limit?: number;
}

/** A data source with its newest recovery point's time and its number of recovery points. */
export type SourceSummaryRow = DataSourceRow & { newest_time: string | null; point_count: number | bigint };

/** What changed in the catalog, for whoever shows it live (the console's event stream). */
export type CatalogTopic = 'jobs' | 'alerts' | 'agents';

export class Catalog {
  readonly #listeners = new Set<(topic: CatalogTopic) => void>();

  private constructor(readonly db: Kysely<CatalogSchema>, private readonly sqlite: Database.Database) {}

  /** Calls `listener` after each change of jobs or alerts; returns what stops it. */
  onChange(listener: (topic: CatalogTopic) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(topic: CatalogTopic): void {
    for (const l of this.#listeners) l(topic);
  }

  /** Opens (creating when missing) a SQLite catalog and brings its schema up to date. */
  static async openSqlite(file: string): Promise<Catalog> {
    const sqlite = new Database(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('busy_timeout = 5000');
    const db = new Kysely<CatalogSchema>({ dialect: new SqliteDialect({ database: sqlite }) });
    const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
    const failed = results?.find((r) => r.status === 'Error');
    if (error || failed) {
      await db.destroy();
      throw new CustosError('format', `catalog ${file}: migration ${failed?.migrationName ?? ''} failed: ${String(error)}`, { cause: error });
    }
    return new Catalog(db, sqlite);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  /**
   * Copies the catalog to `file` with SQLite's online backup: a consistent
   * snapshot, taken while the server keeps writing.
   */
  async backupTo(file: string): Promise<void> {
    await this.sqlite.backup(file);
  }

  /**
   * A digest of the configuration an admin sets up — protection groups, data
   * sources and their groups, API tokens, agents and their certificates, pool
   * directories — and nothing that changes by itself (jobs, points, last seen).
   * The catalog backup schedule compares it with the one of the last backup.
   */
  async configurationFingerprint(): Promise<string> {
    const parts: unknown[] = [
      await this.db.selectFrom('protection_groups').selectAll().orderBy('name').execute(),
      await this.db.selectFrom('data_sources').select(['id', 'agent', 'path', 'group_name']).orderBy('id').execute(),
      // Not last_used_at: it changes with every call.
      await this.db.selectFrom('api_tokens').select(['name', 'role', 'token_hash', 'scopes', 'expires_at', 'revoked_at']).orderBy('token_hash').execute(),
      await this.db.selectFrom('agents').select(['name', 'cert_serial', 'revoked_at']).orderBy('name').execute(),
      // Console users, but not their sign-in counters or sessions (they change with every sign-in).
      await this.db.selectFrom('users').select(['name', 'role', 'scopes', 'password_hash']).orderBy('name').execute(),
      await this.db.selectFrom('pool_directories').selectAll().orderBy('path').execute(),
    ];
    // Who is notified (not the secrets); only when set, so a catalog without notifications keeps its fingerprint.
    const notified = [
      ...(await this.db.selectFrom('notification_recipients').select(['address', 'min_severity', 'groups', 'resolved']).orderBy('address').execute()),
      ...(await this.db.selectFrom('notification_webhooks').select(['url', 'min_severity']).orderBy('url').execute()),
    ];
    if (notified.length > 0) parts.push(notified);
    return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
  }

  /** Applied migration names, oldest first (for `server status` and tests). */
  migrations(): string[] {
    return (this.sqlite.prepare('select name from kysely_migration order by name').all() as { name: string }[]).map((r) => r.name);
  }

  // --- settings ---------------------------------------------------------------------------------

  async setting(key: string): Promise<string | null> {
    const row = await this.db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
    return row?.value ?? null;
  }

  async setSetting(key: string, value: string): Promise<void> {
    await this.db.insertInto('settings').values({ key, value }).onConflict((oc) => oc.column('key').doUpdateSet({ value })).execute();
  }

  // --- API tokens and enrollment ---------------------------------------------------------------

  async addApiToken(row: { name: string; role: string; tokenHash: string; now: string; scopes?: readonly string[]; expiresAt?: string | null }): Promise<void> {
    await this.db.insertInto('api_tokens')
      .values({
        name: row.name, role: row.role, token_hash: row.tokenHash, created_at: row.now,
        scopes: JSON.stringify(row.scopes ?? []), expires_at: row.expiresAt ?? null, revoked_at: null, last_used_at: null,
      })
      .execute();
  }

  apiTokenByHash(tokenHash: string): Promise<ApiTokenRow | undefined> {
    return this.db.selectFrom('api_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
  }

  /** Live (not revoked) tokens, or every token; oldest first. */
  listApiTokens(includeRevoked = false): Promise<ApiTokenRow[]> {
    let q = this.db.selectFrom('api_tokens').selectAll().orderBy('id');
    if (!includeRevoked) q = q.where('revoked_at', 'is', null);
    return q.execute();
  }

  /** Marks the live token `name` revoked; false when there is none. */
  async revokeApiToken(name: string, now: string): Promise<boolean> {
    const r = await this.db.updateTable('api_tokens').set({ revoked_at: now }).where('name', '=', name).where('revoked_at', 'is', null).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async touchApiToken(id: number, now: string): Promise<void> {
    await this.db.updateTable('api_tokens').set({ last_used_at: now }).where('id', '=', id).execute();
  }

  // --- console users and their sessions --------------------------------------------------------

  async addUser(row: { name: string; role: string; scopes: readonly string[]; passwordHash: string; now: string; link?: UserLink }): Promise<void> {
    await this.db.insertInto('users')
      .values({
        name: row.name, role: row.role, scopes: JSON.stringify(row.scopes), password_hash: row.passwordHash,
        created_at: row.now, password_changed_at: row.now, locked_until: null, last_sign_in_at: null,
        ...linkColumns(row.link ?? null),
      })
      .execute();
  }

  /** The same password hashed at another cost (at sign-in): not a password change, so sessions stay and the date does not move. */
  async rehashPassword(id: number, passwordHash: string): Promise<void> {
    await this.db.updateTable('users').set({ password_hash: passwordHash }).where('id', '=', id).execute();
  }

  /** Records who a linked user's account is, as its agent just answered (My files refreshes it). */
  async setUserIdentity(id: number, identity: LinkedIdentity, now: string): Promise<void> {
    await this.db.updateTable('users').set({ link_identity: JSON.stringify(identity), link_checked_at: now }).where('id', '=', id).execute();
  }

  userByName(name: string): Promise<UserRow | undefined> {
    return this.db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();
  }

  userById(id: number): Promise<UserRow | undefined> {
    return this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  listUsers(): Promise<UserRow[]> {
    return this.db.selectFrom('users').selectAll().orderBy('name').execute();
  }

  /**
   * Changes a user's password, role or scopes; each of these ends every
   * session of the user (in the same transaction), so a changed password or
   * a narrower role takes effect at once. Returns how many sessions ended.
   */
  async updateUser(id: number, change: { role?: string; scopes?: readonly string[]; passwordHash?: string; link?: UserLink | null; now: string }): Promise<number> {
    return this.db.transaction().execute(async (tx) => {
      await tx.updateTable('users')
        .set({
          ...(change.role !== undefined ? { role: change.role } : {}),
          ...(change.scopes !== undefined ? { scopes: JSON.stringify(change.scopes) } : {}),
          ...(change.link !== undefined ? linkColumns(change.link) : {}),
          ...(change.passwordHash !== undefined ? { password_hash: change.passwordHash, password_changed_at: change.now, failed_sign_ins: 0, locked_until: null } : {}),
        })
        .where('id', '=', id)
        .execute();
      const r = await tx.deleteFrom('sessions').where('user_id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows);
    });
  }

  /** Deletes a user and every session of theirs; false when there was no such user. */
  async deleteUser(id: number): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('sessions').where('user_id', '=', id).execute();
      const r = await tx.deleteFrom('users').where('id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    });
  }

  /** Counts one more failed sign-in in a row (atomically) and returns the count. */
  async addFailedSignIn(id: number): Promise<number> {
    const r = await this.db.updateTable('users').set((eb) => ({ failed_sign_ins: eb('failed_sign_ins', '+', 1) }))
      .where('id', '=', id).returning('failed_sign_ins').executeTakeFirst();
    return r?.failed_sign_ins ?? 0;
  }

  /** Locks a user out until `until` and starts the count of failures again. */
  async lockUser(id: number, until: string): Promise<void> {
    await this.db.updateTable('users').set({ locked_until: until, failed_sign_ins: 0 }).where('id', '=', id).execute();
  }

  /** A successful sign-in: the failure count and any lock are gone. */
  async userSignedIn(id: number, now: string): Promise<void> {
    await this.db.updateTable('users').set({ failed_sign_ins: 0, locked_until: null, last_sign_in_at: now }).where('id', '=', id).execute();
  }

  async addSession(row: { secretHash: string; csrf: string; userId: number; now: string; expiresAt: string; address: string | null }): Promise<void> {
    await this.db.insertInto('sessions')
      .values({ secret_hash: row.secretHash, csrf: row.csrf, user_id: row.userId, created_at: row.now, last_used_at: row.now, expires_at: row.expiresAt, address: row.address })
      .execute();
  }

  sessionByHash(secretHash: string): Promise<SessionRow | undefined> {
    return this.db.selectFrom('sessions').selectAll().where('secret_hash', '=', secretHash).executeTakeFirst();
  }

  async touchSession(id: number, now: string): Promise<void> {
    await this.db.updateTable('sessions').set({ last_used_at: now }).where('id', '=', id).execute();
  }

  async deleteSession(id: number): Promise<void> {
    await this.db.deleteFrom('sessions').where('id', '=', id).execute();
  }

  /** Removes sessions past their latest end or idle since before `idleBefore`. */
  async deleteExpiredSessions(now: string, idleBefore: string): Promise<void> {
    await this.db.deleteFrom('sessions').where((eb) => eb.or([eb('expires_at', '<=', now), eb('last_used_at', '<=', idleBefore)])).execute();
  }

  // --- audit log ---------------------------------------------------------------------------------

  async appendAudit(row: Omit<Insertable<AuditLogTable>, 'id'>): Promise<void> {
    await this.db.insertInto('audit_log').values(row).execute();
  }

  listAudit(filter: { limit: number; before?: number; action?: string }): Promise<AuditRow[]> {
    let q = this.db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(filter.limit);
    if (filter.before !== undefined) q = q.where('id', '<', filter.before);
    if (filter.action !== undefined) q = q.where('action', '=', filter.action);
    return q.execute();
  }

  async addEnrollmentToken(row: { secretHash: string; now: string; expiresAt: string }): Promise<void> {
    await this.db.insertInto('enrollment_tokens')
      .values({ secret_hash: row.secretHash, created_at: row.now, expires_at: row.expiresAt, used_at: null, used_by: null })
      .execute();
  }

  /** Marks a token used; false when it does not exist, expired or was used already (one-time). */
  async consumeEnrollmentToken(secretHash: string, now: string, agent: string): Promise<boolean> {
    const r = await this.db.updateTable('enrollment_tokens')
      .set({ used_at: now, used_by: agent })
      .where('secret_hash', '=', secretHash)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** Marks an unused enrollment token used (catalog resync after a restore); true when it changed. */
  async markEnrollmentTokenUsed(secretHash: string, now: string): Promise<boolean> {
    const r = await this.db.updateTable('enrollment_tokens').set({ used_at: now, used_by: '(resync)' })
      .where('secret_hash', '=', secretHash).where('used_at', 'is', null).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  // --- agents ------------------------------------------------------------------------------------

  async insertAgent(row: Insertable<AgentsTable>): Promise<void> {
    await this.db.insertInto('agents').values(row).execute();
    this.#changed('agents');
  }

  /** Replaces a revoked agent's row on re-attach under the same name. */
  async replaceAgent(row: Insertable<AgentsTable>): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('agents').where('name', '=', row.name).execute();
      await tx.insertInto('agents').values(row).execute();
    });
    this.#changed('agents');
  }

  agent(name: string): Promise<AgentRow | undefined> {
    return this.db.selectFrom('agents').selectAll().where('name', '=', name).executeTakeFirst();
  }

  listAgents(): Promise<AgentRow[]> {
    return this.db.selectFrom('agents').selectAll().where('revoked_at', 'is', null).orderBy('name').execute();
  }

  /** Connects, disconnects, revocations: the agents list changed (the minute's heartbeat, agentsSeen, is no news). */
  async updateAgent(name: string, patch: Updateable<AgentsTable>): Promise<void> {
    await this.db.updateTable('agents').set(patch).where('name', '=', name).execute();
    this.#changed('agents');
  }

  /** The heartbeat: these agents were seen at `now` (one statement for all). */
  async agentsSeen(names: readonly string[], now: string): Promise<void> {
    if (names.length === 0) return;
    await this.db.updateTable('agents').set({ last_seen: now }).where('name', 'in', [...names]).execute();
  }

  // --- protection groups -------------------------------------------------------------------------

  group(name: string): Promise<GroupRow | undefined> {
    return this.db.selectFrom('protection_groups').selectAll().where('name', '=', name).executeTakeFirst();
  }

  listGroups(): Promise<GroupRow[]> {
    return this.db.selectFrom('protection_groups').selectAll().orderBy('name').execute();
  }

  /**
   * Creates or updates a group and sets its membership in one transaction:
   * `members` become the group's data sources (created when new), others
   * that were members leave it. Fails with `exists` when a data source is in
   * another group, leaving everything as it was. `marks` (by data source
   * id) are written to members that stay, in the same transaction, so no
   * scheduler tick sees the new policy with the old marks.
   */
  async saveGroup(
    group: { name: string; policy: string; now: string; create: boolean; endUserRecovery?: boolean; targets?: GroupTargets },
    members: ReadonlyArray<Insertable<DataSourcesTable>>,
    marks: ReadonlyMap<string, Pick<Updateable<DataSourcesTable>, 'last_point_slot' | 'last_check_slot'>> = new Map(),
  ): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      if (group.create) {
        await tx.insertInto('protection_groups').values({
          name: group.name, policy: group.policy, created_at: group.now, end_user_recovery: group.endUserRecovery ? 1 : 0, ...targetColumns(group.targets),
        }).execute();
      } else {
        const endUser = group.endUserRecovery === undefined ? {} : { end_user_recovery: group.endUserRecovery ? 1 : 0 };
        await tx.updateTable('protection_groups').set({ policy: group.policy, ...endUser, ...targetColumns(group.targets) }).where('name', '=', group.name).execute();
      }
      const ids = members.map((m) => m.id);
      for (const m of members) {
        const existing = await tx.selectFrom('data_sources').selectAll().where('id', '=', m.id).executeTakeFirst();
        if (existing?.group_name && existing.group_name !== group.name) {
          throw new CustosError('exists', `data source ${m.id} is already in protection group ${existing.group_name}; a data source belongs to at most one group`);
        }
        if (!existing) await tx.insertInto('data_sources').values({ ...m, group_name: group.name, added_to_group_at: group.now }).execute();
        else if (existing.group_name !== group.name) {
          await tx.updateTable('data_sources').set({ group_name: group.name, added_to_group_at: group.now }).where('id', '=', m.id).execute();
        }
      }
      // A data source that leaves protection gives its allocation back (its points, kept, stay counted as used).
      let leaving = tx.updateTable('data_sources').set(LEFT_PROTECTION).where('group_name', '=', group.name);
      if (ids.length > 0) leaving = leaving.where('id', 'not in', ids);
      await leaving.execute();
      for (const [id, patch] of marks) {
        if (Object.keys(patch).length > 0) await tx.updateTable('data_sources').set(patch).where('id', '=', id).where('group_name', '=', group.name).execute();
      }
    });
  }

  /** Removes a data source's row (its points must be gone: see src/server/source-removal.ts). */
  async deleteSource(id: string): Promise<void> {
    await this.db.deleteFrom('data_sources').where('id', '=', id).execute();
  }

  async deleteGroup(name: string): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.updateTable('data_sources').set(LEFT_PROTECTION).where('group_name', '=', name).execute();
      await tx.deleteFrom('protection_groups').where('name', '=', name).execute();
    });
  }

  // --- data sources ------------------------------------------------------------------------------

  source(id: string): Promise<DataSourceRow | undefined> {
    return this.db.selectFrom('data_sources').selectAll().where('id', '=', id).executeTakeFirst();
  }

  listSources(filter: { agent?: string; group?: string } = {}): Promise<DataSourceRow[]> {
    let q = this.db.selectFrom('data_sources').selectAll();
    if (filter.agent !== undefined) q = q.where('agent', '=', filter.agent);
    if (filter.group !== undefined) q = q.where('group_name', '=', filter.group);
    return q.orderBy('id').execute();
  }

  /**
   * Data sources with their newest recovery point's time and count of
   * recovery points, in one query, filtered and a page at a time (ordered by
   * id; `after` is the last id of the previous page): what lists of
   * thousands of data sources read.
   */
  listSourceSummaries(filter: SourceFilter = {}): Promise<SourceSummaryRow[]> {
    let q = this.db.selectFrom('data_sources as s').selectAll('s')
      .select((eb) => [
        eb.selectFrom('recovery_points as p').select((e) => e.fn.max('p.time').as('t')).whereRef('p.source_id', '=', 's.id').where('p.recovery_point', '=', 1).as('newest_time'),
        eb.selectFrom('recovery_points as p').select((e) => e.fn.countAll<number>().as('n')).whereRef('p.source_id', '=', 's.id').where('p.recovery_point', '=', 1).as('point_count'),
      ]);
    if (filter.agent !== undefined) q = q.where('s.agent', '=', filter.agent);
    if (filter.group !== undefined) q = filter.group === null ? q.where('s.group_name', 'is', null) : q.where('s.group_name', '=', filter.group);
    if (filter.state !== undefined) q = q.where('s.replica_state', '=', filter.state);
    if (filter.search !== undefined) q = q.where((eb) => eb(eb.fn('instr', [eb.fn('lower', ['s.id']), eb.val(filter.search!.toLowerCase())]), '>', 0));
    if (filter.after !== undefined) q = q.where('s.id', '>', filter.after);
    if (filter.ids !== undefined) q = q.where('s.id', 'in', filter.ids.length > 0 ? [...filter.ids] : ['']);
    q = q.orderBy('s.id');
    if (filter.limit !== undefined) q = q.limit(filter.limit);
    return q.execute() as Promise<SourceSummaryRow[]>;
  }

  /** A data source outside any group (catalog resync registers the ones only the pool knows). */
  async insertSource(row: Insertable<DataSourcesTable>): Promise<void> {
    await this.db.insertInto('data_sources').values(row).execute();
  }

  async updateSource(id: string, patch: Updateable<DataSourcesTable>): Promise<void> {
    await this.db.updateTable('data_sources').set(patch).where('id', '=', id).execute();
  }

  // --- recovery points ---------------------------------------------------------------------------

  async insertPoint(row: Insertable<RecoveryPointsTable>): Promise<void> {
    await this.db.insertInto('recovery_points').values(row).execute();
  }

  /** Points of a data source, oldest first; `recoveryPointsOnly` leaves out replica-only sync points. */
  listPoints(sourceId: string, recoveryPointsOnly = false): Promise<PointRow[]> {
    let q = this.db.selectFrom('recovery_points').selectAll().where('source_id', '=', sourceId);
    if (recoveryPointsOnly) q = q.where('recovery_point', '=', 1);
    return q.orderBy('time').orderBy('id').execute();
  }

  point(id: string): Promise<PointRow | undefined> {
    return this.db.selectFrom('recovery_points').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async newestPoint(sourceId: string): Promise<PointRow | undefined> {
    return this.db.selectFrom('recovery_points').selectAll().where('source_id', '=', sourceId)
      .orderBy('time', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst();
  }

  async deletePoints(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.deleteFrom('recovery_points').where('id', 'in', [...ids]).execute();
  }

  // --- jobs --------------------------------------------------------------------------------------

  async insertJob(row: Omit<Insertable<JobsTable>, 'id'>): Promise<number> {
    const r = await this.db.insertInto('jobs').values(row).returning('id').executeTakeFirstOrThrow();
    this.#changed('jobs');
    return Number(r.id);
  }

  job(id: number): Promise<JobRow | undefined> {
    return this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
  }

  listJobs(filter: { state?: string; kind?: string; source?: string; states?: readonly string[]; limit?: number; before?: number } = {}): Promise<JobRow[]> {
    let q = this.db.selectFrom('jobs').selectAll();
    if (filter.before !== undefined) q = q.where('id', '<', filter.before);
    if (filter.state !== undefined) q = q.where('state', '=', filter.state);
    if (filter.states !== undefined) q = q.where('state', 'in', [...filter.states]);
    if (filter.kind !== undefined) q = q.where('kind', '=', filter.kind);
    if (filter.source !== undefined) q = q.where('source_id', '=', filter.source);
    return q.orderBy('id', 'desc').limit(filter.limit ?? 100).execute();
  }

  /** Updates a job; with `fromStates`, only when it is in one of them (true when updated). */
  async updateJob(id: number, patch: Updateable<JobsTable>, fromStates?: readonly string[]): Promise<boolean> {
    let q = this.db.updateTable('jobs').set(patch).where('id', '=', id);
    if (fromStates) q = q.where('state', 'in', [...fromStates]);
    const r = await q.executeTakeFirst();
    const updated = Number(r.numUpdatedRows) > 0;
    if (updated) this.#changed('jobs');
    return updated;
  }

  async appendJobLog(jobId: number, time: string, level: string, message: string): Promise<void> {
    await this.db.insertInto('job_log').values({ job_id: jobId, time, level, message }).execute();
    this.#changed('jobs');
  }

  jobLog(jobId: number): Promise<JobLogRow[]> {
    return this.db.selectFrom('job_log').select(['time', 'level', 'message']).where('job_id', '=', jobId).orderBy('id').execute();
  }

  /** Jobs that ended (succeeded or failed) at or after `since`: their data source and outcome (the daily digest). */
  jobsEndedSince(since: string): Promise<Array<{ source_id: string | null; state: string }>> {
    return this.db.selectFrom('jobs').select(['source_id', 'state']).where('state', 'in', ['succeeded', 'failed']).where('finished_at', '>=', since).execute();
  }

  /** Jobs that ended (succeeded, failed or cancelled) in [from, to), oldest first (the reports). */
  jobsFinishedBetween(from: string, to: string): Promise<ReportJobRow[]> {
    return this.db.selectFrom('jobs').select(['id', 'kind', 'state', 'source_id', 'created_at', 'started_at', 'finished_at'])
      .where('state', 'in', ['succeeded', 'failed', 'cancelled']).where('finished_at', '>=', from).where('finished_at', '<', to)
      .orderBy('finished_at').orderBy('id').execute();
  }

  /**
   * The points the reports measure: every point (replica-only ones too) in
   * [from, to), and each data source's newest recovery point before `from`
   * (where an RPO measured over the period starts). Oldest first.
   */
  async pointsForReport(from: string, to: string): Promise<{ inPeriod: ReportPointRow[]; before: ReportPointRow[]; newest: ReportPointRow[] }> {
    const cols = ['source_id', 'time', 'recovery_point', 'logical_bytes', 'bytes_added'] as const;
    const inPeriod = await this.db.selectFrom('recovery_points').select(cols).where('time', '>=', from).where('time', '<', to).orderBy('time').orderBy('id').execute();
    const newestOf = (until: string) => this.db.selectFrom('recovery_points as p').select(cols.map((c) => `p.${c}` as const))
      .where('p.recovery_point', '=', 1)
      .where('p.time', '=', (eb) => eb.selectFrom('recovery_points as q').select((e) => e.fn.max('q.time').as('t'))
        .whereRef('q.source_id', '=', 'p.source_id').where('q.recovery_point', '=', 1).where('q.time', '<', until))
      .orderBy('p.source_id').execute();
    return { inPeriod, before: await newestOf(from), newest: await newestOf(to) };
  }

  /** Counts of jobs by kind and state (for /metrics). */
  async jobCounts(): Promise<Array<{ kind: string; state: string; n: number }>> {
    const rows = await this.db.selectFrom('jobs').select(['kind', 'state']).select((eb) => eb.fn.countAll<number>().as('n')).groupBy(['kind', 'state']).execute();
    return rows.map((r) => ({ kind: r.kind, state: r.state, n: Number(r.n) }));
  }

  // --- alerts ------------------------------------------------------------------------------------

  /** Raises an alert unless one of the same kind is active for the subject (its message and action are updated then); true when raised. */
  async raiseAlert(row: { kind: string; subject: string; severity: string; message: string; recommendedAction: string; now: string }): Promise<boolean> {
    const raised = await this.db.transaction().execute(async (tx) => {
      const active = await tx.selectFrom('alerts').select('id').where('state', '=', 'active').where('kind', '=', row.kind).where('subject', '=', row.subject).executeTakeFirst();
      if (active) {
        await tx.updateTable('alerts').set({ message: row.message, recommended_action: row.recommendedAction }).where('id', '=', active.id).execute();
        return false;
      }
      await tx.insertInto('alerts').values({
        kind: row.kind, subject: row.subject, severity: row.severity, state: 'active', message: row.message,
        recommended_action: row.recommendedAction, raised_at: row.now, resolved_at: null,
      }).execute();
      return true;
    });
    this.#changed('alerts');
    return raised;
  }

  /** Resolves active alerts of a kind for a subject; the alerts resolved (as they are now). */
  async resolveAlerts(kind: string, subject: string, now: string): Promise<AlertRow[]> {
    const rows = await this.db.updateTable('alerts').set({ state: 'resolved', resolved_at: now })
      .where('state', '=', 'active').where('kind', '=', kind).where('subject', '=', subject).returningAll().execute();
    if (rows.length > 0) this.#changed('alerts');
    return rows;
  }

  /** The active alert of a kind for a subject, if any (there is at most one). */
  activeAlert(kind: string, subject: string): Promise<AlertRow | undefined> {
    return this.db.selectFrom('alerts').selectAll().where('state', '=', 'active').where('kind', '=', kind).where('subject', '=', subject).executeTakeFirst();
  }

  /** Resolves an alert by id; `changed`: it was active until now. Undefined when there is no such alert. */
  async resolveAlert(id: number, now: string): Promise<{ alert: AlertRow; changed: boolean } | undefined> {
    const r = await this.db.updateTable('alerts').set({ state: 'resolved', resolved_at: now }).where('id', '=', id).where('state', '=', 'active').executeTakeFirst();
    const changed = Number(r.numUpdatedRows) > 0;
    if (changed) this.#changed('alerts');
    const alert = await this.db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
    return alert && { alert, changed };
  }

  listAlerts(state: 'active' | 'resolved' | 'all'): Promise<AlertRow[]> {
    let q = this.db.selectFrom('alerts').selectAll();
    if (state !== 'all') q = q.where('state', '=', state);
    return q.orderBy('id', 'desc').execute();
  }

  // --- pool directories --------------------------------------------------------------------------

  async addPoolDirectory(path: string, now: string): Promise<void> {
    await this.db.insertInto('pool_directories').values({ path, added_at: now }).execute();
  }

  async poolDirectories(): Promise<string[]> {
    return (await this.db.selectFrom('pool_directories').select('path').orderBy('added_at').execute()).map((r) => r.path);
  }

  // --- notifications -----------------------------------------------------------------------------

  listRecipients(): Promise<RecipientRow[]> {
    return this.db.selectFrom('notification_recipients').selectAll().orderBy('address').execute();
  }

  /** Adds a recipient, or replaces the settings of the one with that address. */
  async saveRecipient(row: RecipientRow): Promise<void> {
    const { address: _a, created_at: _c, ...settings } = row;
    await this.db.insertInto('notification_recipients').values(row).onConflict((oc) => oc.column('address').doUpdateSet(settings)).execute();
  }

  async deleteRecipient(address: string): Promise<boolean> {
    const r = await this.db.deleteFrom('notification_recipients').where('address', '=', address).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  listWebhooks(): Promise<WebhookRow[]> {
    return this.db.selectFrom('notification_webhooks').selectAll().orderBy('id').execute();
  }

  webhook(id: number): Promise<WebhookRow | undefined> {
    return this.db.selectFrom('notification_webhooks').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Adds a webhook, or replaces the secret and severity of the one with that URL; its id. */
  async saveWebhook(row: Omit<Insertable<NotificationWebhooksTable>, 'id'>): Promise<number> {
    const r = await this.db.insertInto('notification_webhooks').values(row)
      .onConflict((oc) => oc.column('url').doUpdateSet({ secret: row.secret, min_severity: row.min_severity }))
      .returning('id').executeTakeFirstOrThrow();
    return Number(r.id);
  }

  /** Removes a webhook and what its outbox still held for it. */
  async deleteWebhook(id: number): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const r = await tx.deleteFrom('notification_webhooks').where('id', '=', id).executeTakeFirst();
      await tx.deleteFrom('notification_outbox').where('channel', '=', 'webhook').where('destination', '=', String(id)).where('state', '=', 'queued').execute();
      return Number(r.numDeletedRows) > 0;
    });
  }

  /** Queues messages in the outbox (one transaction: all or none). */
  async queueNotifications(rows: ReadonlyArray<Pick<OutboxRow, 'channel' | 'destination' | 'subject' | 'body'> & { attachment?: string | null }>, now: string): Promise<void> {
    if (rows.length === 0) return;
    await this.db.insertInto('notification_outbox')
      .values(rows.map((r) => ({ ...r, attachment: r.attachment ?? null, state: 'queued', created_at: now, next_attempt_at: now, attempts: 0, last_error: null, sent_at: null })))
      .execute();
  }

  // --- report schedules --------------------------------------------------------------------------

  listReportSchedules(): Promise<ReportScheduleRow[]> {
    return this.db.selectFrom('report_schedules').selectAll().orderBy('report').execute();
  }

  /** Adds a schedule, or replaces the time, recipients and format of the report's (its last sent day is kept). */
  async saveReportSchedule(row: Omit<ReportScheduleRow, 'last_sent_day'>): Promise<void> {
    const { report: _r, created_at: _c, ...settings } = row;
    await this.db.insertInto('report_schedules').values({ ...row, last_sent_day: null }).onConflict((oc) => oc.column('report').doUpdateSet(settings)).execute();
  }

  async deleteReportSchedule(report: string): Promise<boolean> {
    const r = await this.db.deleteFrom('report_schedules').where('report', '=', report).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /**
   * Marks a schedule sent for `day` and queues its mails, in one
   * transaction: the mails are queued once a day, even across a restart.
   * False (nothing queued) when the day was already marked.
   */
  async markReportSent(report: string, day: string, mails: Parameters<Catalog['queueNotifications']>[0], now: string): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const r = await tx.updateTable('report_schedules').set({ last_sent_day: day }).where('report', '=', report)
        .where((eb) => eb.or([eb('last_sent_day', 'is', null), eb('last_sent_day', '<>', day)])).executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) return false;
      if (mails.length > 0) {
        await tx.insertInto('notification_outbox')
          .values(mails.map((m) => ({ ...m, attachment: m.attachment ?? null, state: 'queued', created_at: now, next_attempt_at: now, attempts: 0, last_error: null, sent_at: null })))
          .execute();
      }
      return true;
    });
  }

  /** Queued messages due at `now`, oldest first. */
  dueNotifications(now: string, limit: number): Promise<OutboxRow[]> {
    return this.db.selectFrom('notification_outbox').selectAll().where('state', '=', 'queued').where('next_attempt_at', '<=', now)
      .orderBy('id').limit(limit).execute();
  }

  listOutbox(filter: { state?: string; limit?: number } = {}): Promise<OutboxRow[]> {
    let q = this.db.selectFrom('notification_outbox').selectAll();
    if (filter.state !== undefined) q = q.where('state', '=', filter.state);
    return q.orderBy('id', 'desc').limit(filter.limit ?? 100).execute();
  }

  async updateNotification(id: number, patch: Updateable<NotificationOutboxTable>): Promise<void> {
    await this.db.updateTable('notification_outbox').set(patch).where('id', '=', id).execute();
  }

  /** Forgets sent and abandoned messages older than `before`; how many. */
  async purgeNotifications(before: string): Promise<number> {
    const r = await this.db.deleteFrom('notification_outbox').where('state', 'in', ['sent', 'failed']).where('created_at', '<', before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}

/** A group's SLA targets as saved: undefined leaves a target as it is, null clears it. */
export interface GroupTargets {
  readonly rpoTargetMinutes?: number | null;
  readonly rtoTargetMinutes?: number | null;
}

function targetColumns(t: GroupTargets | undefined): { rpo_target_minutes?: number | null; rto_target_minutes?: number | null } {
  return {
    ...(t?.rpoTargetMinutes !== undefined ? { rpo_target_minutes: t.rpoTargetMinutes } : {}),
    ...(t?.rtoTargetMinutes !== undefined ? { rto_target_minutes: t.rtoTargetMinutes } : {}),
  };
}
