/**
 * Backups into a local pool as the standalone command makes them, for tests
 * that compare a backup guided by changes with a full walk (the change
 * journal's tests), and a readable form of manifest entries.
 */
import type { ManifestEntry, ManifestPageRef, RecoveryPointRecord } from '../../src/format/index.js';
import type { Pool } from '../../src/pool/index.js';
import type { BackupResult, ChangeSet } from '../../src/agent/backup/backup.js';
import { runBackupInto } from '../../src/standalone/backup.js';
import type { FsChangeJournal } from '../../src/agent/journal/index.js';
import type { BigIntStats } from 'node:fs';

export interface HarnessBackupOptions {
  readonly changes?: ChangeSet | null;
  readonly excludes?: string[];
  readonly workers?: number;
  readonly onEntry?: (e: ManifestEntry) => void;
  /** The change journal whose inode index the walk keeps up to date, as the agent's does (FsChangeJournal.observe). */
  readonly journal?: FsChangeJournal;
}

/** One backup of `source` into `pool` (runBackupInto, as the standalone command does), compared with `previous` (a manifest in the same pool). */
export async function backupWithChanges(pool: Pool, source: string, previous: readonly ManifestPageRef[] | null, options: HarnessBackupOptions = {}): Promise<BackupResult> {
  const { result } = await runBackupInto(pool, {
    source,
    previous: previous ? manifestOf(pool, previous) : null,
    changes: options.changes ?? null,
    excludes: options.excludes,
    workers: options.workers ?? 2,
    ...(options.onEntry ? { onEntry: options.onEntry } : {}),
    ...(options.journal ? { onStat: (rel: Buffer, st: BigIntStats) => options.journal!.observe(rel, st) } : {}),
  });
  return result;
}

/** The entries of a manifest held in `pool`. */
export function manifestOf(pool: Pool, manifest: readonly ManifestPageRef[]): AsyncIterable<ManifestEntry> {
  return pool.manifest({ manifest } as unknown as RecoveryPointRecord);
}

export async function manifestEntries(pool: Pool, manifest: readonly ManifestPageRef[]): Promise<ManifestEntry[]> {
  const out: ManifestEntry[] = [];
  for await (const e of manifestOf(pool, manifest)) out.push(e);
  return out;
}

/** An entry as one line: every field, Buffers as hex, so two lists compare with a readable diff. */
export function showEntry(e: ManifestEntry): string {
  return JSON.stringify(e, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer') return Buffer.from((v as { data: number[] }).data).toString('hex');
    return v;
  });
}
