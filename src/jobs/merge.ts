/**
 * Merging requests: asking for a synchronization, a recovery point or a
 * consistency check of a data source while the same job for it is already
 * queued adds nothing — the queued job answers both. (Twenty "create a
 * recovery point now" would otherwise make twenty identical points and push
 * real history out at the next prune.) While one runs, one more may be queued,
 * for changes made after the running one read them; further requests merge
 * into that queued one.
 */
import { writesReplica, type JobKind } from './kinds.js';

export interface MergeCandidate {
  readonly id: number;
  readonly kind: string;
  readonly source: string | null;
  readonly state: string;
}

/** Kinds whose requests merge: those that write the data source's replica (their outcome is the same whoever asked). */
export function requestsMerge(kind: JobKind): boolean {
  return writesReplica(kind);
}

/** The queued job a request for `kind` on `source` merges into (the oldest), or null when a new job is to be queued. */
export function mergeInto(kind: JobKind, source: string | null, jobs: readonly MergeCandidate[]): number | null {
  if (source === null || !requestsMerge(kind)) return null;
  let oldest: number | null = null;
  for (const j of jobs) {
    if (j.state !== 'queued' || j.kind !== kind || j.source !== source) continue;
    if (oldest === null || j.id < oldest) oldest = j.id;
  }
  return oldest;
}
