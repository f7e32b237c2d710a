/**
 * What the files of a PostgreSQL data directory are to a base backup
 * (docs/design/postgresql.md §4.1 and §4.2), by their path relative to the
 * data directory:
 *
 * - left out: what PostgreSQL documents a file-level base backup may omit
 *   (the contents of pg_wal, pg_replslot, pg_dynshmem, pg_notify,
 *   pg_serial, pg_snapshots, pg_stat_tmp, pg_subtrans; postmaster.pid and
 *   .opts; relcache init files; temporary files and relations; a
 *   backup_label.old) and the agent's own spool (custos-wal);
 * - relation files (tables and indexes: `base/DB/REL[_fork][.SEG]`,
 *   `global/REL…`, and the same under a tablespace): cut into fixed
 *   blocks, since PostgreSQL rewrites their 8 KiB pages in place;
 * - everything else: content-defined chunks.
 */

/** Directories kept, empty, in a base backup. */
export const EMPTIED_DIRS: readonly string[] = ['pg_wal', 'pg_replslot', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_stat_tmp', 'pg_subtrans', 'custos-wal'];
/** Files of the data directory's top level left out. */
const LEFT_OUT_FILES = new Set(['postmaster.pid', 'postmaster.opts', 'backup_label.old', 'tablespace_map.old']);

const RELATION_NAME = /^[1-9][0-9]{0,9}(_(fsm|vm|init))?(\.[1-9][0-9]{0,5})?$/;
const TEMP_RELATION = /^t[1-9][0-9]{0,9}_[1-9][0-9]{0,9}(_(fsm|vm|init))?(\.[1-9][0-9]{0,5})?$/;
const OID = /^[1-9][0-9]{0,9}$/;

/**
 * Whether a base backup leaves this path out (the directories of
 * EMPTIED_DIRS themselves stay). `rel` is relative to the data directory,
 * '/'-separated, without a leading '/'.
 */
export function leftOutOfBaseBackup(rel: string): boolean {
  const parts = rel.split('/');
  const name = parts[parts.length - 1]!;
  if (parts.length === 1) return LEFT_OUT_FILES.has(name);
  if (EMPTIED_DIRS.includes(parts[0]!)) return true;
  if (name === 'pg_internal.init' || name.startsWith('pgsql_tmp')) return true;
  if (parts.some((p) => p.startsWith('pgsql_tmp'))) return true;
  return relationDirectory(parts) && TEMP_RELATION.test(name);
}

/** Whether the parent parts name a directory of relation files: base/DB, global, or pg_tblspc/OID/VERSIONDIR/DB. */
function relationDirectory(parts: readonly string[]): boolean {
  const dir = parts.slice(0, -1);
  if (dir.length === 1) return dir[0] === 'global';
  if (dir.length === 2) return dir[0] === 'base' && OID.test(dir[1]!);
  if (dir.length === 4) return dir[0] === 'pg_tblspc' && OID.test(dir[1]!) && /^PG_[0-9]+_[0-9]+$/.test(dir[2]!) && OID.test(dir[3]!);
  return false;
}

/** Whether `rel` is a relation file (a table's or index's main, fsm, vm or init fork, or a 1 GiB segment of one). */
export function isRelationFile(rel: string): boolean {
  const parts = rel.split('/');
  return relationDirectory(parts) && RELATION_NAME.test(parts[parts.length - 1]!);
}

/**
 * The block size a source's relation files are cut into, from their size
 * when its replica is created (§4.2): 8 KiB below 16 GiB, 16 KiB below
 * 64 GiB, 32 KiB below 256 GiB, 64 KiB above — so a source stays under
 * about 2, 4 and 8 million chunks.
 */
export function blockSizeFor(relationBytes: number): number {
  const GiB = 1024 ** 3;
  if (relationBytes < 16 * GiB) return 8 * 1024;
  if (relationBytes < 64 * GiB) return 16 * 1024;
  if (relationBytes < 256 * GiB) return 32 * 1024;
  return 64 * 1024;
}
