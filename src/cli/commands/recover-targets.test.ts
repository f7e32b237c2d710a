import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRecoveryTarget } from './recover-targets.js';

test('--to: downloads by file name, server folders, agents', () => {
  assert.deepEqual(parseRecoveryTarget('download:out/home.tar'), { kind: 'download', file: 'out/home.tar', format: 'tar' });
  assert.deepEqual(parseRecoveryTarget('download:home.tar.zst'), { kind: 'download', file: 'home.tar.zst', format: 'tar.zst' });
  assert.deepEqual(parseRecoveryTarget('download:/tmp/a.zip'), { kind: 'download', file: '/tmp/a.zip', format: 'zip' });
  assert.deepEqual(parseRecoveryTarget('server:/srv/recoveries/x'), { kind: 'server', path: '/srv/recoveries/x' });
  assert.deepEqual(parseRecoveryTarget('laptop:/tmp/x'), { kind: 'agent', to: 'laptop:/tmp/x' });
  for (const bad of ['download:home.tgz', 'download:.zip', 'download:', 'download:home.zst']) {
    assert.throws(() => parseRecoveryTarget(bad), (e: Error & { code?: string }) => e.code === 'usage' && /must end in \.tar, \.tar\.zst or \.zip/.test(e.message), bad);
  }
  assert.throws(() => parseRecoveryTarget('server:relative'), /absolute path/);
});
