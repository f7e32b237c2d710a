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
  denied: 12,
  'job-failed': 13,
  unreachable: 14,
  cancelled: 15,
  'bad-target': 16,
} as const satisfies Record<ErrorCode | 'ok', number>;

export function exitCodeFor(code: ErrorCode): number {
  return EXIT[code];
}

/** Whether a string (say, an error code sent by the server) is one of ours. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && code !== 'ok' && Object.prototype.hasOwnProperty.call(EXIT, code);
}
