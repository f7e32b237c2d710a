/**
 * `custos server resync` (DPM's DpmSync -Sync): brings a catalog restored
 * from an older backup in line with the pool and the CA's issuance record,
 * with the server stopped. Each stage is a function of its own and says what
 * it changed; running it twice changes nothing the second time.
 *
 * - recovery points: in the pool but not in the catalog → registered (as
 *   recovery points: whether one was a replica-only synchronization is not
 *   recorded in the pool, and keeping it until retention loses nothing); in
 *   the catalog but gone from the pool → dropped;
 * - data sources a registered point names that the catalog does not know →
 *   added, in no protection group (unprotected), and said so;
 * - replicas whose state is unknown (points registered or dropped, the newest
 *   point changed) → inconsistent, so the automatic consistency check runs;
 * - jobs left running → failed as interrupted; queued recoveries → cancelled
 *   (a recovery asked before the loss is not replayed without being asked again);
 * - agents: from the issuance record, those the catalog lacks are registered,
 *   newer certificates replace older ones, revoked ones are revoked; enrollment
 *   tokens used since the backup are marked used.
 */
import { parseSourceId } from './source-id.js';
import { CustosError, errorMessage, isHex32, type Clock } from '../base/index.js';
import type { Catalog } from '../catalog/index.js';
import { decodePoint, type RecoveryPointRecord } from '../format/index.js';
import type { Pool } from '../pool/index.js';
import { AlertService } from './alerts.js';
import type { IssuanceRecord } from './issued-certificates.js';

export interface ResyncPoint {
  readonly id: string;
  readonly source: string;
  readonly time: string;
}

export interface ResyncReport {
  readonly pointsRegistered: ResyncPoint[];
  readonly pointsDropped: ResyncPoint[];
  /** Data sources added (unprotected: in no group). */
  readonly sourcesAdded: string[];
  readonly replicasInconsistent: string[];
  readonly jobsInterrupted: number[];
  readonly recoveriesCancelled: number[];
  readonly agentsRegistered: string[];
  readonly agentsUpdated: string[];
  readonly agentsRevoked: string[];
  readonly enrollmentTokensUsed: number;
  /** Pool point objects that could not be read or are not server points (left alone). */
  readonly unreadablePoints: Array<{ name: string; error: string }>;
  /** Lines of the issuance record that were skipped. */
  readonly issuanceProblems: readonly string[];
}

export interface ResyncDeps {
  readonly catalog: Catalog;
  readonly pool: Pool;
  readonly issued: IssuanceRecord;
  readonly clock: Clock;
}

const AGENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function changedSomething(r: ResyncReport): boolean {
  return r.pointsRegistered.length + r.pointsDropped.length + r.sourcesAdded.length + r.replicasInconsistent.length + r.jobsInterrupted.length +
    r.recoveriesCancelled.length + r.agentsRegistered.length + r.agentsUpdated.length + r.agentsRevoked.length + r.enrollmentTokensUsed > 0;
}

export async function resyncCatalog(d: ResyncDeps): Promise<ResyncReport> {
  const { points, unreadable } = await readPoolPoints(d.pool);
  const newestBefore = await newestPoints(d.catalog);
  const registered = await registerPoints(d.catalog, points);
  const dropped = await dropVanishedPoints(d.catalog, new Set(points.keys()));
  const replicasInconsistent = await markUnknownReplicas(d, newestBefore, new Set([...registered.points, ...dropped].map((p) => p.source)));
  const jobs = await settleJobs(d);
  const agents = await reconcileAgents(d);
  return {
    pointsRegistered: registered.points,
    pointsDropped: dropped,
    sourcesAdded: registered.sourcesAdded,
    replicasInconsistent,
    ...jobs,
    ...agents,
    unreadablePoints: unreadable,
    issuanceProblems: d.issued.problems,
  };
}

/** Every readable point object of the pool by id; the rest reported (one bad object never stops the rest). */
async function readPoolPoints(pool: Pool): Promise<{ points: Map<string, RecoveryPointRecord>; unreadable: Array<{ name: string; error: string }> }> {
  const points = new Map<string, RecoveryPointRecord>();
  const unreadable: Array<{ name: string; error: string }> = [];
  for (const info of await pool.store.list('points')) {
    const id = info.name.slice('points/'.length);
    try {
      const p = decodePoint(pool.codec, await pool.store.get(info.name), info.name);
      if (p.id !== id || !isHex32(id)) throw new CustosError('integrity', `the object names point ${p.id}`);
      if (!AGENT_NAME.test(p.source.host) || !isSourceLocator(p) || Number.isNaN(Date.parse(p.time))) {
        throw new CustosError('format', 'not a point of a server data source (host is no agent name, or the path is not its kind\'s: absolute for files, a port for postgres)');
      }
      points.set(id, p);
    } catch (err) {
      unreadable.push({ name: info.name, error: errorMessage(err) });
    }
  }
  return { points, unreadable };
}

async function newestPoints(c: Catalog): Promise<Map<string, string | undefined>> {
  const m = new Map<string, string | undefined>();
  for (const s of await c.listSources()) m.set(s.id, (await c.newestPoint(s.id))?.id);
  return m;
}

/** Whether the point's path is its kind's canonical locator (an absolute path for files, a port for postgres). */
function isSourceLocator(p: RecoveryPointRecord): boolean {
  try {
    return parseSourceId(sourceIdOf(p)).path === p.source.path;
  } catch {
    return false;
  }
}

/** The data source a point object belongs to: its kind is the app metadata's, else fs. */
function sourceIdOf(p: RecoveryPointRecord): string {
  return `${p.source.host}:${kindOf(p)}:${p.source.path}`;
}

function kindOf(p: RecoveryPointRecord): 'fs' | 'postgres' {
  return p.app?.kind ?? 'fs';
}

async function registerPoints(c: Catalog, points: ReadonlyMap<string, RecoveryPointRecord>): Promise<{ points: ResyncPoint[]; sourcesAdded: string[] }> {
  const out: ResyncPoint[] = [];
  const sourcesAdded: string[] = [];
  for (const p of [...points.values()].sort((a, b) => (a.time < b.time ? -1 : 1))) {
    if (await c.point(p.id)) continue;
    const source = sourceIdOf(p);
    if (!(await c.source(source))) {
      await c.insertSource({
        id: source, agent: p.source.host, kind: kindOf(p), path: p.source.path, group_name: null, replica_state: 'inconsistent',
        allocation_bytes: 0, used_bytes: 0, created_at: p.time, last_sync_started_at: null, last_sync_ok_at: null,
        last_point_slot: null, last_check_slot: null, added_to_group_at: null,
      });
      sourcesAdded.push(source);
    }
    const s = p.summary;
    const num = (n: unknown) => (Number.isSafeInteger(n) && (n as number) >= 0 ? (n as number) : 0);
    await c.insertPoint({
      id: p.id, source_id: source, time: p.time, recovery_point: 1, partial: p.partial === true ? 1 : 0,
      files: num(s?.filesNew) + num(s?.filesChanged) + num(s?.filesUnchanged), logical_bytes: num(s?.logicalBytes), bytes_added: num(s?.bytesAdded), job_id: null,
      app: p.app ? JSON.stringify(p.app) : null,
    });
    out.push({ id: p.id, source, time: p.time });
  }
  return { points: out, sourcesAdded };
}

async function dropVanishedPoints(c: Catalog, inPool: ReadonlySet<string>): Promise<ResyncPoint[]> {
  const out: ResyncPoint[] = [];
  for (const s of await c.listSources()) {
    for (const p of await c.listPoints(s.id)) {
      if (inPool.has(p.id)) continue;
      out.push({ id: p.id, source: s.id, time: p.time });
    }
  }
  await c.deletePoints(out.map((p) => p.id));
  return out;
}

/** Replicas whose points changed: inconsistent (with an alert), so the automatic consistency check runs; allocations recomputed. */
async function markUnknownReplicas(d: ResyncDeps, newestBefore: ReadonlyMap<string, string | undefined>, touched: ReadonlySet<string>): Promise<string[]> {
  const c = d.catalog;
  const alerts = new AlertService(c, () => new Set(), () => undefined);
  const now = d.clock.now();
  const out: string[] = [];
  for (const s of await c.listSources()) {
    const newest = (await c.newestPoint(s.id))?.id;
    if (!touched.has(s.id) && newest === newestBefore.get(s.id)) continue;
    await alerts.pointCommitted(s.id, now);
    if (s.replica_state === 'inconsistent' && !newestBefore.has(s.id)) {
      out.push(s.id); // added just now
      continue;
    }
    if (s.replica_state === 'none' && newest === undefined) continue;
    await alerts.markInconsistent(s.id, 'the catalog was restored from a backup and resynchronized with the pool', now);
    out.push(s.id);
  }
  return out;
}

async function settleJobs(d: ResyncDeps): Promise<{ jobsInterrupted: number[]; recoveriesCancelled: number[] }> {
  const c = d.catalog;
  const now = d.clock.now().toISOString();
  const jobsInterrupted: number[] = [];
  for (const j of await c.listJobs({ state: 'running', limit: 1_000_000 })) {
    await c.updateJob(j.id, { state: 'failed', finished_at: now, error: 'interrupted: the catalog was restored from a backup taken while this job ran' }, ['running']);
    await c.appendJobLog(j.id, now, 'error', 'interrupted: the catalog was restored from a backup taken while this job ran');
    jobsInterrupted.push(j.id);
  }
  const recoveriesCancelled: number[] = [];
  for (const j of await c.listJobs({ state: 'queued', kind: 'recovery', limit: 1_000_000 })) {
    await c.updateJob(j.id, { state: 'cancelled', finished_at: now }, ['queued']);
    await c.appendJobLog(j.id, now, 'warning', 'cancelled: the catalog was restored from a backup; a recovery asked before is not run again (ask again if it is still needed)');
    recoveriesCancelled.push(j.id);
  }
  return { jobsInterrupted: jobsInterrupted.sort((a, b) => a - b), recoveriesCancelled: recoveriesCancelled.sort((a, b) => a - b) };
}

async function reconcileAgents(d: ResyncDeps): Promise<{ agentsRegistered: string[]; agentsUpdated: string[]; agentsRevoked: string[]; enrollmentTokensUsed: number }> {
  const c = d.catalog;
  const agentsRegistered: string[] = [];
  const agentsUpdated: string[] = [];
  const agentsRevoked: string[] = [];
  for (const [name, a] of [...d.issued.agents].sort(([x], [y]) => (x < y ? -1 : 1))) {
    const row = await c.agent(name);
    const fields = { cert_serial: a.serial, cert_fingerprint: a.fingerprint, hostname: a.hostname, attached_at: a.time, revoked_at: a.revokedAt };
    if (!row) {
      await c.insertAgent({ name, ...fields, last_seen: null, version: null });
      (a.revokedAt ? agentsRevoked : agentsRegistered).push(name);
    } else if (row.cert_serial !== a.serial) {
      // Newer in the record when issued after the catalog's certificate (the record is append-only).
      if (a.time >= row.attached_at) {
        await c.updateAgent(name, fields);
        (a.revokedAt ? agentsRevoked : agentsUpdated).push(name);
      }
    } else if (a.revokedAt && !row.revoked_at) {
      await c.updateAgent(name, { revoked_at: a.revokedAt });
      agentsRevoked.push(name);
    }
  }
  let enrollmentTokensUsed = 0;
  for (const hash of d.issued.usedEnrollments) {
    if (await c.markEnrollmentTokenUsed(hash, d.clock.now().toISOString())) enrollmentTokensUsed++;
  }
  return { agentsRegistered, agentsUpdated, agentsRevoked, enrollmentTokensUsed };
}
