import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAnswerBody } from '../../protocol/validate.js';
import { discover, parseMountInfo } from './discover.js';

test('mountinfo: real file systems once each, escapes undone, pseudo file systems left out', () => {
  const text = [
    '21 26 0:20 / /proc rw,relatime - proc proc rw',
    '26 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard',
    '30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
    '31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
    '50 26 8:1 / /srv/my\\040data rw,relatime shared:1 master:2 - xfs /dev/sdb1 rw',
    '51 26 8:2 / /srv/my\\040data rw,relatime - btrfs /dev/sdc rw',
    'garbage',
    '',
  ].join('\n');
  assert.deepEqual(parseMountInfo(text), [
    { mountPoint: '/', type: 'ext4', device: '/dev/vda' },
    { mountPoint: '/srv/my data', type: 'btrfs', device: '/dev/sdc' },
  ]);
});

test("this computer's answer passes the server's validator and lists its root file system", async () => {
  const answer = await discover({ listed: [] });
  assert.deepEqual(parseAnswerBody(JSON.parse(JSON.stringify(answer))), answer);
  assert.ok(answer.fileSystems.some((f) => f.mountPoint === '/' && f.sizeBytes > 0 && f.usedBytes > 0), JSON.stringify(answer.fileSystems));
});
