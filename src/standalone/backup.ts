/**
 * Standalone backup: protect a directory into a local pool, no server. This
 * is the wiring of the agent's backup pipeline to the pool's chunk writer;
 * the server will wire the same pipeline to its agent endpoint.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { ProgressSink, RecoveryPointId } from '../base/index.js';
import { POINT_VERSION, type RecoveryPointRecord } from '../format/index.js';
import type { Pool } from '../pool/index.js';
import { withPool, type PoolRef } from './with-pool.js';
import { runBackup, type BackupOptions, type BackupResult, type ItemError } from '../agent/index.js';

export interface BackupCommandOptions extends PoolRef {
  readonly excludes?: readonly string[];
  readonly progress?: ProgressSink;
  readonly workers?: number;
}

export interface BackupReport {
  readonly point: RecoveryPointId;
  readonly time: string;
  readonly source: string;
  readonly parent: RecoveryPointId | null;
  readonly partial: boolean;
  readonly filesNew: number;
  readonly filesChanged: number;
  readonly filesUnchanged: number;
  readonly dirs: number;
  readonly others: number;
  readonly bytesRead: number;
  readonly bytesAdded: number;
  readonly logicalBytes: number;
  readonly durationMs: number;
  readonly errors: ItemError[];
  readonly changedDuringRead: string[];
}

/** What a backup into a local pool is told beyond the pool itself. */
export type PoolBackupOptions = Omit<BackupOptions, 'sink' | 'keys' | 'compressionLevel' | 'chunker' | 'known'>;

/**
 * The agent's backup pipeline wired to an open pool (its keys, settings and
 * chunk writer): the chunks are stored once this resolves; the caller saves
 * the point. `bytesAdded`: what the chunk writer stored.
 */
export async function runBackupInto(pool: Pool, options: PoolBackupOptions): Promise<{ readonly result: BackupResult; readonly bytesAdded: number }> {
  const writer = pool.chunkWriter();
  const result = await runBackup({
    ...options,
    sink: writer,
    keys: pool.keys,
    compressionLevel: pool.config.compression.level,
    chunker: pool.config.chunker,
    known: pool.knownIds(),
  });
  await writer.flush();
  return { result, bytesAdded: writer.bytesAdded };
}

export async function backupToPool(sourcePath: string, options: BackupCommandOptions): Promise<BackupReport> {
  const source = resolve(sourcePath);
  const host = hostname();
  // One backup of a data source at a time: a second one would store the same data again.
  return withPool(options, 'shared', 'backup', async (pool) => {
    const started = Date.now(); // after any wait for the lock
    await pool.loadIndex();
    const parent = (await pool.listPoints()).filter((p) => p.source.host === host && p.source.path === source).at(-1) ?? null;
    const { result, bytesAdded } = await runBackupInto(pool, {
      source,
      previous: parent ? pool.manifest(parent) : null,
      excludes: options.excludes ?? [],
      progress: options.progress,
      workers: options.workers,
    });
    const point: RecoveryPointRecord = {
      version: POINT_VERSION,
      id: randomBytes(16).toString('hex') as RecoveryPointId,
      time: new Date().toISOString(),
      source: { host, path: source },
      parent: parent?.id ?? null,
      manifest: result.manifest,
      summary: { ...result.summary, bytesAdded, durationMs: Date.now() - started },
      partial: result.partial,
      excludes: [...(options.excludes ?? [])],
    };
    await pool.savePoint(point);
    return {
      point: point.id,
      time: point.time,
      source,
      parent: point.parent,
      partial: point.partial,
      ...point.summary,
      errors: result.errors,
      changedDuringRead: result.changedDuringRead,
    };
  }, `${host}:${source}`);
}
