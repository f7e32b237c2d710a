/**
 * `POST /api/recoveries` with `to: "server:/path"`: a recovery to a folder of
 * the protection server (src/server/server-recovery.ts). Writing to the
 * server's own disk is more than recovering to a protected computer, so it
 * is for admins and operators only (docs/design/security.md); the path is
 * checked against the server's recovery directories before the job is
 * queued, and again when it runs.
 */
import { resolveItem } from '../../../agent/restore/items.js';
import { CustosError } from '../../../base/index.js';
import type { DataSourceRow, JobRow, PointRow } from '../../../catalog/index.js';
import type { ThrottleRule } from '../../../protection/index.js';
import type { ConflictModeName, SecurityModeName } from '../../../protocol/index.js';
import type { RecoveryRequest } from '../../../protocol/rest/index.js';

/** How the recovery writes (conflict, security, throttle), as the route parsed them. */
export interface RecoverySettingsParams {
  readonly conflict: ConflictModeName;
  readonly security: SecurityModeName;
  readonly throttle: readonly ThrottleRule[];
}
import type { Principal } from '../../auth.js';
import type { ServerContext } from '../../context.js';
import { serverTargetPath } from '../../server-recovery.js';

/** Who may ask, and where the target really is (refused with `denied` outside the recovery directories). */
export function checkServerTargetRequest(ctx: ServerContext, p: Principal, to: string): string {
  if (p.role !== 'admin' && p.role !== 'operator') {
    throw new CustosError('denied', `only an admin or an operator may recover to a folder of the protection server (${to}); a ${p.role} recovers to agents`);
  }
  return ctx.serverRecoveries.check(serverTargetPath(to)!);
}

/** Queues the recovery job: kind `recovery` with no agent, which the job engine runs on the server. */
export async function enqueueServerRecovery(
  ctx: ServerContext,
  r: { source: DataSourceRow; point: PointRow; target: string; request: RecoveryRequest; settings: RecoverySettingsParams; principal: Principal },
): Promise<JobRow> {
  if (r.request.allowSystemTarget) throw new CustosError('usage', 'allowSystemTarget applies to agents; a server target is always under a recovery directory');
  const b = r.request;
  for (const item of b.items ?? []) resolveItem(item, r.source.path); // refuses '..' and the like before anything is queued
  return ctx.engine.enqueue({
    kind: 'recovery',
    source: r.source.id,
    agent: null,
    params: { point: r.point.id, target: r.target, on: 'server', items: b.items ?? [], ...r.settings, requestedBy: r.principal.name, ...(b.notify ? { notify: b.notify } : {}) },
    reason: `recovery of ${r.point.time} to ${b.to} on the protection server requested by ${r.principal.name}`,
  });
}
