import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endianness } from 'node:os';
import { FAN_ATTRIB, FAN_MODIFY, FAN_Q_OVERFLOW, parseRecords } from './fanotify.js';

/** One 40-byte record as the binding writes it (host byte order). */
function record(dev: bigint, ino: bigint, nlink: number, mode: number, mask: number, flags: number): Buffer {
  const b = Buffer.alloc(40);
  const e = endianness();
  b[`writeBigUInt64${e}`](dev, 0);
  b[`writeBigUInt64${e}`](ino, 8);
  [nlink, mode, mask, flags].forEach((v, i) => b[`writeUInt32${e}`](v, 16 + 4 * i));
  return b;
}

test('parseRecords reads objects, overflows and unresolved handles, and refuses a partial record', () => {
  const buf = Buffer.concat([
    record(65024n, 2n ** 40n + 3n, 2, 0o100644, FAN_MODIFY | FAN_ATTRIB, 0),
    record(0n, 0n, 0, 0, FAN_Q_OVERFLOW, 1),
    record(0n, 0n, 13, 0, FAN_ATTRIB, 2),
  ]);
  assert.deepEqual(parseRecords(buf), [
    { kind: 'object', dev: 65024n, ino: 2n ** 40n + 3n, nlink: 2, mode: 0o100644, mask: FAN_MODIFY | FAN_ATTRIB },
    { kind: 'overflow' },
    { kind: 'unresolved', errno: 13, mask: FAN_ATTRIB },
  ]);
  assert.throws(() => parseRecords(buf.subarray(0, 50)), /not a whole number/);
});
