/** /api/jobs: list, show (with log), cancel. */
import type { FastifyInstance } from 'fastify';
import { FINISHED_STATES, JOB_KINDS, JOB_STATES, type JobState } from '../../../jobs/index.js';
import type { ServerContext } from '../../context.js';
import { badRequest, notFound } from '../../http-errors.js';
import { jobView } from '../../views.js';

const MAX_WAIT_S = 60;
const WAIT_POLL_MS = 50;

const JOB_ID = { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9]{1,15}$' } }, required: ['id'] } as const;

export function registerJobRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const c = ctx.catalog;
  app.get('/api/jobs', {
    schema: {
      summary: 'Jobs, newest first',
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { state: { type: 'string', enum: [...JOB_STATES] }, kind: { type: 'string', enum: [...JOB_KINDS] }, source: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 10_000 } },
      },
    },
  }, async (req) => {
    const q = req.query as { state?: string; kind?: string; source?: string; limit?: number };
    return (await c.listJobs({ ...q })).map((j) => jobView(j));
  });

  app.get('/api/jobs/:id', {
    schema: {
      summary: 'One job with its log; with wait=N, answers once the job has finished or after N seconds, whichever comes first',
      params: JOB_ID,
      querystring: { type: 'object', additionalProperties: false, properties: { wait: { type: 'integer', minimum: 0, maximum: MAX_WAIT_S } } },
    },
  }, async (req) => {
    const id = Number((req.params as { id: string }).id);
    const deadline = Date.now() + ((req.query as { wait?: number }).wait ?? 0) * 1000;
    let j = await c.job(id);
    if (!j) throw notFound(`job ${id}`);
    // A waiting client learns of the end within WAIT_POLL_MS instead of its own poll interval.
    while (!FINISHED_STATES.includes(j.state as JobState) && Date.now() < deadline && !req.raw.destroyed) {
      await new Promise((r) => setTimeout(r, Math.min(WAIT_POLL_MS, deadline - Date.now())));
      j = (await c.job(id)) ?? j;
    }
    return jobView(j, await c.jobLog(id));
  });

  app.post('/api/jobs/:id/cancel', { schema: { summary: 'Cancel a queued or running job', params: JOB_ID } }, async (req) => {
    const id = Number((req.params as { id: string }).id);
    if (!Number.isSafeInteger(id)) throw badRequest('job id must be a number');
    return jobView(await ctx.engine.cancel(id));
  });
}
