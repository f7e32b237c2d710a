import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkServerTarget, resolveRecoveryDirs, serverTargetPath } from './server-recovery.js';

test('server targets: only under a recovery directory, links resolved, no .., never the data directory', () => {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'custos-srv-target-')));
  try {
    const data = join(root, 'data');
    const rec = join(root, 'recovered');
    const outside = join(root, 'outside');
    for (const d of [data, rec, outside, join(rec, 'real')]) mkdirSync(d);
    symlinkSync(outside, join(rec, 'escape'));
    symlinkSync(join(rec, 'real'), join(rec, 'inside-link'));
    writeFileSync(join(rec, 'file'), '');
    const dirs = resolveRecoveryDirs([rec], data);
    const check = (p: string) => checkServerTarget(p, dirs, data);

    assert.equal(check(rec), rec);
    assert.equal(check(join(rec, 'new', 'deeper')), join(rec, 'new', 'deeper'));
    assert.equal(check(`${rec}//new/./x/`), join(rec, 'new', 'x'));
    assert.equal(check(join(rec, 'inside-link', 'x')), join(rec, 'real', 'x'), 'a link that stays inside is followed');
    assert.throws(() => check(join(rec, 'escape')), (e: Error & { code?: string }) => e.code === 'denied' && /resolves to .*outside.*not under a recovery directory/.test(e.message));
    assert.throws(() => check(join(rec, 'escape', 'new')), /not under a recovery directory/);
    assert.throws(() => check(`${rec}/../outside`), (e: Error & { code?: string }) => e.code === 'denied' && /'\.\.' is not allowed/.test(e.message));
    assert.throws(() => check(`${rec}/real/..`), /'\.\.' is not allowed/);
    assert.throws(() => check(outside), /not under a recovery directory/);
    assert.throws(() => check('relative/path'), (e: Error & { code?: string }) => e.code === 'usage');
    assert.throws(() => check(join(rec, 'file', 'x')), /is not a directory/);
    assert.throws(() => checkServerTarget(rec, [], data), (e: Error & { code?: string }) => e.code === 'denied' && /no recovery directories/.test(e.message));
    // A recovery directory may not hold the data directory, nor lie in it.
    assert.throws(() => resolveRecoveryDirs([root], data), /overlaps the server's data directory/);
    assert.throws(() => resolveRecoveryDirs([join(data, 'x')], data), /does not exist/);
    mkdirSync(join(data, 'x'));
    assert.throws(() => resolveRecoveryDirs([join(data, 'x')], data), /overlaps/);
    assert.throws(() => resolveRecoveryDirs([join(rec, 'file')], data), /is not a directory/);
    assert.deepEqual(resolveRecoveryDirs([join(rec, 'inside-link')], data), [join(rec, 'real')]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('serverTargetPath: only the server: prefix', () => {
  assert.equal(serverTargetPath('server:/srv/x'), '/srv/x');
  assert.equal(serverTargetPath('laptop:/srv/x'), null);
  assert.equal(serverTargetPath('servers:/x'), null);
});
