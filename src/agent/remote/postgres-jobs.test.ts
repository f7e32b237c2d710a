import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, linkSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustosError } from '../../base/index.js';
import { checkRecoveredTree, makeRecoveryFolder } from './postgres-jobs.js';

const asRoot = { skip: process.getuid?.() === 0 ? false : 'needs root' };
const nobody = { uid: 65534, gid: 65534 };

const refused = (fn: () => unknown, code: string, message: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof CustosError && e.code === code && message.test(e.message), `${code} ${message}`);

test('a recovery folder is made root\'s and 0700; an existing one only when empty, root\'s and writable by nobody else', asRoot, () => {
  const work = mkdtempSync(join(tmpdir(), 'custos-pgfolder-'));
  try {
    const fresh = join(work, 'a', 'b');
    assert.equal(makeRecoveryFolder(fresh), true);
    const st = statSync(fresh);
    assert.deepEqual([st.uid, st.mode & 0o777], [0, 0o700]);
    assert.equal(makeRecoveryFolder(fresh), false, 'empty, root\'s, 0700: taken');
    const open = join(work, 'open');
    mkdirSync(open, { mode: 0o777 });
    chmodSync(open, 0o777);
    refused(() => makeRecoveryFolder(open), 'denied', /others may write to it/);
    const theirs = join(work, 'theirs');
    mkdirSync(theirs, { mode: 0o700 });
    chownSync(theirs, nobody.uid, nobody.gid);
    refused(() => makeRecoveryFolder(theirs), 'denied', /belongs to uid 65534/);
    writeFileSync(join(fresh, 'x'), '');
    refused(() => makeRecoveryFolder(fresh), 'exists', /is not empty/);
    refused(() => makeRecoveryFolder(join(fresh, 'x')), 'exists', /is not a directory/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test('the tree a restore wrote is checked as root: the point\'s parts only, no links or special files, one owner (the configuration may be root\'s)', asRoot, () => {
  const work = mkdtempSync(join(tmpdir(), 'custos-pgtree-'));
  try {
    const make = (name: string): string => {
      const root = join(work, name);
      for (const d of ['', 'data', 'data/base', 'label', 'wal', 'conf']) mkdirSync(join(root, d));
      writeFileSync(join(root, 'data', 'base', '1'), 'x');
      writeFileSync(join(root, 'label', 'backup_label'), 'x');
      writeFileSync(join(root, 'conf', 'postgresql.conf'), 'x');
      for (const p of ['', 'data', 'data/base', 'data/base/1', 'label', 'label/backup_label', 'wal']) chownSync(join(root, p), nobody.uid, nobody.gid);
      return root;
    };
    assert.deepEqual(checkRecoveredTree(make('good')), nobody);
    const link = make('link');
    symlinkSync('/etc/passwd', join(link, 'data', 'recovery.signal'));
    refused(() => checkRecoveredTree(link), 'format', /recovery.signal is neither a file nor a directory/);
    const hard = make('hard');
    linkSync(join(hard, 'data', 'base', '1'), join(hard, 'wal', '000000010000000000000001'));
    refused(() => checkRecoveredTree(hard), 'format', /has 2 links/);
    const extra = make('extra');
    writeFileSync(join(extra, 'RECOVERY.txt'), 'planted');
    refused(() => checkRecoveredTree(extra), 'format', /RECOVERY.txt is not part of a postgres point/);
    const other = make('other');
    chownSync(join(other, 'data', 'base', '1'), 1, 1);
    refused(() => checkRecoveredTree(other), 'format', /belongs to uid 1, gid 1, not to the data directory's owner/);
    const rootData = make('rootdata');
    chownSync(join(rootData, 'data'), 0, 0);
    refused(() => checkRecoveredTree(rootData), 'usage', /belongs to root/);
    const rootLabel = make('rootlabel');
    chownSync(join(rootLabel, 'label', 'backup_label'), 0, 0);
    refused(() => checkRecoveredTree(rootLabel), 'format', /backup_label belongs to uid 0/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
