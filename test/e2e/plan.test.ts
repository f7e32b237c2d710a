/**
 * `custos plan storage` as a user runs it, without a server: the figures of
 * the user guide's example in the table and in --json, lines that fit 120
 * columns, and one clear line with the usage status for what it cannot take.
 * Then against a real server and agent: --from-groups plans the group with
 * the size of its newest point, and a recovery gives the server a measured
 * rate that the RTO then uses.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { PlanAnswer } from '../../src/protocol/rest/index.js';
import { attachAgent, listPoints, startServer, stopAllProcesses, waitFor } from '../helpers/server.js';
import { cleanupTempDirs, describeCli, makeTempDir, parseJsonOutput, runCli, writeTree } from '../helpers/tree.js';

const GiB = 1024 ** 3;
const NO_SERVER = { CUSTOS_SERVER: undefined, CUSTOS_TOKEN: undefined, CUSTOS_CA: undefined };
const EXAMPLE = ['plan', 'storage', '--size', '500GiB', '--change', '5%', '--retention', '14d', '--sync', '15m', '--points', '08:00,12:00,20:00', '--growth', '20%', '--years', '3'];

describe('custos plan storage without a server', () => {
  test('the user guide example: 500 GiB changing 5% a day, kept 14 days, growing 20% a year', async () => {
    const r = await runCli(EXAMPLE, { env: NO_SERVER });
    assert.equal(r.code, 0, describeCli(EXAMPLE, r));
    const lines = r.stdout.split('\n');
    for (const line of lines) assert.ok([...line].length <= 120, `longer than 120 columns: ${line}`);
    const row = (first: string) => lines.find((l) => l.trim().split(/\s{2,}/)[0] === first)?.trim().split(/\s{2,}/);
    assert.deepEqual(row('data'), ['data', '500.0 GiB', '25.0 GiB (5%)', '500.0 GiB', '350.0 GiB', '850.0 GiB', '891.6 GiB', 'unknown']);
    assert.deepEqual(row('now'), ['now', '500.0 GiB', '500.0 GiB', '350.0 GiB', '850.0 GiB', 'unknown']);
    assert.deepEqual(row('1'), ['1', '600.0 GiB', '600.0 GiB', '420.0 GiB', '1020.0 GiB', 'unknown']);
    assert.deepEqual(row('3'), ['3', '864.0 GiB', '864.0 GiB', '604.8 GiB', '1.4 TiB', 'unknown']);
    assert.match(r.stdout, /retention 14 days; synchronization every 15 minutes\n/);
    assert.match(r.stdout, /recovery points at 08:00, 12:00, 20:00 every day \(3 recovery points a day\)/);
    assert.match(r.stdout, /RPO 15 minutes \(synchronization\); 12 hours between recovery points at most/);
    assert.match(r.stdout, /up to 42 recovery points kept per data source/);
    assert.match(r.stdout, /recommended: +750\.0 GiB to 1\.5 TiB \(1\.5 to 3 × the protected data\)/);
    assert.match(r.stdout, /in 3 years: +864\.0 GiB protected, 1\.4 TiB planned/);
    assert.match(r.stdout, /RTO unknown: no server, so no measured recovery rate/);
    assert.equal(r.stderr, '');
  });

  test('--json: the plan in bytes, as the server answers it', async () => {
    const args = [...EXAMPLE, '--preparation', '30m', '--json'];
    const r = await runCli(args, { env: NO_SERVER });
    assert.equal(r.code, 0, describeCli(args, r));
    const a = parseJsonOutput<PlanAnswer>(args, r);
    assert.deepEqual(a.recoveryRate, { bytesPerSecond: null, recoveries: 0 });
    assert.equal(a.plan.preparationSeconds, 1800);
    const s = a.plan.groups[0]!.sources[0]!;
    assert.deepEqual([s.dataBytes, s.dailyChangeBytes, s.replicaBytes, s.recoveryPointBytes, s.plannedBytes, s.rtoSeconds], [500 * GiB, 25 * GiB, 500 * GiB, 350 * GiB, 850 * GiB, null]);
    assert.deepEqual(a.plan.pool.growth.map((y) => y.protectedBytes), [500 * GiB, 600 * GiB, 720 * GiB, 864 * GiB]);
  });

  test('one day, one point, logs: singulars, and the replica holds a day of logs', async () => {
    const args = ['plan', 'storage', '--size', '100GB', '--logs', '10GB', '--retention', '1d', '--points', '20:00', '--days', 'mon-fri', '--change', '0%'];
    const r = await runCli(args, { env: NO_SERVER });
    assert.equal(r.code, 0, describeCli(args, r));
    assert.match(r.stdout, /retention 1 day;/);
    assert.match(r.stdout, /recovery points at 20:00 on mon,tue,wed,thu,fri \(1 recovery point a day\)/);
    assert.match(r.stdout, /RPO 15 minutes \(synchronization\); 3 days between recovery points at most/);
    assert.match(r.stdout, /up to 1 recovery point kept per data source/);
    assert.deepEqual(r.stdout.split('\n').find((l) => l.startsWith('data '))?.split(/\s{2,}/).slice(1, 5), ['93.1 GiB', '0 B (0%)', '102.4 GiB', '0 B']);
  });

  test('what it cannot take: one line, usage status, nothing on stdout', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['plan', 'storage'], /give --size \(the data to protect\) or --from-groups/],
      [['plan', 'storage', '--size', '5XB'], /--size 5XB is not a size: use e.g. 500GiB, 2TB or 1.5TiB/],
      [['plan', 'storage', '--size', '1TB', '--change', '150%'], /daily change 150% is not allowed: use 0% to 100%/],
      [['plan', 'storage', '--size', '1TB', '--retention', '500d'], /retention range 500d is not allowed: use whole days from 1 to 448/],
      [['plan', 'storage', '--size', '1TB', '--sync', '5m'], /synchronization frequency 5m is not allowed/],
      [['plan', 'storage', '--size', '1TB', '--growth', 'lots'], /--growth lots is not a percentage/],
      [['plan', 'storage', '--size', '1TB', '--years', '11'], /plan 0 to 10 years ahead/],
      [['plan', 'storage', '--from-groups'], /--from-groups plans the server's groups: set CUSTOS_SERVER/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args, { env: NO_SERVER });
      assert.equal(r.code, 2, describeCli(args, r));
      assert.equal(r.stdout, '', describeCli(args, r));
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, describeCli(args, r));
    }
  });
});

describe('custos plan storage with a server', { timeout: 300_000 }, () => {
  after(async () => {
    await stopAllProcesses();
    await cleanupTempDirs();
  });

  test('--from-groups plans the current group from its newest point; a recovery gives the RTO a measured rate', async () => {
    const work = (await makeTempDir('custos-e2e-plan-')).path;
    const src = join(work, 'data');
    await writeTree(src, { 'big.bin': randomBytes(3 * 1024 * 1024), 'notes.txt': 'n\n' });
    const server = await startServer();
    const agent = await attachAgent(server, 'alpha');
    await agent.start();
    const source = `alpha:fs:${src}`;
    const created = await server.cli(['group', 'create', 'homes', '--source', source, '--retention', '10d', '--sync', '1h', '--points', '08:00,20:00']);
    assert.equal(created.code, 0, describeCli(['group', 'create'], created));
    const [first] = await waitFor('the replica', async () => { const p = await listPoints(server, source); return p.length > 0 && p; }, 120_000);

    const before = await server.cliJson<PlanAnswer>(['plan', 'storage', '--from-groups', '--json']);
    assert.deepEqual(before.recoveryRate, { bytesPerSecond: null, recoveries: 0 });
    assert.deepEqual(before.measured, [{ group: 'homes', source, dataBytes: first!.logicalBytes, dailyChangePercent: null, days: 0, points: 0 }]);
    const homes = before.plan.groups[0]!;
    assert.deepEqual([homes.name, homes.retentionDays, homes.syncMinutes, homes.pointTimes], ['homes', 10, 60, ['08:00', '20:00']]);
    assert.equal(homes.sources[0]!.dailyChangePercent, 2, "nothing measured yet: DPM's 2 %");
    const table = await server.cli(['plan', 'storage', '--from-groups']);
    assert.equal(table.code, 0, describeCli(['plan', 'storage', '--from-groups'], table));
    assert.match(table.stdout, /RTO unknown: the server has not measured a recovery rate yet/);
    assert.match(table.stdout, /no change measured yet \(no point after the first\): planned with 2% a day/);

    const recover = ['recover', source, '--point', 'latest', '--to', `alpha:${join(work, 'restored')}`, '--wait', '--json', '--timeout', '2m'];
    const r = await server.cli(recover);
    assert.equal(r.code, 0, describeCli(recover, r));
    const after = await server.cliJson<PlanAnswer>(['plan', 'storage', '--from-groups', '--size', '1GiB', '--preparation', '1m', '--json']);
    assert.equal(after.recoveryRate.recoveries, 1);
    const rate = after.recoveryRate.bytesPerSecond!;
    assert.ok(rate > 0);
    const planned = after.plan.groups.find((g) => g.name === 'planned')!;
    assert.ok(Math.abs(planned.sources[0]!.rtoSeconds! - (1024 ** 3 / rate + 60)) < 1e-6, 'RTO = size / measured rate + preparation');
    const shown = await server.cli(['plan', 'storage', '--size', '1GiB']);
    assert.match(shown.stdout, /RTO = data \/ .+\/s: the median rate of this server's last 1 recovery\n/);
  });
});
