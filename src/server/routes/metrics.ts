/** /metrics in Prometheus text format (needs a token like every call but health). */
import type { FastifyInstance } from 'fastify';
import { api } from '../../protocol/rest/index.js';
import type { ServerContext } from '../context.js';
import { serve } from './serve.js';

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function registerMetricsRoute(app: FastifyInstance, ctx: ServerContext): void {
  serve(app, api.metrics, async () => {
    const c = ctx.catalog;
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, samples: Array<[Record<string, string>, number]>) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of samples) {
        const l = Object.entries(labels).map(([k, v]) => `${k}="${esc(v)}"`).join(',');
        lines.push(`${name}${l ? `{${l}}` : ''} ${value}`);
      }
    };
    metric('custos_jobs', 'gauge', 'Jobs in the catalog by kind and state.', (await c.jobCounts()).map((r) => [{ kind: r.kind, state: r.state }, r.n]));
    const now = ctx.clock.now().getTime();
    const sources = await c.listSources();
    const protectedBytes: Array<[Record<string, string>, number]> = [];
    const age: Array<[Record<string, string>, number]> = [];
    for (const s of sources) {
      const newest = await c.newestPoint(s.id);
      if (!newest) continue;
      protectedBytes.push([{ data_source: s.id }, Number(newest.logical_bytes)]);
      age.push([{ data_source: s.id }, Math.max(0, Math.round((now - new Date(newest.time).getTime()) / 1000))]);
    }
    metric('custos_protected_bytes', 'gauge', 'Size of the newest point of each data source.', protectedBytes);
    metric('custos_newest_recovery_point_age_seconds', 'gauge', 'Age of the newest point of each data source.', age);
    let stored = 0;
    for (const loc of ctx.pool.index.values()) stored += loc.length;
    metric('custos_pool_stored_bytes', 'gauge', 'Encoded bytes of the chunks in the storage pool.', [[{}, stored]]);
    metric('custos_pool_chunks', 'gauge', 'Chunks in the storage pool.', [[{}, ctx.pool.index.size]]);
    metric('custos_agents_connected', 'gauge', 'Agents connected now.', [[{}, ctx.hub.connected().size]]);
    metric('custos_alerts_active', 'gauge', 'Active alerts.', [[{}, (await c.listAlerts('active')).length]]);
    metric('custos_journal_missed_items_total', 'counter', "Changed items an agent's verification scan found that its change journal had missed, since the server started.",
      [...ctx.journalMisses].map(([source, n]) => [{ data_source: source }, n]));
    return lines.join('\n') + '\n';
  });
}
