/**
 * POST /api/recoveries: conflict, security and throttle (issue 11 §2). The
 * job carries the documented defaults (overwrite, point, no limit) when the
 * body leaves them out, the throttle parsed into rules for the agent; a
 * malformed rate or window is refused (400) and queues nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startApiServer } from '../../../../test/helpers/api-server.js';

const SOURCE = 'lap:fs:/home';
const MiB = 1024 * 1024;

test('recovery options: defaults overwrite/point/no limit, the throttle parsed for the agent, malformed ones refused', async (t) => {
  const { server, clock, token } = await startApiServer(t, 'custos-recover-options-', '2026-12-02T09:00:00Z');
  const { catalog } = server.context;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const recover = async (body: unknown) => {
    const r = await server.inject({ method: 'POST', url: '/api/recoveries', headers, body: JSON.stringify(body) });
    return { status: r.status, text: r.text };
  };
  const paramsOf = async (body: unknown): Promise<Record<string, unknown>> => {
    const { status, text } = await recover(body);
    assert.equal(status, 202, text);
    const job = (await catalog.listJobs({ kind: 'recovery', limit: 100 })).find((j) => j.id === (JSON.parse(text) as { id: number }).id)!;
    return JSON.parse(job.params) as Record<string, unknown>;
  };

  await catalog.setSetting('last_prune_at', new Date(2100, 0, 1).toISOString());
  await catalog.insertAgent({ name: 'lap', cert_serial: '01', cert_fingerprint: 'ff', hostname: 'lap', attached_at: clock.now().toISOString(), last_seen: null, version: null, revoked_at: null });
  const g = await server.inject({ method: 'POST', url: '/api/protection-groups', headers, body: JSON.stringify({ name: 'g', sources: [SOURCE], replica: 'manual' }) });
  assert.ok(g.status < 300, g.text);
  await catalog.insertPoint({ id: '0a08', source_id: SOURCE, time: '2026-12-01T08:00:00.000Z', recovery_point: 1, partial: 0, files: 1, logical_bytes: 1, bytes_added: 1, job_id: null });
  const base = { source: SOURCE, point: '0a08', to: 'lap:/tmp/restored' };

  const plain = await paramsOf(base);
  assert.deepEqual([plain['conflict'], plain['security'], plain['throttle']], ['overwrite', 'point', []], 'the documented defaults');

  const chosen = await paramsOf({ ...base, conflict: 'keep-both', security: 'target', throttle: ['20MiB/s', '5MiB/s@fri-mon,22:00-06:00'] });
  assert.deepEqual([chosen['conflict'], chosen['security']], ['keep-both', 'target']);
  assert.deepEqual(chosen['throttle'], [
    { bytesPerSecond: 20 * MiB },
    { bytesPerSecond: 5 * MiB, window: { days: ['mon', 'fri', 'sat', 'sun'], from: '22:00', to: '06:00' } },
  ]);
  const audit = await server.inject({ method: 'GET', url: '/api/audit?action=recovery&limit=1', headers });
  assert.match((JSON.parse(audit.text) as Array<{ detail: string }>)[0]!.detail, /"security":"target","throttle":\["20MiB\/s","5MiB\/s@fri-mon,22:00-06:00"\]/);

  const refused: Array<[unknown, RegExp]> = [
    [{ ...base, throttle: ['fast'] }, /throttle rate .{1,3}fast.{1,3} is not a rate/],
    [{ ...base, throttle: ['1MiB/s', '2MiB/s'] }, /only one rate without a window/],
    [{ ...base, throttle: ['1MiB/s@mon-fri'] }, /time range such as 08:00-18:00/],
    [{ ...base, throttle: ['1MiB/s@mon,08:00-99:00'] }, /99:00 is not a time/],
    [{ ...base, throttle: Array(17).fill('1MiB/s@mon,08:00-09:00') }, /body\/throttle/],
    [{ ...base, security: 'mine' }, /body\/security/],
    [{ ...base, conflict: 'merge' }, /body\/conflict/],
  ];
  for (const [body, message] of refused) {
    const r = await recover(body);
    assert.equal(r.status, 400, `${JSON.stringify(body).slice(0, 120)}: ${r.text.slice(0, 300)}`);
    assert.match(r.text, message);
  }
  assert.equal((await catalog.listJobs({ kind: 'recovery', limit: 100 })).length, 2, 'no refused request made a job');
});
