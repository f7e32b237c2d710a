/**
 * A recovery point named on the command line or in a request: its whole id
 * (32 hex digits) or a prefix of at least 4, the same in standalone and
 * server mode. A prefix is resolved among the points the caller may choose
 * from (a pool's, or one data source's); one that begins several ids is an
 * error that lists them, never a guess.
 */
import { CustosError } from './errors.js';

/** 4 to 32 hex digits (either case). */
const POINT_REF = /^[0-9a-fA-F]{4,32}$/;
/** Candidates listed in an "ambiguous" error, at most. */
const MAX_LISTED = 10;

/** Usage error unless `ref` can name a recovery point (4 to 32 hex digits); returns it in lower case. */
export function checkPointRef(ref: string): string {
  if (!POINT_REF.test(ref)) {
    throw new CustosError('usage', `"${ref}" is not a recovery point id: give the whole id or its first 4 or more hex digits`);
  }
  return ref.toLowerCase();
}

/**
 * The one point whose id begins with `ref`. `where` names the set searched
 * ("laptop:fs:/home", "this pool") in the errors: not-found when none does,
 * usage (listing the candidates, with their times when known) when several do.
 */
export function pointByRef<P extends { readonly id: string; readonly time?: string }>(points: readonly P[], ref: string, where: string): P {
  const prefix = checkPointRef(ref);
  const matches = points.filter((p) => p.id.startsWith(prefix));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new CustosError('not-found', `no recovery point ${ref} of ${where}`);
  const listed = matches.slice(0, MAX_LISTED).map((p) => (p.time ? `${p.id} (${p.time})` : p.id));
  const more = matches.length > MAX_LISTED ? `, and ${matches.length - MAX_LISTED} more` : '';
  throw new CustosError('usage', `recovery point ${ref} is ambiguous: ${matches.length} points of ${where} begin with it: ${listed.join(', ')}${more}; give more digits`);
}
