/**
 * Versioned catalog migrations. Each is applied once, in order, inside the
 * migrator's transaction; a released migration is never edited — add the
 * next one. Types are the portable subset (text, integer, bigint) so the
 * same migrations build a PostgreSQL catalog.
 */
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely';

export const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.createTable('settings')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createTable('api_tokens')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createTable('enrollment_tokens')
        .addColumn('secret_hash', 'text', (c) => c.primaryKey())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('used_at', 'text')
        .addColumn('used_by', 'text')
        .execute();
      await db.schema.createTable('agents')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('cert_serial', 'text', (c) => c.notNull())
        .addColumn('cert_fingerprint', 'text', (c) => c.notNull())
        .addColumn('hostname', 'text', (c) => c.notNull())
        .addColumn('attached_at', 'text', (c) => c.notNull())
        .addColumn('last_seen', 'text')
        .addColumn('version', 'text')
        .addColumn('revoked_at', 'text')
        .execute();
      await db.schema.createTable('protection_groups')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('policy', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createTable('data_sources')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('agent', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('group_name', 'text')
        .addColumn('replica_state', 'text', (c) => c.notNull())
        .addColumn('allocation_bytes', 'bigint', (c) => c.notNull())
        .addColumn('used_bytes', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_sync_started_at', 'text')
        .addColumn('last_sync_ok_at', 'text')
        .addColumn('last_point_slot', 'text')
        .addColumn('last_check_slot', 'text')
        .addColumn('added_to_group_at', 'text')
        .execute();
      await db.schema.createTable('recovery_points')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('source_id', 'text', (c) => c.notNull())
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('recovery_point', 'integer', (c) => c.notNull())
        .addColumn('partial', 'integer', (c) => c.notNull())
        .addColumn('files', 'bigint', (c) => c.notNull())
        .addColumn('logical_bytes', 'bigint', (c) => c.notNull())
        .addColumn('bytes_added', 'bigint', (c) => c.notNull())
        .addColumn('job_id', 'integer')
        .execute();
      await db.schema.createIndex('recovery_points_by_source').on('recovery_points').columns(['source_id', 'time']).execute();
      await db.schema.createTable('jobs')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('source_id', 'text')
        .addColumn('agent', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text')
        .addColumn('finished_at', 'text')
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('next_attempt_at', 'text', (c) => c.notNull())
        .addColumn('progress', 'text', (c) => c.notNull())
        .addColumn('error', 'text')
        .addColumn('result', 'text')
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('slot', 'text')
        .execute();
      await db.schema.createIndex('jobs_by_state').on('jobs').columns(['state', 'next_attempt_at']).execute();
      await db.schema.createIndex('jobs_by_source').on('jobs').columns(['source_id', 'id']).execute();
      await db.schema.createTable('job_log')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('job_id', 'integer', (c) => c.notNull())
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('level', 'text', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('job_log_by_job').on('job_log').columns(['job_id', 'id']).execute();
      await db.schema.createTable('alerts')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('severity', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('recommended_action', 'text', (c) => c.notNull())
        .addColumn('raised_at', 'text', (c) => c.notNull())
        .addColumn('resolved_at', 'text')
        .execute();
      await db.schema.createIndex('alerts_by_state').on('alerts').columns(['state', 'kind', 'subject']).execute();
      await db.schema.createTable('pool_directories')
        .addColumn('path', 'text', (c) => c.primaryKey())
        .addColumn('added_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0002-access-and-audit': {
    async up(db: Kysely<unknown>): Promise<void> {
      // Tokens get a scope, an expiry, a revocation and a last use; names become unique among live tokens (enforced by the catalog).
      await db.schema.alterTable('api_tokens').addColumn('scopes', 'text', (c) => c.notNull().defaultTo('[]')).execute();
      await db.schema.alterTable('api_tokens').addColumn('expires_at', 'text').execute();
      await db.schema.alterTable('api_tokens').addColumn('revoked_at', 'text').execute();
      await db.schema.alterTable('api_tokens').addColumn('last_used_at', 'text').execute();
      await db.schema.createTable('audit_log')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('role', 'text')
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('target', 'text')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('detail', 'text', (c) => c.notNull())
        .addColumn('address', 'text')
        .execute();
      await db.schema.createIndex('audit_log_by_action').on('audit_log').columns(['action', 'id']).execute();
    },
  },
  '0003-end-user-recovery': {
    async up(db: Kysely<unknown>): Promise<void> {
      // Whether people logged into a protected computer may recover their own files (custos my): off until an admin says so.
      await db.schema.alterTable('protection_groups').addColumn('end_user_recovery', 'integer', (c) => c.notNull().defaultTo(0)).execute();
    },
  },
  '0004-users-and-sessions': {
    async up(db: Kysely<unknown>): Promise<void> {
      // People who sign in to the console with a password (scrypt, src/server/passwords.ts), and their browser sessions.
      await db.schema.createTable('users')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('scopes', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('password_changed_at', 'text', (c) => c.notNull())
        .addColumn('failed_sign_ins', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('locked_until', 'text')
        .addColumn('last_sign_in_at', 'text')
        .execute();
      // A session is found by the SHA-256 of its cookie's secret; the secret itself is never stored.
      await db.schema.createTable('sessions')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('secret_hash', 'text', (c) => c.notNull().unique())
        .addColumn('csrf', 'text', (c) => c.notNull())
        .addColumn('user_id', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_used_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('address', 'text')
        .execute();
      await db.schema.createIndex('sessions_by_user').on('sessions').column('user_id').execute();
    },
  },
  '0005-notifications': {
    async up(db: Kysely<unknown>): Promise<void> {
      // SMTP and digest settings live in `settings` (notify.smtp, notify.digest) as JSON; who gets what is here.
      await db.schema.createTable('notification_recipients')
        .addColumn('address', 'text', (c) => c.primaryKey())
        .addColumn('min_severity', 'text', (c) => c.notNull())
        .addColumn('groups', 'text', (c) => c.notNull()) // JSON array of group names; [] = every group
        .addColumn('resolved', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createTable('notification_webhooks')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('url', 'text', (c) => c.notNull().unique())
        .addColumn('secret', 'text', (c) => c.notNull())
        .addColumn('min_severity', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      // The outbox: each message is written here before anyone tries to send it, so a restart loses none.
      await db.schema.createTable('notification_outbox')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('channel', 'text', (c) => c.notNull()) // mail | webhook
        .addColumn('destination', 'text', (c) => c.notNull()) // an address, or a webhook's id
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull()) // queued | sent | failed
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('next_attempt_at', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('last_error', 'text')
        .addColumn('sent_at', 'text')
        .execute();
      await db.schema.createIndex('notification_outbox_by_state').on('notification_outbox').columns(['state', 'next_attempt_at']).execute();
    },
  },
  '0006-report-targets': {
    async up(db: Kysely<unknown>): Promise<void> {
      // Per-group service level targets the SLA report measures against (minutes; null: none set).
      await db.schema.alterTable('protection_groups').addColumn('rpo_target_minutes', 'integer').execute();
      await db.schema.alterTable('protection_groups').addColumn('rto_target_minutes', 'integer').execute();
      // Reports mailed once a day; last_sent_day (local YYYY-MM-DD) makes "once a day" survive a restart.
      await db.schema.createTable('report_schedules')
        .addColumn('report', 'text', (c) => c.primaryKey())
        .addColumn('daily_at', 'text', (c) => c.notNull()) // HH:MM, the server's local time
        .addColumn('recipients', 'text', (c) => c.notNull()) // JSON array of addresses
        .addColumn('format', 'text', (c) => c.notNull()) // pdf | csv | html
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_sent_day', 'text')
        .execute();
      // A mail may carry one attachment (a scheduled report): JSON {fileName, contentType, base64}.
      await db.schema.alterTable('notification_outbox').addColumn('attachment', 'text').execute();
    },
  },
  '0007-user-links': {
    async up(db: Kysely<unknown>): Promise<void> {
      // A console user linked to an account on a protected computer (My files): the agent, the account's
      // name there, and who the agent last said it is (JSON {uid, gid, groups}) with when.
      await db.schema.alterTable('users').addColumn('link_agent', 'text').execute();
      await db.schema.alterTable('users').addColumn('link_account', 'text').execute();
      await db.schema.alterTable('users').addColumn('link_identity', 'text').execute();
      await db.schema.alterTable('users').addColumn('link_checked_at', 'text').execute();
    },
  },
  '0008-app-points': {
    async up(db: Kysely<unknown>): Promise<void> {
      // An application point's metadata (a PostgreSQL express full: format/postgres/point-meta.ts) as JSON; null for files.
      await db.schema.alterTable('recovery_points').addColumn('app', 'text').execute();
    },
  },
};
