/**
 * /api/plan/storage: the storage calculator (src/protection/storage-plan.ts)
 * with what only the server knows — the rate it recovers at, measured from
 * its finished recoveries, and, on request, its current groups with each
 * data source's size and measured daily change. Reads only.
 */
import type { FastifyInstance } from 'fastify';
import { UserError } from '../../../base/index.js';
import type { Catalog, JobRow } from '../../../catalog/index.js';
import {
  DEFAULT_DAILY_CHANGE_RATE,
  WEEKDAYS,
  measuredDailyChange,
  measuredRecoveryRate,
  planStorage,
  type PlanGroupInput,
  type RecoverySample,
} from '../../../protection/index.js';
import { api, type PlanAnswer, type StoragePlanView } from '../../../protocol/rest/index.js';
import type { ServerContext } from '../../context.js';
import { groupView } from '../../views.js';
import { serve } from '../serve.js';

/** Successful recoveries looked at, newest first, to find the RATE_SAMPLES large enough to measure. */
const RECOVERIES_LOOKED_AT = 500;

export function registerPlanRoutes(app: FastifyInstance, ctx: ServerContext): void {
  serve(app, api.planStorage, async ({ body }) => {
    const planned = body.groups ?? [];
    if (planned.length === 0 && body.fromGroups !== true) {
      throw new UserError('usage', 'nothing to plan: give groups, or fromGroups: true to plan the current protection groups');
    }
    const rate = measuredRecoveryRate(await recoverySamples(ctx.catalog));
    const current = body.fromGroups === true ? await currentGroups(ctx.catalog, ctx.clock.now(), body.growthPercent ?? 0, body.years ?? 0) : { groups: [], measured: [] };
    if (current.groups.length === 0 && planned.length === 0) {
      throw new UserError('usage', 'no protection group has data sources yet: nothing to plan from the current configuration (give planned groups instead)');
    }
    const plan: StoragePlanView = planStorage({ groups: [...current.groups, ...planned], recoveryRate: rate.bytesPerSecond, preparationSeconds: body.preparationSeconds ?? 0 });
    return { plan, recoveryRate: rate, measured: current.measured };
  });
}

/** The successful recoveries, newest first, as bytes written and time taken. */
async function recoverySamples(c: Catalog): Promise<RecoverySample[]> {
  const jobs = await c.listJobs({ kind: 'recovery', state: 'succeeded', limit: RECOVERIES_LOOKED_AT });
  return jobs.flatMap((j) => {
    const s = recoverySample(j);
    return s ? [s] : [];
  });
}

/** A recovery job's result holds `bytes` written (agent and server recoveries alike); its time is start to finish. */
function recoverySample(j: JobRow): RecoverySample | null {
  if (j.result === null || j.started_at === null || j.finished_at === null) return null;
  let result: unknown;
  try {
    result = JSON.parse(j.result);
  } catch {
    return null;
  }
  const bytes = typeof result === 'object' && result !== null && 'bytes' in result ? result.bytes : undefined;
  const durationMs = Date.parse(j.finished_at) - Date.parse(j.started_at);
  if (typeof bytes !== 'number' || !Number.isFinite(bytes) || !Number.isFinite(durationMs)) return null;
  return { bytes, durationMs };
}

/**
 * The current groups as plan input: each data source with its newest
 * point's logical size and its measured daily change (DPM's default 2 %
 * while there is nothing to measure); groups without data sources are left
 * out.
 */
async function currentGroups(c: Catalog, now: Date, growthPercent: number, years: number): Promise<{ groups: PlanGroupInput[]; measured: PlanAnswer['measured'] }> {
  const groups: PlanGroupInput[] = [];
  const measured: PlanAnswer['measured'] = [];
  for (const row of await c.listGroups()) {
    const members = await c.listSources({ group: row.name });
    if (members.length === 0) continue;
    const g = groupView(row, members.map((s) => s.id));
    const sources = [];
    for (const s of members) {
      const points = (await c.listPoints(s.id)).map((p) => ({ time: new Date(p.time), logicalBytes: Number(p.logical_bytes), bytesAdded: Number(p.bytes_added) }));
      const m = measuredDailyChange(points, now);
      measured.push({ group: g.name, source: s.id, ...m });
      sources.push({ name: s.id, dataBytes: m.dataBytes, dailyChangePercent: m.dailyChangePercent ?? DEFAULT_DAILY_CHANGE_RATE * 100 });
    }
    groups.push({
      name: g.name,
      sources,
      retentionDays: g.retentionDays,
      syncMinutes: g.syncMinutes,
      pointTimes: g.pointTimes,
      days: WEEKDAYS.filter((d) => g.days.includes(d)),
      yearlyGrowthPercent: growthPercent,
      years,
    });
  }
  return { groups, measured };
}
