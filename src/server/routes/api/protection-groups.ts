/** /api/protection-groups: create, list, show, update, delete protection groups. */
import type { FastifyInstance } from 'fastify';
import { scheduleChanges } from '../../../jobs/index.js';
import {
  ALLOCATION_RULE, DEFAULT_POLICY, formatCheck, formatReplica, formatSync, MAX_FILE_RECOVERY_POINTS, MAX_POINT_TIMES, MAX_RETENTION_DAYS, MIN_RETENTION_DAYS, SYNC_FREQUENCIES, WEEKDAYS, parsePolicy, parseTargetMinutes, type PolicyInput, type ProtectionPolicy } from '../../../protection/index.js';
import type { GroupTargets } from '../../../catalog/index.js';
import { api, type GroupCreate, type GroupUpdate } from '../../../protocol/rest/index.js';
import type { ServerContext } from '../../context.js';
import { serve } from '../serve.js';
import { badRequest, conflict, notFound } from '../../http-errors.js';
import { groupView } from '../../views.js';
import { parseSourceId, sourceIdOf } from '../../source-id.js';
import { releaseSlots } from '../../app-release.js';
import { servedMarksPatch } from '../../schedule-marks.js';
import { deleteSourcePoints, stopSourceJobs } from '../../source-removal.js';

const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$/;

type GroupBody = GroupCreate | GroupUpdate;

/** The SLA targets a body sets (undefined: left as they are; null: cleared). */
function targetsInput(b: GroupBody): GroupTargets {
  const one = (v: string | number | null | undefined, what: string): number | null | undefined => {
    if (v === undefined || v === null) return v;
    const m = parseTargetMinutes(v);
    if (m === undefined) throw badRequest(`${what} ${JSON.stringify(v)} is not allowed: a duration from 1m to 30d, such as 30m, 1h, 4h or 1d`);
    return m;
  };
  const rpo = one(b.rpoTarget, 'RPO target');
  const rto = one(b.rtoTarget, 'RTO target');
  return { ...(rpo !== undefined ? { rpoTargetMinutes: rpo } : {}), ...(rto !== undefined ? { rtoTargetMinutes: rto } : {}) };
}

function policyInput(b: GroupBody): PolicyInput {
  const { retention, sync, points, days, excludes, replica, check } = b;
  return Object.fromEntries(Object.entries({ retention, sync, points, days, excludes, replica, check }).filter(([, v]) => v !== undefined)) as PolicyInput;
}

export function registerGroupRoutes(app: FastifyInstance, ctx: ServerContext): void {
  serve(app, api.protectionOptions, async () => ({
    defaults: {
      retentionDays: DEFAULT_POLICY.retentionDays,
      sync: formatSync(DEFAULT_POLICY.syncMinutes),
      pointTimes: [...DEFAULT_POLICY.pointTimes],
      days: [...DEFAULT_POLICY.days],
      replica: formatReplica(DEFAULT_POLICY),
      check: formatCheck(DEFAULT_POLICY),
    },
    syncChoices: SYNC_FREQUENCIES.map(formatSync),
    weekdays: [...WEEKDAYS],
    retentionDays: { min: MIN_RETENTION_DAYS, max: MAX_RETENTION_DAYS },
    maxPointTimes: MAX_POINT_TIMES,
    maxRecoveryPoints: MAX_FILE_RECOVERY_POINTS,
    allocation: ALLOCATION_RULE,
  }));

  const c = ctx.catalog;

  const members = async (name: string) => (await c.listSources({ group: name })).map((s) => s.id);

  /** Checks every source id and its agent; the rows to save (new sources get defaults). */
  const memberRows = async (ids: readonly string[], now: string) => {
    const rows = [];
    for (const id of new Set(ids)) {
      const { agent, kind, path } = parseSourceId(id);
      const a = await c.agent(agent);
      if (!a || a.revoked_at) throw badRequest(`data source ${id}: no agent named ${agent} is attached (see custos agent list)`);
      rows.push({
        id: `${agent}:${kind}:${path}`, agent, kind, path, group_name: null, replica_state: 'none', allocation_bytes: 0, used_bytes: 0,
        created_at: now, last_sync_started_at: null, last_sync_ok_at: null, last_point_slot: null, last_check_slot: null, added_to_group_at: null,
      });
    }
    return rows;
  };

  serve(app, api.listGroups, async () =>
    Promise.all((await c.listGroups()).map(async (g) => groupView(g, await members(g.name)))));

  serve(app, api.getGroup, async ({ params }) => {
    const { name } = params;
    const g = await c.group(name);
    if (!g) throw notFound(`protection group ${name}`);
    return groupView(g, await members(name));
  });

  serve(app, api.createGroup, async ({ body: b, audit }) => {
    audit(b.name, {
      sources: b.sources, ...policyInput(b), ...(b.endUserRecovery === undefined ? {} : { endUserRecovery: b.endUserRecovery }),
      ...(b.rpoTarget === undefined ? {} : { rpoTarget: b.rpoTarget }), ...(b.rtoTarget === undefined ? {} : { rtoTarget: b.rtoTarget }),
    });
    if (!GROUP_NAME.test(b.name)) throw badRequest(`protection group name ${JSON.stringify(b.name)} is not allowed: letters, digits, space, '.', '_', '-' (at most 63)`);
    if (!b.sources || b.sources.length === 0) throw badRequest('a protection group needs at least one data source (--source AGENT:fs:/path or AGENT:postgres:PORT)');
    if (await c.group(b.name)) throw conflict(`protection group ${b.name} already exists`);
    const { policy, warnings } = parsePolicy(policyInput(b), DEFAULT_POLICY);
    const targets = targetsInput(b);
    const now = ctx.clock.now().toISOString();
    const rows = await memberRows(b.sources, now);
    await c.saveGroup({ name: b.name, policy: JSON.stringify(policy), now, create: true, endUserRecovery: b.endUserRecovery ?? false, targets }, rows);
    await ctx.engine.groupSaved(b.name, null, policy);
    return { group: groupView((await c.group(b.name))!, await members(b.name)), warnings };
  });

  serve(app, api.updateGroup, async ({ params, body: b, audit }) => {
    const { name } = params;
    audit(name, { ...b });
    const g = await c.group(name);
    if (!g) throw notFound(`protection group ${name}`);
    const before = JSON.parse(g.policy) as ProtectionPolicy;
    const { policy, warnings } = parsePolicy(policyInput(b), before);
    const targets = targetsInput(b);
    let ids = b.sources ? [...b.sources] : await members(name);
    if (b.addSources) ids.push(...b.addSources);
    if (b.removeSources) {
      const remove = new Set(b.removeSources.map((id) => sourceIdOf(parseSourceId(id))));
      for (const r of remove) if (!ids.includes(r)) throw badRequest(`data source ${r} is not a member of ${name}`);
      ids = ids.filter((id) => !remove.has(id));
    }
    if (ids.length === 0) throw badRequest(`a protection group needs at least one data source; delete the group instead (custos group delete ${name})`);
    const at = ctx.clock.now();
    const now = at.toISOString();
    // A changed schedule starts with its next slot, as a new group's does: slots of it already past make no job.
    const changed = scheduleChanges(before, policy);
    const marks = new Map(changed.points || changed.check
      ? (await c.listSources({ group: name })).map((s) => [s.id, servedMarksPatch(s, policy, at, changed)] as const)
      : []);
    const leaving = (await members(name)).filter((id) => !ids.includes(id));
    await c.saveGroup({ name, policy: JSON.stringify(policy), now, create: false, targets, ...(b.endUserRecovery === undefined ? {} : { endUserRecovery: b.endUserRecovery }) }, await memberRows(ids, now), marks);
    await ctx.alerts.sourcesLeftProtection(leaving, at);
    void releaseSlots(ctx, leaving); // asks their agents; not waited for (an alert says what could not be dropped)
    await ctx.engine.groupSaved(name, before, policy);
    return { group: groupView((await c.group(name))!, await members(name)), warnings };
  });

  serve(app, api.deleteGroup, async ({ params, query, audit }) => {
    const { name } = params;
    const { points } = query;
    audit(name, { points });
    if (!(await c.group(name))) throw notFound(`protection group ${name}`);
    const sources = await c.listSources({ group: name });
    await stopSourceJobs(ctx, sources, 'this group');
    // Recovery points and the replica-only points synchronizations left, counted apart.
    let deleted = 0;
    let replicaOnly = 0;
    if (points === 'delete') {
      for (const s of sources) {
        const d = await deleteSourcePoints(ctx, s.id);
        deleted += d.recoveryPoints;
        replicaOnly += d.replicaOnly;
      }
    }
    await c.deleteGroup(name);
    await ctx.alerts.sourcesLeftProtection(sources.map((s) => s.id), ctx.clock.now());
    void releaseSlots(ctx, sources.map((s) => s.id)); // asks their agents; not waited for (an alert says what could not be dropped)
    return { deleted: name, recoveryPointsDeleted: deleted, replicaOnlyPointsDeleted: replicaOnly };
  });
}
