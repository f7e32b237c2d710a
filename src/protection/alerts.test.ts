import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AGENT_DISCONNECTED_ALERT_MS, ALERT_KINDS, isDiskFullError, recommendedAction, type AlertKind } from './alerts.js';

describe('ALERT_KINDS', () => {
  it('lists every kind with a severity, a title and an action', () => {
    const kinds: AlertKind[] = [
      'sync-failed',
      'recovery-point-missed',
      'replica-inconsistent',
      'agent-disconnected',
      'allocation-warning',
      'allocation-critical',
      'disk-full',
      'pool-damaged',
      'log-slot-kept',
      'log-gap',
      'log-consumer',
      'log-retained',
    ];
    assert.deepEqual(Object.keys(ALERT_KINDS).sort(), [...kinds].sort());
    for (const kind of kinds) {
      const info = ALERT_KINDS[kind];
      assert.ok(['critical', 'warning', 'info'].includes(info.severity), kind);
      assert.ok(info.title.length > 0 && !info.title.endsWith('.'), kind);
      assert.ok(info.recommendedAction.length > 0 && !info.recommendedAction.includes('\n'), kind);
    }
  });

  it('says what DPM would say', () => {
    assert.equal(ALERT_KINDS['replica-inconsistent'].recommendedAction, 'Run a consistency check: custos check SOURCE');
    assert.equal(ALERT_KINDS['replica-inconsistent'].severity, 'critical');
    assert.equal(
      ALERT_KINDS['agent-disconnected'].recommendedAction,
      'Check that the computer is on and `custos agent start` runs there; it reconnects by itself',
    );
    assert.equal(ALERT_KINDS['allocation-warning'].severity, 'warning');
    assert.equal(ALERT_KINDS['allocation-critical'].severity, 'critical');
  });

  it('waits 30 minutes before calling an agent disconnected', () => {
    assert.equal(AGENT_DISCONNECTED_ALERT_MS, 1_800_000);
  });
});

describe('isDiskFullError', () => {
  it('recognises a full disk however the error reached the server', () => {
    for (const m of [
      "ENOSPC: no space left on device, write '/srv/custos/pool/tmp/1a2b.tmp'",
      'cannot write /restore/home/big.iso: ENOSPC: no space left on device',
      'No space left on device',
      "EDQUOT: disk quota exceeded, open '/data/x'",
    ]) assert.equal(isDiskFullError(m), true, m);
    for (const m of ['EACCES: permission denied', 'the agent disconnected while the job ran', 'NOSPACE', '']) assert.equal(isDiskFullError(m), false, m);
  });

  it('is a warning whose action says to free space', () => {
    assert.equal(ALERT_KINDS['disk-full'].severity, 'warning');
    assert.match(ALERT_KINDS['disk-full'].recommendedAction, /^Free space on the disk named in the message.*retries by itself/);
  });
});

describe('recommendedAction', () => {
  it('fills in the subject and the job, and leaves no placeholder', () => {
    assert.equal(
      recommendedAction('sync-failed', 'lap:fs:/home', 42),
      "See the failed job's log (custos job show 42) and fix the cause; synchronization retries at the next interval, or run it now: custos sync lap:fs:/home",
    );
    for (const kind of Object.keys(ALERT_KINDS) as AlertKind[]) {
      for (const job of [7, null]) assert.doesNotMatch(recommendedAction(kind, 'lap:fs:/home', job), /\b(SOURCE|AGENT|JOB)\b/, `${kind} ${job}`);
    }
  });
  it('without a job, points to the subject\'s jobs', () => {
    assert.match(recommendedAction('recovery-point-missed', 'lap:fs:/home'), /^See the job's log \(custos job list --source lap:fs:\/home\)/);
  });
  it('does not fill in a subject again', () => {
    assert.equal(recommendedAction('replica-inconsistent', 'lap:fs:/SOURCE/JOB', 3), 'Run a consistency check: custos check lap:fs:/SOURCE/JOB');
  });
});
