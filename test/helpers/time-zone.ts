/**
 * Runs the calling test file in a time zone (the local time of `Date`).
 * node --test runs each file in a process of its own, so setting TZ for the
 * file's tests touches no other file; the zone is restored afterwards.
 */
import { after, before } from 'node:test';

export function useTimeZone(zone: string): void {
  let saved: string | undefined;
  before(() => {
    saved = process.env.TZ;
    process.env.TZ = zone;
  });
  after(() => {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  });
}
