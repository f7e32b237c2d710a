/**
 * Which queued jobs may start now: limits per agent and overall, one
 * replica-writing job per data source, agents must be connected, pool jobs
 * that conflict (kinds.ts) never side by side. Pure: the
 * server's job engine asks and then starts what it is given.
 */
import { conflicts, runsOnAgent, writesReplica, type JobKind } from './kinds.js';

export interface JobSlot {
  readonly id: number;
  readonly kind: JobKind;
  readonly source: string | null;
  readonly agent: string | null;
}

export interface DispatchLimits {
  /** Jobs running at once on one agent. */
  readonly perAgent: number;
  /** Jobs running at once on the server. */
  readonly overall: number;
}

export const DEFAULT_LIMITS: DispatchLimits = { perAgent: 2, overall: 16 };

/** `queued` oldest first (and due); returns the ones to start, in order. */
export function pickJobs(queued: readonly JobSlot[], running: readonly JobSlot[], connected: ReadonlySet<string>, limits: DispatchLimits): JobSlot[] {
  const perAgent = new Map<string, number>();
  const busySources = new Set<string>();
  let total = running.length;
  for (const j of running) {
    if (j.agent) perAgent.set(j.agent, (perAgent.get(j.agent) ?? 0) + 1);
    if (j.source && writesReplica(j.kind)) busySources.add(j.source);
  }
  const picked: JobSlot[] = [];
  for (const j of queued) {
    if (total >= limits.overall) break;
    if ([...running, ...picked].some((r) => conflicts(r.kind, j.kind))) continue;
    if (runsOnAgent(j)) {
      if (!j.agent || !connected.has(j.agent)) continue;
      if ((perAgent.get(j.agent) ?? 0) >= limits.perAgent) continue;
    }
    if (j.source && writesReplica(j.kind)) {
      if (busySources.has(j.source)) continue;
      busySources.add(j.source);
    }
    if (j.agent) perAgent.set(j.agent, (perAgent.get(j.agent) ?? 0) + 1);
    total++;
    picked.push(j);
  }
  return picked;
}
