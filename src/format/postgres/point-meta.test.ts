import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CustosError } from '../../base/index.js';
import { parsePointMeta, type PostgresPointMeta } from './point-meta.js';

/** What an express full of a PostgreSQL 15 cluster committed (16 MiB segments, the stop two segments on). */
const REAL: PostgresPointMeta = {
  kind: 'postgres', point: 'full', logMode: 'full-only', version: 150018, systemIdentifier: '7716592498700678075', walSegmentSize: 16 << 20, blockSize: 8192, timeline: 1,
  startLsn: '1/E5000028', stopLsn: '1/E7000100', startTime: '2026-12-07T18:00:00.123Z', stopTime: '2026-12-07T18:00:05.456Z', dataChecksums: false,
  walSegments: ['0000000100000001000000E5', '0000000100000001000000E7'],
};

const refusal = (v: unknown): string => {
  try {
    parsePointMeta(v, 'app');
  } catch (err) {
    assert.ok(err instanceof CustosError && err.code === 'format', String(err));
    return err.message;
  }
  return '';
};

test('an express full\'s metadata is taken as it is', () => {
  assert.deepEqual(parsePointMeta(structuredClone(REAL)), REAL);
  // The stop exactly at a segment's start: the last segment is the one before it.
  assert.deepEqual(parsePointMeta({ ...REAL, stopLsn: '1/E7000000', walSegments: ['0000000100000001000000E5', '0000000100000001000000E6'] }).stopLsn, '1/E7000000');
  // 1 GiB segments, timeline 3.
  assert.equal(parsePointMeta({ ...REAL, walSegmentSize: 1 << 30, timeline: 3, startLsn: '2/10', stopLsn: '2/40000010', walSegments: ['000000030000000200000000', '000000030000000200000001'] }).timeline, 3);
});

test('every field is checked: types, ranges, unknown fields, and WAL names that agree with the LSNs', () => {
  const cases: Array<[unknown, RegExp]> = [
    [null, /app must be an object/],
    [[], /app must be an object/],
    [{ ...REAL, extra: 1 }, /unknown field "extra"/],
    [(({ stopLsn: _, ...rest }) => rest)(REAL), /lacks the field stopLsn/],
    [{ ...REAL, kind: 'mariadb' }, /app.kind must be postgres/],
    [{ ...REAL, point: 'incremental' }, /app.point must be full or log/],
    [{ ...REAL, point: 'log' }, /lacks the field base/],
    [{ ...REAL, logMode: 'sometimes' }, /app.logMode must be logs or full-only/],
    [{ ...REAL, version: 120000 }, /app.version must be a whole number from 130000/],
    [{ ...REAL, version: '150018' }, /app.version must be a whole number/],
    [{ ...REAL, systemIdentifier: '0' }, /systemIdentifier must be a 64-bit number/],
    [{ ...REAL, systemIdentifier: '18446744073709551616' }, /systemIdentifier must be a 64-bit number/],
    [{ ...REAL, systemIdentifier: 7716592498700678075 }, /systemIdentifier must be a 64-bit number/],
    [{ ...REAL, walSegmentSize: 3 << 20 }, /walSegmentSize must be a power of two/],
    [{ ...REAL, blockSize: 2048 }, /blockSize must be a power of two/],
    [{ ...REAL, timeline: 0 }, /timeline must be a whole number from 1/],
    [{ ...REAL, startLsn: '1/E5000028; DROP' }, /startLsn must be an LSN/],
    [{ ...REAL, stopLsn: '1/E5000028' }, /stopLsn must be after startLsn/],
    [{ ...REAL, startTime: '2026-12-07 18:00:00' }, /startTime must be a UTC time/],
    [{ ...REAL, stopTime: '2026-12-07T17:00:00Z' }, /stopTime must not be before startTime/],
    [{ ...REAL, dataChecksums: 'no' }, /dataChecksums must be true or false/],
    [{ ...REAL, walSegments: ['0000000100000001000000E5'] }, /walSegments must be two WAL segment file names/],
    [{ ...REAL, walSegments: ['0000000100000001000000E4', '0000000100000001000000E7'] }, /walSegments\[0\] must be 0000000100000001000000E5/],
    [{ ...REAL, walSegments: ['0000000100000001000000E5', '0000000200000001000000E7'] }, /walSegments\[1\] must be 0000000100000001000000E7/],
    [{ ...REAL, walSegments: ['0000000100000001000000E5', '../../../etc/passwd00000'] }, /walSegments\[1\] must be/],
  ];
  for (const [v, why] of cases) assert.match(refusal(v), why, JSON.stringify(v));
});

test('no value of any field is taken unless it is the exact shape (property)', () => {
  const keys = Object.keys(REAL) as Array<keyof PostgresPointMeta>;
  fc.assert(fc.property(fc.constantFrom(...keys), fc.anything(), (key, value) => {
    const v = { ...REAL, [key]: value };
    let parsed: PostgresPointMeta | null = null;
    try {
      parsed = parsePointMeta(v);
    } catch (err) {
      return err instanceof CustosError && err.code === 'format';
    }
    // Taken: then it is the same as what was given, field for field.
    return JSON.stringify(parsed) === JSON.stringify(v);
  }), { numRuns: 2000 });
});

test('a point object from the pool whose app metadata is malformed is damaged (integrity), not taken', async () => {
  const { BlobCodec } = await import('../codec.js');
  const { decodePoint, encodePoint, POINT_VERSION } = await import('../point.js');
  const { IntegrityError } = await import('../../base/index.js');
  const codec = new BlobCodec({ keys: null, compressionLevel: 3 });
  const summary = { filesNew: 1, filesChanged: 0, filesUnchanged: 0, dirs: 0, others: 0, errors: 0, changedDuringRead: 0, bytesRead: 1, bytesAdded: 1, logicalBytes: 1, durationMs: 1 };
  const point = { version: POINT_VERSION, id: 'a'.repeat(32), time: '2026-12-07T18:00:06Z', source: { host: 'db1', path: '5432' }, parent: null, manifest: [], summary, partial: false, excludes: [], app: REAL } as never;
  assert.deepEqual(decodePoint(codec, encodePoint(codec, point), 'point a').app, REAL);
  const bad = { ...(point as object), app: { ...REAL, stopLsn: 'later' } } as never;
  assert.throws(() => decodePoint(codec, encodePoint(codec, bad), 'point a'), (e: unknown) => e instanceof IntegrityError && /point a: app.stopLsn must be an LSN/.test(e.message));
});

test("a log point's metadata: its base, the WAL's end and the marker, agreeing with the base's LSNs", () => {
  const log = { ...REAL, point: 'log', logMode: 'logs', base: 'b'.repeat(32), walEnd: '1/EA000230', marker: { name: 'custos-job-17', lsn: '1/EA000200', xid: '809684', time: '2026-12-07T18:15:00.5Z' }, walSegments: ['0000000100000001000000E5', '0000000100000001000000EA'] };
  assert.deepEqual(parsePointMeta(structuredClone(log)), log);
  // A tail point (the WAL left on a stopped cluster, for the latest): no marker.
  assert.deepEqual(parsePointMeta({ ...structuredClone(log), marker: null }), { ...log, marker: null });
  const cases: Array<[unknown, RegExp]> = [
    [{ ...log, logMode: 'full-only' }, /logMode must be logs in a log point/],
    [{ ...log, base: 'B'.repeat(32) }, /base must be a recovery point id/],
    [{ ...log, walEnd: '1/E6000000' }, /walEnd must not be before stopLsn/],
    [{ ...log, walSegments: ['0000000100000001000000E5', '0000000100000001000000E7'] }, /walSegments\[1\] must be 0000000100000001000000EA, the segment before walEnd/],
    [{ ...log, marker: { ...log.marker, name: "x'; DROP" } }, /marker.name must be custos-/],
    [{ ...log, marker: { ...log.marker, lsn: '1/EB000000' } }, /marker.lsn must be between stopLsn and walEnd/],
    [{ ...log, marker: { ...log.marker, xid: '-1' } }, /marker.xid must be a transaction id/],
    [{ ...log, marker: { ...log.marker, extra: 1 } }, /marker has an unknown field/],
    [{ ...log, marker: 'custos-job-1' }, /marker must be an object or null/],
    [(({ marker: _, ...rest }) => rest)(log), /lacks the field marker/],
    [{ ...REAL, base: 'b'.repeat(32) }, /unknown field "base"/],
  ];
  for (const [v, why] of cases) assert.match(refusal(v), why, JSON.stringify(v));
});
