/**
 * When the server backs up its catalog, and which backups it keeps. Pure:
 * the job engine reads the marks from the catalog, asks here, and queues a
 * `catalog-backup` job (or deletes the backups named).
 *
 * Due: once a day, and a short while (the debounce) after the configuration
 * changed — the configuration being what an admin sets up (groups, data
 * sources, tokens, agents), seen as a fingerprint that differs from the one
 * the last backup had. A backup that failed is not tried again by the
 * schedule for RETRY_AFTER_FAILURE_MS (the job itself has retried already).
 */

export const CATALOG_BACKUP_DAILY_MS = 24 * 3_600_000;
export const CATALOG_BACKUP_DEBOUNCE_MS = 2 * 60_000;
export const CATALOG_BACKUP_RETRY_AFTER_FAILURE_MS = 15 * 60_000;

export interface CatalogBackupMarks {
  /** When the last backup succeeded. */
  readonly lastBackupAt: Date | null;
  /** When the schedule last queued one (succeeded or not). */
  readonly lastQueuedAt: Date | null;
  /** The configuration fingerprint the last successful backup held. */
  readonly backedUpFingerprint: string | null;
  /** The configuration fingerprint now, and since when it has been so. */
  readonly fingerprint: string;
  readonly fingerprintSince: Date;
  /** A catalog backup job is queued or running. */
  readonly active: boolean;
}

export type CatalogBackupDue = { readonly reason: 'scheduled' | 'configuration change'; readonly why: string } | null;

export function catalogBackupDue(m: CatalogBackupMarks, now: Date): CatalogBackupDue {
  if (m.active) return null;
  const t = now.getTime();
  const lastTryFailed = m.lastQueuedAt !== null && (m.lastBackupAt === null || m.lastQueuedAt.getTime() > m.lastBackupAt.getTime());
  if (lastTryFailed && t - m.lastQueuedAt!.getTime() < CATALOG_BACKUP_RETRY_AFTER_FAILURE_MS) return null;
  if (m.lastBackupAt === null) return { reason: 'scheduled', why: 'no catalog backup yet' };
  if (t - m.lastBackupAt.getTime() >= CATALOG_BACKUP_DAILY_MS) return { reason: 'scheduled', why: 'daily catalog backup' };
  if (m.fingerprint !== m.backedUpFingerprint && t - m.fingerprintSince.getTime() >= CATALOG_BACKUP_DEBOUNCE_MS) {
    return { reason: 'configuration change', why: 'the configuration changed since the last catalog backup' };
  }
  return null;
}

export interface CatalogBackupRetention {
  /** The newest this many are kept. */
  readonly keepLast: number;
  /** And the newest of each of this many UTC days, today included. */
  readonly keepDays: number;
}

export const DEFAULT_CATALOG_BACKUP_RETENTION: CatalogBackupRetention = { keepLast: 30, keepDays: 30 };

/** The backups to delete: all but the newest `keepLast` and the newest of each of the last `keepDays` days. */
export function catalogBackupsToDelete(
  backups: ReadonlyArray<{ readonly id: string; readonly time: Date }>,
  now: Date,
  rule: CatalogBackupRetention = DEFAULT_CATALOG_BACKUP_RETENTION,
): string[] {
  const newestFirst = [...backups].sort((a, b) => b.time.getTime() - a.time.getTime() || (a.id < b.id ? 1 : -1));
  const keep = new Set(newestFirst.slice(0, rule.keepLast).map((b) => b.id));
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const firstDay = today - (rule.keepDays - 1) * 86_400_000;
  const daysSeen = new Set<string>();
  for (const b of newestFirst) {
    if (b.time.getTime() < firstDay || b.time.getTime() >= today + 86_400_000) continue;
    const day = b.time.toISOString().slice(0, 10);
    if (daysSeen.has(day)) continue;
    daysSeen.add(day);
    keep.add(b.id);
  }
  return newestFirst.filter((b) => !keep.has(b.id)).map((b) => b.id);
}
