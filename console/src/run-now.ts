/** Starting a data source's synchronization, recovery point or consistency check now (alert buttons, the Protection list): one call, one wording. */
import { api } from '../../src/protocol/rest/contract.js';
import type { Job } from '../../src/protocol/rest/objects.js';
import { call } from './api.js';

export type RunNow = 'sync' | 'recovery-point' | 'consistency-check';

/** Queues the job; answers the sentence to show: the job queued and any warning, or why it could not start. */
export async function runNow(source: string, what: RunNow, after = ''): Promise<string> {
  try {
    const params = { id: source };
    const job: Job & { warnings?: string[] } =
      what === 'sync' ? await call(api.syncNow, { params }) : what === 'recovery-point' ? await call(api.createPoint, { params }) : await call(api.checkNow, { params });
    const warnings = job.warnings && job.warnings.length > 0 ? ` (${job.warnings.join('; ')})` : '';
    return `Job ${job.id} (${job.kind}) queued for ${source}${warnings}${after}.`;
  } catch (e) {
    return `Could not start it: ${e instanceof Error ? e.message : String(e)}`;
  }
}
