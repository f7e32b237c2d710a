import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSystemTarget, normalizeAbsolute } from './system-targets.js';

describe('isSystemTarget', () => {
  it('/ and the system trees with everything inside them', () => {
    for (const p of ['/', '/etc', '/etc/ssh', '/usr/local/bin', '/root/.ssh', '/boot', '/var', '/var/lib/mysql', '/lib64', '/dev/sda', '/proc/1', '/sys/kernel', '/run/sshd', '/sbin', '/bin']) {
      assert.equal(isSystemTarget(p), true, p);
    }
  });

  it('directories that are system targets only as themselves', () => {
    for (const p of ['/home', '/mnt', '/media', '/opt', '/srv']) assert.equal(isSystemTarget(p), true, p);
    for (const p of ['/home/alice/restore', '/mnt/backup/x', '/srv/www', '/opt/app/data']) assert.equal(isSystemTarget(p), false, p);
  });

  it('ordinary places and scratch space are not system targets', () => {
    for (const p of ['/tmp/restore', '/data/recovered', '/dev/shm/x', '/var/tmp/r', '/home/bob', '/etcetera', '/usr2', '/variable']) {
      assert.equal(isSystemTarget(p), false, p);
    }
  });

  it('is not fooled by spelling: dots, repeated and trailing slashes', () => {
    for (const p of ['//', '/./', '/etc/', '//etc//ssh/', '/tmp/../etc', '/home/alice/../../usr/bin', '/home/../', '/home/./', '/dev/shm/../sda', '/..']) {
      assert.equal(isSystemTarget(p), true, p);
    }
    assert.equal(isSystemTarget('/tmp/./restore/'), false);
  });

  it('a relative path is refused (counted as a system target)', () => {
    assert.equal(isSystemTarget('etc'), true);
    assert.equal(isSystemTarget(''), true);
    assert.equal(normalizeAbsolute('a/b'), null);
  });
});
