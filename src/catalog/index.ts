/**
 * catalog: the server's database — schema, versioned migrations and typed
 * queries (kysely; SQLite embedded, PostgreSQL later with the same queries).
 * Depends on base only.
 */
export { Catalog, userLinkOf, ACTIVE_JOB_STATES, type CatalogTopic, type AgentRow, type AlertRow, type ApiTokenRow, type AuditRow, type DataSourceRow, type GroupRow, type JobLogRow, type JobRow, type PointRow, type SessionRow, type SourceFilter, type SourceSummaryRow, type UserRow, type UserLink, type LinkedIdentity, type RecipientRow, type WebhookRow, type OutboxRow, type ReportScheduleRow, type ReportJobRow, type ReportPointRow, type GroupTargets } from './catalog.js';
export type { CatalogSchema } from './schema.js';
export { inspectCatalogFile, TABLES_OF_MIGRATION, type CatalogFileState } from './integrity.js';
