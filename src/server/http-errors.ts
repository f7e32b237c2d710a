/** The one place that maps error codes to HTTP statuses and the error body. */
import { CustosError, errorMessage, type ErrorCode } from '../base/index.js';

const STATUS: Record<ErrorCode, number> = {
  usage: 400,
  'not-found': 404,
  'bad-key': 500,
  locked: 409,
  integrity: 500,
  'unsafe-path': 400,
  exists: 409,
  format: 500,
  io: 503,
  partial: 500,
  internal: 500,
  denied: 403,
  'job-failed': 500,
  unreachable: 503,
  cancelled: 409,
  'bad-target': 400,
};

export function httpStatusFor(code: ErrorCode): number {
  return STATUS[code];
}

/**
 * A refusal whose status is not the one of its code: 401 for a failed
 * sign-in (the caller has no credential yet), 429 while a user name is
 * locked out.
 */
export class Refusal extends CustosError {
  constructor(readonly status: 401 | 429, message: string) {
    super('denied', message);
  }
}

export function errorBody(err: unknown): { status: number; body: { error: { code: string; message: string } } } {
  if (err instanceof Refusal) return { status: err.status, body: { error: { code: err.code, message: err.message } } };
  if (err instanceof CustosError) return { status: httpStatusFor(err.code), body: { error: { code: err.code, message: err.message } } };
  const e = err as { statusCode?: number; validation?: unknown; message?: string; code?: string };
  if (e?.validation || (e?.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500)) {
    return { status: e.statusCode ?? 400, body: { error: { code: 'usage', message: e.message ?? 'bad request' } } };
  }
  return { status: 500, body: { error: { code: 'internal', message: errorMessage(err) } } };
}

/** An error a route raises for a missing object. */
export function notFound(what: string): CustosError {
  return new CustosError('not-found', `${what} does not exist`);
}

export function badRequest(message: string): CustosError {
  return new CustosError('usage', message);
}

export function conflict(message: string): CustosError {
  return new CustosError('exists', message);
}
