import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CustosError } from '../../base/index.js';
import { PG_CONTROL_BYTES, parsePgVersion, parsePostmasterLock, systemIdentifierOf } from './lock-file.js';

// As PostgreSQL 15.18 wrote them for a cluster started with -p 55432 -k DIR -c listen_addresses=''.
const SOCKET_LOCK = '2525\n/tmp/pgt.LlCO/data\n1796665961\n55432\n/tmp/pgt.LlCO/sock\n';
const POSTMASTER_PID = `${SOCKET_LOCK}\n  2147171         4\nready   \n`;

test('a socket lock file and postmaster.pid as PostgreSQL 15 writes them', () => {
  const expected = { pid: 2525, dataDirectory: '/tmp/pgt.LlCO/data', startedAt: 1796665961, port: 55432, socketDir: '/tmp/pgt.LlCO/sock' };
  assert.deepEqual(parsePostmasterLock(Buffer.from(SOCKET_LOCK), 'socket'), expected);
  assert.deepEqual(parsePostmasterLock(Buffer.from(POSTMASTER_PID), 'data'), { ...expected, status: 'ready' });
  // While starting, postmaster.pid has the first lines only; a standby says so.
  assert.deepEqual(parsePostmasterLock(Buffer.from(SOCKET_LOCK), 'data'), expected);
  assert.equal(parsePostmasterLock(Buffer.from(POSTMASTER_PID.replace('ready   ', 'standby ')), 'data').status, 'standby');
  // No Unix socket: line 5 is empty.
  assert.equal(parsePostmasterLock(Buffer.from('7\n/d\n1\n5432\n\n'), 'data').socketDir, '');
});

test('anything else is refused with the line that is wrong', () => {
  const refused = (text: string | Buffer, kind: 'socket' | 'data', why: RegExp) =>
    assert.throws(() => parsePostmasterLock(Buffer.isBuffer(text) ? text : Buffer.from(text), kind), (e: unknown) => e instanceof CustosError && e.code === 'format' && why.test(e.message), JSON.stringify(text.toString().slice(0, 80)));
  refused('', 'socket', /last line/);
  refused(SOCKET_LOCK.slice(0, -1), 'socket', /last line/);
  refused(POSTMASTER_PID, 'socket', /8 lines/);
  refused('1\n/d\n1\n5432\n', 'data', /4 lines/);
  refused(`${POSTMASTER_PID}x\n`, 'data', /9 lines/);
  refused(SOCKET_LOCK.replace('2525', '0'), 'socket', /line 1/);
  refused(SOCKET_LOCK.replace('2525', '-1'), 'socket', /line 1/);
  refused(SOCKET_LOCK.replace('2525', '99999999'), 'socket', /line 1/);
  refused(SOCKET_LOCK.replace('2525', ' 2525'), 'socket', /line 1/);
  refused(SOCKET_LOCK.replace('/tmp/pgt.LlCO/data', 'data'), 'socket', /line 2/);
  refused(SOCKET_LOCK.replace('/tmp/pgt.LlCO/data', '/tmp/../etc'), 'socket', /line 2/);
  refused(SOCKET_LOCK.replace('/tmp/pgt.LlCO/data', '/tmp/\x1b[2Jx'), 'socket', /line 2/);
  refused(SOCKET_LOCK.replace('1796665961', 'x'), 'socket', /line 3/);
  refused(SOCKET_LOCK.replace('55432', '65536'), 'socket', /line 4/);
  refused(SOCKET_LOCK.replace('55432', '0'), 'socket', /line 4/);
  refused(SOCKET_LOCK.replace('/tmp/pgt.LlCO/sock', 'sock'), 'socket', /line 5/);
  refused(POSTMASTER_PID.replace('ready   ', 'running'), 'data', /line 8/);
  refused(Buffer.concat([Buffer.from('1\n/d\xff'), Buffer.from([0xff]), Buffer.from('\n1\n1\n/s\n')]), 'socket', /UTF-8/);
  refused('1\n/d\n1\n1\n/' + 'a'.repeat(5000) + '\n', 'socket', /bytes/);
  // Random bytes never get through as anything but a format error.
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom<'socket' | 'data'>('socket', 'data'), (b, kind) => {
    try {
      const lock = parsePostmasterLock(Buffer.from(b), kind);
      return lock.pid > 0 && lock.port > 0 && lock.dataDirectory.startsWith('/');
    } catch (e) {
      return e instanceof CustosError && e.code === 'format';
    }
  }));
});

test('the system identifier from pg_control and the major version from PG_VERSION', () => {
  const control = Buffer.alloc(PG_CONTROL_BYTES);
  control.writeBigUInt64LE(7716621543573645701n, 0);
  control.writeUInt32LE(1300, 8);
  assert.equal(systemIdentifierOf(control), '7716621543573645701');
  assert.throws(() => systemIdentifierOf(control.subarray(0, 100)), /100 bytes/);
  assert.throws(() => systemIdentifierOf(Buffer.alloc(PG_CONTROL_BYTES)), /no system identifier/);
  assert.equal(parsePgVersion(Buffer.from('15\n')), 15);
  assert.equal(parsePgVersion(Buffer.from('100\n')), 100);
  for (const bad of ['15', '9.6\n', '09\n', '15\n\n', ' 15\n', '1\n', '1000\n']) assert.throws(() => parsePgVersion(Buffer.from(bad)), CustosError, bad);
});
