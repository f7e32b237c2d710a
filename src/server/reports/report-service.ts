/**
 * Reports on the server: reads the facts from the catalog (and the pool's
 * usage, and which agents are connected), makes the report with the pure
 * functions of src/protection/reports.ts, and renders it as JSON, HTML,
 * CSV or PDF. The period is checked here, once, for the REST API and the
 * schedule alike.
 */
import type { Catalog } from '../../catalog/index.js';
import { CustosError, type Clock } from '../../base/index.js';
import {
  diskUtilizationReport, groupPoints, MAX_REPORT_DAYS, protectedComputersReport, recoveryPointStatusReport, slaReport, statusReport,
  type GroupFact, type PointFact, type ProtectionPolicy, type ReportName, type SourceFact,
} from '../../protection/index.js';
import { REPORT_NAME_LIST, type Report, type ReportFormat } from '../../protocol/rest/index.js';
import type { PoolUsage } from '../pool-maintenance.js';
import { reportCsv } from './report-csv.js';
import { reportHtml } from './report-html.js';
import { reportPdf } from './report-pdf.js';

// The REST list and the domain list are one list: this fails to compile when they part.
const sameNames: readonly ReportName[] = REPORT_NAME_LIST;
void sameNames;

export interface ReportDeps {
  readonly catalog: Catalog;
  readonly clock: Clock;
  readonly poolUsage: () => Promise<PoolUsage>;
  readonly connectedAgents: () => ReadonlySet<string>;
}

export interface Period {
  readonly from: Date;
  readonly to: Date;
}

const DAY_MS = 86_400_000;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * The period of `from` and `to` as given (YYYY-MM-DD: local midnight; for
 * `to`, the end of that day; or ISO 8601 times with a zone). Defaults: the
 * 7 days up to now. Refused (UserError usage → 400) when malformed, empty,
 * reversed or longer than 366 days.
 */
export function parsePeriod(from: string | undefined, to: string | undefined, now: Date): Period {
  const end = to === undefined ? now : parseWhen(to, 'to', true);
  const start = from === undefined ? new Date(end.getTime() - 7 * DAY_MS) : parseWhen(from, 'from', false);
  if (start.getTime() >= end.getTime()) throw new CustosError('usage', `the period is empty: from (${start.toISOString()}) must be before to (${end.toISOString()})`);
  if (end.getTime() - start.getTime() > (MAX_REPORT_DAYS + 1) * DAY_MS) throw new CustosError('usage', `a report covers at most ${MAX_REPORT_DAYS} days`);
  return { from: start, to: end };
}

function parseWhen(text: string, what: string, endOfDay: boolean): Date {
  const d = DATE.exec(text);
  if (d) {
    const [y, m, day] = [Number(d[1]), Number(d[2]), Number(d[3])];
    const date = new Date(y, m - 1, day + (endOfDay ? 1 : 0));
    const check = new Date(y, m - 1, day);
    if (check.getFullYear() === y && check.getMonth() === m - 1 && check.getDate() === day) return date;
  } else if (ISO.test(text)) {
    const t = new Date(text);
    if (!Number.isNaN(t.getTime())) return t;
  }
  throw new CustosError('usage', `${what} ${JSON.stringify(text)} is not a date: use YYYY-MM-DD or an ISO 8601 time such as 2026-03-02T08:00:00Z`);
}

export class ReportService {
  constructor(private readonly d: ReportDeps) {}

  /** Makes a report over a period (the facts read now). */
  async make(name: ReportName, period: Period): Promise<Report> {
    const c = this.d.catalog;
    const p = { ...period, now: this.d.clock.now() };
    const [from, to] = [period.from.toISOString(), period.to.toISOString()];
    const sources: SourceFact[] = (await c.listSources()).map((s) => ({
      id: s.id, agent: s.agent, group: s.group_name, since: s.added_to_group_at ?? s.created_at, allocationBytes: Number(s.allocation_bytes), usedBytes: Number(s.used_bytes),
    }));
    const groups: GroupFact[] = (await c.listGroups()).map((g) => ({
      name: g.name,
      policy: JSON.parse(g.policy) as ProtectionPolicy,
      rpoTargetMinutes: g.rpo_target_minutes ?? null,
      rtoTargetMinutes: g.rto_target_minutes ?? null,
    }));
    const jobs = async () => (await c.jobsFinishedBetween(from, to)).map((j) => ({ kind: j.kind, state: j.state, sourceId: j.source_id, createdAt: j.created_at, finishedAt: j.finished_at ?? j.created_at }));
    const points = async () => {
      const raw = await c.pointsForReport(from, to);
      const fact = (x: (typeof raw.inPeriod)[number]): PointFact => ({
        sourceId: x.source_id, time: x.time, recoveryPoint: x.recovery_point === 1, logicalBytes: Number(x.logical_bytes), bytesAdded: Number(x.bytes_added),
      });
      return groupPoints(raw.inPeriod.map(fact), raw.before.map(fact), raw.newest.map(fact));
    };
    switch (name) {
      case 'status':
        return statusReport(p, await jobs(), new Map(sources.map((s) => [s.id, s.group])));
      case 'recovery-points':
        return recoveryPointStatusReport(p, sources, groups, await points());
      case 'disk-utilization': {
        const usage = await this.d.poolUsage();
        return diskUtilizationReport(p, sources, await points(), { bytesStored: usage.bytesStored, directories: usage.directories });
      }
      case 'protected-computers': {
        const connected = this.d.connectedAgents();
        const agents = (await c.listAgents()).map((a) => ({ name: a.name, hostname: a.hostname, lastSeen: a.last_seen, version: a.version, revoked: a.revoked_at !== null, connected: connected.has(a.name) }));
        return protectedComputersReport(p, agents, sources, await points());
      }
      case 'sla':
        return slaReport(p, groups, sources, await points(), await jobs());
    }
  }

  /** A report in a format: its bytes, media type and file name. */
  render(r: Report, format: ReportFormat, server: string): { bytes: Buffer; contentType: string; fileName: string } {
    const day = r.to.slice(0, 10);
    const fileName = `custos-${r.report}-${day}.${format}`;
    switch (format) {
      case 'json':
        return { bytes: Buffer.from(JSON.stringify(r)), contentType: 'application/json', fileName };
      case 'html':
        return { bytes: Buffer.from(reportHtml(r, server)), contentType: 'text/html; charset=utf-8', fileName };
      case 'csv':
        return { bytes: Buffer.from(reportCsv(r)), contentType: 'text/csv; charset=utf-8', fileName };
      case 'pdf':
        return { bytes: reportPdf(r, server), contentType: 'application/pdf', fileName };
    }
  }
}
