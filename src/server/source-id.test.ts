import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CustosError } from '../base/index.js';
import type { AppPointMeta } from '../format/index.js';
import { appJobRefusal, parseSourceId, sourceIdOf } from './source-id.js';

test('data source ids: fs paths are normalized, postgres ports are canonical; anything else is usage', () => {
  assert.deepEqual(parseSourceId('lap:fs:/home/ann/'), { agent: 'lap', kind: 'fs', path: '/home/ann' });
  assert.deepEqual(parseSourceId('lap:fs:/a/./b/../c'), { agent: 'lap', kind: 'fs', path: '/a/c' });
  assert.deepEqual(parseSourceId('db1:postgres:5432'), { agent: 'db1', kind: 'postgres', path: '5432' });
  assert.equal(sourceIdOf(parseSourceId('db1:postgres:65535')), 'db1:postgres:65535');
  const refused: Array<[string, RegExp]> = [
    ['lap', /is not AGENT:fs:\/path or AGENT:postgres:PORT/],
    ['lap:mysql:3306', /kind mysql is not supported \(use fs or postgres\)/],
    ['lap:fs:home', /must be absolute/],
    ['lap:fs:/a\0b', /NUL byte/],
    ['db1:postgres:0', /is not a port/],
    ['db1:postgres:05432', /is not a port/],
    ['db1:postgres:65536', /is not a port/],
    ['db1:postgres:5432/', /is not a port/],
    ['db1:postgres:/var/run/postgresql', /is not a port/],
    ['db1:postgres:5432\n', /is not AGENT:fs:\/path or AGENT:postgres:PORT/],
    ['lap:fs:/a\nb', /is not AGENT:fs:\/path or AGENT:postgres:PORT/],
  ];
  for (const [id, why] of refused) {
    assert.throws(() => parseSourceId(id), (e: unknown) => e instanceof CustosError && e.code === 'usage' && why.test(e.message), id);
  }
});

test('which jobs an application data source takes: express fulls and checks always; log synchronizations once its log is synchronized', () => {
  const id = 'db1:postgres:5432';
  const meta = (logMode: 'logs' | 'full-only') => ({ logMode }) as unknown as AppPointMeta;
  assert.equal(appJobRefusal('recovery-point', id, null), null);
  assert.equal(appJobRefusal('consistency-check', id, null), null);
  assert.equal(appJobRefusal('consistency-check', id, meta('full-only')), null);
  assert.equal(appJobRefusal('sync', id, meta('logs')), null);
  assert.match(appJobRefusal('sync', id, meta('full-only')) ?? '', /protected by express fulls only/);
  assert.match(appJobRefusal('sync', id, null) ?? '', /has no express full yet/);
  assert.match(appJobRefusal('gc', id, null) ?? '', /a gc job does not apply/);
});
