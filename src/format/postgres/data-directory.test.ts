import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockSizeFor, isRelationFile, leftOutOfBaseBackup } from './data-directory.js';

test('relation files: main, fsm, vm and init forks and their 1 GiB segments, in base/DB, global and tablespaces', () => {
  for (const rel of ['base/5/16384', 'base/5/16384.1', 'base/5/16384_fsm', 'base/5/16384_vm', 'base/5/16384_init', 'base/16390/2619.12', 'global/1262', 'global/1262_fsm', 'pg_tblspc/16400/PG_15_202209061/16390/16401']) {
    assert.equal(isRelationFile(rel), true, rel);
  }
  for (const rel of ['base/5/PG_VERSION', 'base/5/pg_filenode.map', 'base/5/pg_internal.init', 'global/pg_control', 'global/pg_filenode.map', 'pg_xact/0000',
    'pg_multixact/offsets/0000', 'base/16384', 'base/5/016384', 'base/5/16384.0', 'base/5/16384_main', 'base/x/16384', 'base/5/6/16384', '16384', 'pg_tblspc/16400/PG_15_202209061/16401',
    'pg_tblspc/16400/other/16390/16401', 'base/5/t3_16384']) {
    assert.equal(isRelationFile(rel), false, rel);
  }
});

test('left out of a base backup: what PostgreSQL says a file-level copy may omit, and nothing else', () => {
  for (const rel of ['postmaster.pid', 'postmaster.opts', 'backup_label.old', 'pg_wal/000000010000000000000001', 'pg_wal/archive_status', 'pg_wal/archive_status/x.done',
    'pg_replslot/custos_0123456789ab', 'pg_replslot/custos_0123456789ab/state', 'pg_dynshmem/mmap.1', 'pg_notify/0000', 'pg_serial/0000', 'pg_snapshots/0000-1',
    'pg_stat_tmp/global.stat', 'pg_subtrans/0000', 'custos-wal/x', 'base/5/pg_internal.init', 'global/pg_internal.init', 'base/pgsql_tmp', 'base/pgsql_tmp/pgsql_tmp123.0',
    'base/5/t3_16384', 'base/5/t3_16384_fsm', 'base/5/t12_16384.2']) {
    assert.equal(leftOutOfBaseBackup(rel), true, rel);
  }
  for (const rel of ['pg_wal', 'pg_replslot', 'pg_stat_tmp', 'pg_subtrans', 'PG_VERSION', 'postgresql.conf', 'postgresql.auto.conf', 'pg_hba.conf', 'global/pg_control',
    'base/5/16384', 'pg_xact/0000', 'pg_stat/pgstat.stat', 'pg_logical/replorigin_checkpoint', 'backup_label', 'base/5/t3', 'base/5/16384_init', 'log/postgresql.log', 'pg_tblspc/16400']) {
    assert.equal(leftOutOfBaseBackup(rel), false, rel);
  }
});

test('block size by the size of the relation data: 8, 16, 32, 64 KiB at 16, 64, 256 GiB', () => {
  const GiB = 1024 ** 3;
  assert.deepEqual([0, 16 * GiB - 1, 16 * GiB, 64 * GiB - 1, 64 * GiB, 256 * GiB - 1, 256 * GiB, 10_000 * GiB].map(blockSizeFor), [8192, 8192, 16384, 16384, 32768, 32768, 65536, 65536]);
});
