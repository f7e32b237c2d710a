/** /api/jobs: list, show (with log), cancel. A recovery-operator sees the jobs of the data sources in its scope. */
import type { FastifyInstance } from 'fastify';
import { FINISHED_STATES, type JobState } from '../../../jobs/index.js';
import type { JobRow } from '../../../catalog/index.js';
import { api } from '../../../protocol/rest/index.js';
import { sourceInScope, type Principal } from '../../auth.js';
import type { ServerContext } from '../../context.js';
import { notFound } from '../../http-errors.js';
import { jobView } from '../../views.js';
import { serve } from '../serve.js';

const WAIT_POLL_MS = 50;

export function registerJobRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const c = ctx.catalog;

  /** Whether the caller may see a job (for a recovery-operator: a job of a data source in its scope). */
  const visible = async (p: Principal, j: JobRow): Promise<boolean> => {
    if (p.role !== 'recovery-operator') return true;
    const s = j.source_id ? await c.source(j.source_id) : undefined;
    return s !== undefined && sourceInScope(p, s);
  };

  serve(app, api.listJobs, async ({ query, principal }) => {
    const jobs = await c.listJobs({ ...query });
    const shown: JobRow[] = [];
    for (const j of jobs) if (await visible(principal!, j)) shown.push(j);
    return shown.map((j) => jobView(j));
  });

  serve(app, api.getJob, async ({ params, query, principal, req }) => {
    const id = Number(params.id);
    const deadline = Date.now() + (query.wait ?? 0) * 1000;
    let j = await c.job(id);
    if (!j || !(await visible(principal!, j))) throw notFound(`job ${id}`);
    // A waiting client learns of the end within WAIT_POLL_MS instead of its own poll interval.
    while (!FINISHED_STATES.includes(j.state as JobState) && Date.now() < deadline && !req.raw.destroyed) {
      await new Promise((r) => setTimeout(r, Math.min(WAIT_POLL_MS, deadline - Date.now())));
      j = (await c.job(id)) ?? j;
    }
    return jobView(j, await c.jobLog(id));
  });

  serve(app, api.cancelJob, async ({ params, audit }) => {
    audit(params.id);
    return jobView(await ctx.engine.cancel(Number(params.id)));
  });
}
