/** The one place that maps error codes to process exit statuses (documented in the user guide). */
import type { ErrorCode } from '../base/index.js';

export const EXIT = {
  ok: 0,
  internal: 1,
  usage: 2,
  partial: 3,
  'not-found': 4,
  'bad-key': 5,
  locked: 6,
  integrity: 7,
  'unsafe-path': 8,
  exists: 9,
  format: 10,
  io: 11,
} as const satisfies Record<ErrorCode | 'ok', number>;

export function exitCodeFor(code: ErrorCode): number {
  return EXIT[code];
}
