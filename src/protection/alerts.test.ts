import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AGENT_DISCONNECTED_ALERT_MS, ALERT_KINDS, type AlertKind } from './alerts.js';

describe('ALERT_KINDS', () => {
  it('lists every kind with a severity, a title and an action', () => {
    const kinds: AlertKind[] = [
      'sync-failed',
      'recovery-point-missed',
      'replica-inconsistent',
      'agent-disconnected',
      'allocation-warning',
      'allocation-critical',
      'pool-damaged',
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
