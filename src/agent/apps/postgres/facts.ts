/**
 * What a connected cluster says about itself (docs/design/postgresql.md §3.1
 * step 4) and whether its logs can be ours (§6: one log consumer).
 */
import type pg from 'pg';
import type { LogMode } from '../../../protocol/messages.js';

export interface ReplicationSlot {
  readonly name: string;
  readonly type: 'physical' | 'logical';
  readonly active: boolean;
}

export interface ClusterFacts {
  readonly versionNum: number;
  readonly systemIdentifier: string;
  readonly inRecovery: boolean;
  readonly dataDirectory: string;
  readonly walLevel: string;
  readonly maxWalSenders: number;
  readonly archiveMode: string;
  readonly archiveCommand: string;
  /** '' before PostgreSQL 15, which has no archive_library. */
  readonly archiveLibrary: string;
  readonly fullPageWrites: boolean;
  readonly dataChecksums: boolean;
  readonly walSegmentBytes: number;
  readonly synchronousStandbyNames: string;
  readonly slots: readonly ReplicationSlot[];
  /** Bytes of every database. */
  readonly databaseBytes: number;
}

const SETTINGS = `
SELECT current_setting('server_version_num')::int AS version_num,
       (SELECT system_identifier::text FROM pg_control_system()) AS system_identifier,
       pg_is_in_recovery() AS in_recovery,
       current_setting('data_directory') AS data_directory,
       current_setting('wal_level') AS wal_level,
       current_setting('max_wal_senders')::int AS max_wal_senders,
       current_setting('archive_mode') AS archive_mode,
       current_setting('archive_command') AS archive_command,
       coalesce(current_setting('archive_library', true), '') AS archive_library,
       current_setting('full_page_writes') = 'on' AS full_page_writes,
       current_setting('data_checksums') = 'on' AS data_checksums,
       (SELECT setting::bigint * CASE unit WHEN 'B' THEN 1 WHEN 'kB' THEN 1024 WHEN 'MB' THEN 1048576 ELSE 1 END
          FROM pg_settings WHERE name = 'wal_segment_size') AS wal_segment_bytes,
       current_setting('synchronous_standby_names') AS synchronous_standby_names,
       (SELECT coalesce(sum(pg_database_size(oid)), 0)::bigint FROM pg_database) AS database_bytes`;

export async function readFacts(client: pg.Client): Promise<ClusterFacts> {
  const s = (await client.query(SETTINGS)).rows[0] as Record<string, unknown>;
  const slots = (await client.query('SELECT slot_name, slot_type, active FROM pg_replication_slots ORDER BY slot_name')).rows as Array<Record<string, unknown>>;
  return {
    versionNum: Number(s['version_num']),
    systemIdentifier: String(s['system_identifier']),
    inRecovery: s['in_recovery'] === true,
    dataDirectory: String(s['data_directory']),
    walLevel: String(s['wal_level']),
    maxWalSenders: Number(s['max_wal_senders']),
    archiveMode: String(s['archive_mode']),
    archiveCommand: String(s['archive_command']),
    archiveLibrary: String(s['archive_library']),
    fullPageWrites: s['full_page_writes'] === true,
    dataChecksums: s['data_checksums'] === true,
    walSegmentBytes: Number(s['wal_segment_bytes']),
    synchronousStandbyNames: String(s['synchronous_standby_names']),
    slots: slots.map((r) => ({ name: String(r['slot_name']), type: r['slot_type'] === 'logical' ? 'logical' : 'physical', active: r['active'] === true })),
    databaseBytes: Number(s['database_bytes']),
  };
}

/** Slots Custos makes (§5.1: custos_ and 12 hexadecimal digits; an express full's temporary custos_tmp_ and 12). */
export const OUR_SLOT = /^custos_(tmp_)?[0-9a-f]{12}$/;

export interface LogModeDecision {
  readonly mode: LogMode;
  /** Why the cluster is protected by express fulls only (each with what to do); empty in log mode. */
  readonly reasons: readonly string[];
}

/**
 * Whether Custos may take this cluster's logs (pure, §6): not when the
 * cluster writes too little WAL for recovery, lets no one stream it, ships
 * it elsewhere (an archive command or library), has a physical slot that is
 * neither ours nor declared a replica's, or would make commits wait for our
 * receiver (synchronous_standby_names matching `custos`).
 */
export function decideLogMode(f: ClusterFacts, replicaSlots: readonly string[] = []): LogModeDecision {
  const reasons: string[] = [];
  if (f.walLevel === 'minimal') reasons.push("wal_level is minimal: set it to replica and restart PostgreSQL");
  if (f.maxWalSenders === 0) reasons.push('max_wal_senders is 0: set it to 10 and restart PostgreSQL');
  const archiving = f.archiveMode === 'on' || f.archiveMode === 'always';
  const command = f.archiveCommand.trim();
  if (archiving && command !== '' && command !== '(disabled)') reasons.push(`another tool takes its logs: archive_command is '${command.slice(0, 200)}'`);
  if (archiving && f.archiveLibrary.trim() !== '') reasons.push(`another tool takes its logs: archive_library is '${f.archiveLibrary.trim().slice(0, 200)}'`);
  for (const slot of f.slots) {
    if (slot.type !== 'physical' || OUR_SLOT.test(slot.name) || replicaSlots.includes(slot.name)) continue;
    reasons.push(`replication slot ${slot.name} is not Custos's: another tool may take its logs (if it is a standby's, declare it with custos source configure --replica-slot ${slot.name})`);
  }
  const sync = f.synchronousStandbyNames.trim();
  if (sync !== '' && synchronousNamesMatch(sync, 'custos')) reasons.push(`synchronous_standby_names ('${sync.slice(0, 200)}') would make every commit wait for Custos: name the standbys instead`);
  return { mode: reasons.length === 0 ? 'logs' : 'full-only', reasons };
}

/** Whether `application` is among synchronous_standby_names ('*' matches any; FIRST n (…) / ANY n (…) lists too). */
export function synchronousNamesMatch(setting: string, application: string): boolean {
  const inner = /^\s*(?:(?:FIRST|ANY)\s+)?\d*\s*\((.*)\)\s*$/i.exec(setting)?.[1] ?? setting;
  return inner.split(',').map((n) => n.trim().replace(/^"(.*)"$/, '$1')).some((n) => n === '*' || n.toLowerCase() === application.toLowerCase());
}
