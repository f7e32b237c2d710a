import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issuedFile, parseIssuanceRecord, readIssuanceRecord, recordIssued, recordRevoked } from './issued-certificates.js';

const FP = (c: string) => `sha256:${c.repeat(64)}`;

describe('issued certificates record', () => {
  it('records issuance and revocation; the newest certificate per name wins; revocations stay', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'custos-issued-'));
    try {
      assert.equal((await readIssuanceRecord(dir)).agents.size, 0, 'a missing file is an empty record');
      await recordIssued(dir, { time: '2026-03-01T10:00:00.000Z', name: 'alpha', serial: '0a1b', fingerprint: FP('a'), hostname: 'alpha.lan', enrollment: 'e'.repeat(64) });
      await recordIssued(dir, { time: '2026-03-01T11:00:00.000Z', name: 'bravo', serial: '0c2d', fingerprint: FP('b'), hostname: 'bravo.lan' });
      await recordRevoked(dir, { time: '2026-03-02T09:00:00.000Z', name: 'bravo', serial: '0c2d' });
      // alpha re-attached under the same name: a new certificate; revoking the old serial later does not touch it
      await recordIssued(dir, { time: '2026-03-03T08:00:00.000Z', name: 'alpha', serial: '0e3f', fingerprint: FP('c'), hostname: 'alpha.lan' });
      await recordRevoked(dir, { time: '2026-03-03T09:00:00.000Z', name: 'alpha', serial: '0a1b' });

      const r = await readIssuanceRecord(dir);
      assert.deepEqual(r.problems, []);
      assert.deepEqual([...r.agents.keys()].sort(), ['alpha', 'bravo']);
      assert.equal(r.agents.get('alpha')!.serial, '0e3f');
      assert.equal(r.agents.get('alpha')!.revokedAt, null);
      assert.equal(r.agents.get('bravo')!.revokedAt, '2026-03-02T09:00:00.000Z');
      assert.deepEqual([...r.usedEnrollments], ['e'.repeat(64)]);
      assert.equal((await stat(issuedFile(dir))).mode & 0o777, 0o600);
      assert.equal((await readFile(issuedFile(dir), 'utf8')).trim().split('\n').length, 5, 'append-only: one line per event');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('skips and reports lines that do not parse, a torn last line included', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'custos-issued-'));
    try {
      await recordIssued(dir, { time: '2026-03-01T10:00:00.000Z', name: 'alpha', serial: '01', fingerprint: FP('a'), hostname: 'h' });
      await appendFile(issuedFile(dir), '{"event":"issued","time":"2026-03-01T10:00:00Z","name":"../../etc","serial":"02","fingerprint":"sha256:aa","hostname":"h"}\n');
      await appendFile(issuedFile(dir), '{"event":"issued","time":"2026');
      const r = await readIssuanceRecord(dir);
      assert.deepEqual([...r.agents.keys()], ['alpha']);
      assert.equal(r.problems.length, 2);
      assert.match(r.problems[0]!, /line 2: .*malformed/);
      assert.match(r.problems[1]!, /line 3: not JSON.*torn/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses hostile field types and sizes', () => {
    const bad = [
      '[]',
      '{"event":"issued","time":1,"name":"a","serial":"01","fingerprint":"sha256:aa","hostname":"h"}',
      '{"event":"issued","time":"2026-03-01T10:00:00Z","name":"a","serial":"zz","fingerprint":"sha256:aa","hostname":"h"}',
      '{"event":"issued","time":"2026-03-01T10:00:00Z","name":"a","serial":"01","fingerprint":"sha256:aa","hostname":{"x":1}}',
      '{"event":"issued","time":"2026-03-01T10:00:00Z","name":"a","serial":"01","fingerprint":"sha256:aa","hostname":"h","enrollment":"short"}',
      '{"event":"forged","time":"2026-03-01T10:00:00Z","name":"a","serial":"01"}',
      `{"event":"issued","time":"2026-03-01T10:00:00Z","name":"a","serial":"01","fingerprint":"sha256:aa","hostname":"${'h'.repeat(5000)}"}`,
    ];
    const r = parseIssuanceRecord(bad.join('\n') + '\n');
    assert.equal(r.agents.size, 0);
    assert.equal(r.problems.length, bad.length);
  });
});
