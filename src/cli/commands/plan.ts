/**
 * `custos plan storage`: the storage calculator (src/protection/storage-plan.ts).
 * Without a server it runs the formulas here (no measured recovery rate, so
 * no RTO); with one (CUSTOS_SERVER or --server) it asks the server, which
 * adds its measured rate and, with --from-groups, its current groups.
 */
import type { Command } from 'commander';
import { CustosError, parseDuration, parsePercent, parseSize } from '../../base/index.js';
import { DEFAULT_DAILY_CHANGE_RATE, parsePolicy, planStorage } from '../../protection/index.js';
import { api, type PlanAnswer, type PlanRequest } from '../../protocol/rest/index.js';
import { print, printJson } from '../output.js';
import { formatBytes } from '../progress.js';
import { connect, printTable, printWarnings, shortDuration, withConnection, type ConnectionOptions } from '../server-cli.js';

interface PlanOptions extends ConnectionOptions {
  size?: string;
  change?: string;
  logs?: string;
  retention?: string;
  sync?: string;
  points?: string;
  days?: string;
  growth?: string;
  years?: string;
  preparation?: string;
  fromGroups?: boolean;
  json?: boolean;
}

/** The name of the group `--size` plans. */
const PLANNED = 'planned';

export function registerPlanCommands(program: Command): void {
  const plan = program.command('plan').description('planning tools: the storage calculator');
  withConnection(
    plan
      .command('storage')
      .description(
        'pool size, allocation, growth, RPO and RTO for data to protect (--size …) and/or the server\'s current groups (--from-groups). ' +
          'Runs without a server (no measured recovery rate: RTO unknown); with one (CUSTOS_SERVER or --server) the RTO uses the rate it measured',
      )
      .option('--size <size>', 'data to protect, e.g. 500GiB, 2TB, 1.5TiB')
      .option('--change <percent>', "percent of the data that changes a day (default 2%, DPM's default for files)")
      .option('--logs <size>', 'logs a day, for application data sources (the replica holds one day of them); default 0')
      .option('--retention <days>', 'retention range: 1d to 448d (default 5d)')
      .option('--sync <frequency>', 'synchronization frequency: 15m, 30m, 1h, 2h, 4h, 6h, 12h or 24h (default 15m)')
      .option('--points <times>', 'recovery point times, up to 8 (default 20:00), e.g. 08:00,12:00,20:00')
      .option('--days <days>', 'days with recovery points (default daily), e.g. mon-fri')
      .option('--growth <percent>', 'yearly growth of the data (default 0%)')
      .option('--years <n>', 'years to plan ahead, 0 to 10 (default 3 with --growth, else 0)')
      .option('--preparation <duration>', 'time before a recovery starts moving data (replace a disk, attach an agent), added to the RTO; e.g. 30m (default 0s)')
      .option('--from-groups', "also plan the server's protection groups, from their data sources' sizes and measured daily change")
      .option('--json', 'print the plan as JSON'),
  ).action(async (opts: PlanOptions) => {
    const request = planRequest(opts);
    const server = opts.server ?? process.env['CUSTOS_SERVER'];
    let answer: PlanAnswer;
    if (server === undefined || server === '') {
      if (opts.fromGroups) throw new CustosError('usage', '--from-groups plans the server\'s groups: set CUSTOS_SERVER, CUSTOS_TOKEN and CUSTOS_CA (or --server, --token-file, --ca)');
      answer = {
        plan: planStorage({ groups: request.groups ?? [], recoveryRate: null, preparationSeconds: request.preparationSeconds ?? 0 }),
        recoveryRate: { bytesPerSecond: null, recoveries: 0 },
        measured: [],
      };
    } else {
      answer = await connect(opts).call(api.planStorage, { body: request });
    }
    if (opts.json) return printJson(answer);
    printPlan(answer, server ? 'server' : 'none');
  });
}

function usage(message: string): never {
  throw new CustosError('usage', message);
}

/** The options as the request of POST /api/plan/storage (checked here for what people type; the limits by the calculator). */
export function planRequest(opts: PlanOptions): PlanRequest {
  if (opts.size === undefined && !opts.fromGroups) usage('give --size (the data to protect) or --from-groups (plan the current groups of the server)');
  const growth = opts.growth === undefined ? 0 : parsePercent(opts.growth) ?? usage(`--growth ${opts.growth} is not a percentage: use e.g. 20%`);
  let years = growth > 0 ? 3 : 0;
  if (opts.years !== undefined) {
    if (!/^\d+$/.test(opts.years.trim())) usage(`--years ${opts.years} is not a whole number of years: use 0 to 10`);
    years = Number(opts.years.trim());
  }
  let preparationSeconds = 0;
  if (opts.preparation !== undefined) {
    const ms = parseDuration(opts.preparation) ?? usage(`--preparation ${opts.preparation} is not a duration: use e.g. 90s, 30m or 2h`);
    preparationSeconds = ms / 1000;
  }
  const request: PlanRequest = { growthPercent: growth, years, preparationSeconds };
  if (opts.fromGroups) request.fromGroups = true;
  if (opts.size !== undefined) {
    const dataBytes = parseSize(opts.size) ?? usage(`--size ${opts.size} is not a size: use e.g. 500GiB, 2TB or 1.5TiB`);
    const logBytesPerDay = opts.logs === undefined ? 0 : parseSize(opts.logs) ?? usage(`--logs ${opts.logs} is not a size: use e.g. 10GiB`);
    const change = opts.change === undefined ? DEFAULT_DAILY_CHANGE_RATE * 100 : parsePercent(opts.change) ?? usage(`--change ${opts.change} is not a percentage: use e.g. 5%`);
    // The policy's own parser: the same forms and messages as `group create`.
    const { policy } = parsePolicy({ retention: opts.retention, sync: opts.sync, points: opts.points, days: opts.days });
    request.groups = [{
      name: PLANNED,
      sources: [{ name: 'data', dataBytes, dailyChangePercent: change, ...(logBytesPerDay > 0 ? { logBytesPerDay } : {}) }],
      retentionDays: policy.retentionDays,
      syncMinutes: policy.syncMinutes,
      pointTimes: [...policy.pointTimes],
      days: [...policy.days],
      yearlyGrowthPercent: growth,
      years,
    }];
  }
  return request;
}

// --- the table ----------------------------------------------------------------------------------

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const percent = (p: number) => `${Number(p.toFixed(2))}%`;
const rto = (seconds: number | null) => (seconds === null ? 'unknown' : shortDuration(seconds * 1000));

/** Minutes as people say them: "15 minutes", "1 hour", "56 hours", "3.5 days". */
export function spellMinutes(minutes: number): string {
  if (minutes < 60) return plural(minutes, 'minute');
  if (minutes < 3 * 1440 && minutes % 60 === 0) return plural(minutes / 60, 'hour');
  if (minutes < 3 * 1440) return `${Number((minutes / 60).toFixed(1))} hours`;
  return `${Number((minutes / 1440).toFixed(1))} days`;
}

/** A data source id cut to `width` in the middle, so both the agent and the end of the path show. */
function fit(name: string, width: number): string {
  if (name.length <= width) return name;
  const head = Math.ceil((width - 1) / 3);
  return `${name.slice(0, head)}…${name.slice(name.length - (width - 1 - head))}`;
}

const NAME_WIDTH = 28;

function printPlan(a: PlanAnswer, server: 'server' | 'none'): void {
  const { plan } = a;
  print('Storage plan: replica = data + one day of logs; recovery point space = retention days × daily change');
  for (const g of plan.groups) {
    print();
    const days = g.days.length === 7 ? 'every day' : `on ${g.days.join(',')}`;
    print(`group ${g.name}`);
    print(`  retention ${plural(g.retentionDays, 'day')}; synchronization every ${spellMinutes(g.syncMinutes)}`);
    print(`  recovery points at ${g.pointTimes.join(', ')} ${days} (${plural(g.pointTimes.length, 'recovery point')} a day)`);
    print(`  RPO ${spellMinutes(g.rpo.syncMinutes)} (synchronization); ${spellMinutes(g.rpo.recoveryPointMinutes)} between recovery points at most`);
    print(`  up to ${plural(g.recoveryPointsKept, 'recovery point')} kept per data source`);
    const rows = g.sources.map((s) => [
      fit(s.name, NAME_WIDTH), formatBytes(s.dataBytes), `${formatBytes(s.dailyChangeBytes)} (${percent(s.dailyChangePercent)})`, formatBytes(s.replicaBytes),
      formatBytes(s.recoveryPointBytes), formatBytes(s.plannedBytes), formatBytes(s.defaultAllocationBytes), rto(s.rtoSeconds),
    ]);
    if (g.sources.length > 1) {
      rows.push(['total', formatBytes(g.dataBytes), formatBytes(g.dailyChangeBytes), formatBytes(g.replicaBytes), formatBytes(g.recoveryPointBytes),
        formatBytes(g.plannedBytes), formatBytes(g.defaultAllocationBytes), rto(g.rtoSeconds)]);
    }
    printTable(['DATA SOURCE', 'DATA', 'CHANGE A DAY', 'REPLICA', 'RECOVERY POINTS', 'PLANNED', 'ALLOCATION', 'RTO'], rows);
    if (g.years > 0) {
      print(`  growth ${percent(g.yearlyGrowthPercent)} a year${g.sources.length > 1 ? ' (all data sources)' : ''}:`);
      printTable(['  YEAR', 'DATA', 'REPLICA', 'RECOVERY POINTS', 'PLANNED', 'RTO'], g.growth.map((y) => [
        `  ${y.year === 0 ? 'now' : y.year}`, formatBytes(y.dataBytes), formatBytes(y.replicaBytes), formatBytes(y.recoveryPointBytes), formatBytes(y.plannedBytes), rto(y.rtoSeconds),
      ]));
    }
  }
  print();
  print('ALLOCATION: the quota the server gives by default (DPM: 1.5 × data + retention × 2% a day + 1600 MiB)');
  print();
  const pool = plan.pool;
  const last = pool.growth.at(-1)!;
  print('storage pool');
  const fields: Array<[string, string]> = [
    ['protected data', formatBytes(pool.protectedBytes)],
    ['planned', `${formatBytes(pool.plannedBytes)} (replicas + recovery point space)`],
    ['default allocation', formatBytes(pool.defaultAllocationBytes)],
    ['recommended', `${formatBytes(pool.recommendedMinBytes)} to ${formatBytes(pool.recommendedMaxBytes)} (1.5 to 3 × the protected data)`],
  ];
  if (last.year > 0) {
    fields.push([`in ${plural(last.year, 'year')}`, `${formatBytes(last.protectedBytes)} protected, ${formatBytes(last.plannedBytes)} planned, ` +
      `${formatBytes(last.recommendedMinBytes)} to ${formatBytes(last.recommendedMaxBytes)} recommended`]);
  }
  const w = Math.max(...fields.map(([k]) => k.length)) + 1;
  for (const [k, v] of fields) print(`  ${`${k}:`.padEnd(w)} ${v}`);
  print();
  const prep = plan.preparationSeconds > 0 ? ` + ${shortDuration(plan.preparationSeconds * 1000)} of preparation` : '';
  if (a.recoveryRate.bytesPerSecond !== null) {
    print(`RTO = data / ${formatBytes(a.recoveryRate.bytesPerSecond)}/s${prep}: the median rate of this server's last ` +
      `${plural(a.recoveryRate.recoveries, 'recovery', 'recoveries')}`);
  } else if (server === 'none') {
    print('RTO unknown: no server, so no measured recovery rate (set CUSTOS_SERVER to use the rate the server measured)');
  } else {
    print('RTO unknown: the server has not measured a recovery rate yet (no finished recovery of 1 MiB or more)');
  }
  for (const m of a.measured) {
    if (m.dailyChangePercent === null) print(`${fit(m.source, 60)}: no change measured yet (no point after the first): planned with 2% a day`);
  }
  printWarnings(plan.warnings);
}
