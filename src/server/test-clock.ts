/**
 * An injectable clock for end-to-end tests of real server processes:
 * CUSTOS_TEST_CLOCK="2026-03-02T07:59:00Z*60" starts the server's clock at
 * that instant and runs it 60 times faster than real time, so a 15-minute
 * synchronization comes every 15 s. Unset, the system clock is used.
 */
import { CustosError, systemClock, type Clock } from '../base/index.js';

export function scaledClockFromEnv(value: string | undefined): { clock: Clock; speed: number } {
  if (!value) return { clock: systemClock, speed: 1 };
  const m = /^(.+)\*(\d+(?:\.\d+)?)$/.exec(value);
  const start = new Date(m ? m[1]! : value);
  const speed = m ? Number(m[2]) : 1;
  if (Number.isNaN(start.getTime()) || !(speed > 0)) throw new CustosError('usage', `CUSTOS_TEST_CLOCK must look like 2026-03-02T07:59:00Z*60; got ${value}`);
  const realStart = Date.now();
  return { clock: { now: () => new Date(start.getTime() + (Date.now() - realStart) * speed) }, speed };
}
