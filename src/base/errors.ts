/**
 * Errors with stable codes. Every error Custos raises on purpose is a
 * CustosError; the CLI maps `code` to an exit status in one place
 * (src/cli/exit-codes.ts) and later the server maps it to HTTP status.
 */

export type ErrorCode =
  | 'usage'          // bad arguments
  | 'not-found'      // a pool, point, item or file that does not exist
  | 'bad-key'        // wrong or missing key for an encrypted pool
  | 'locked'         // the pool is locked by a conflicting operation
  | 'integrity'      // hash or MAC mismatch, truncated or malformed data
  | 'unsafe-path'    // a manifest path that would leave the restore target
  | 'exists'         // refusing to overwrite something
  | 'format'         // unsupported format version or corrupt structure
  | 'io'             // operating-system error worth retrying later
  | 'partial'        // the operation finished, but some items failed
  | 'denied'         // the server refused the token, or its role does not allow the call
  | 'job-failed'     // a job the command waited for ended in failure
  | 'unreachable'    // the server cannot be reached or its certificate cannot be verified
  | 'cancelled'      // a job the command waited for was cancelled
  | 'bad-target'     // a recovery target that is not a directory, or lies below something that is not
  | 'internal';

export class CustosError extends Error {
  readonly code: ErrorCode;
  /** Transient errors may succeed when retried; permanent ones will not. */
  readonly transient: boolean;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; transient?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.transient = options?.transient ?? false;
  }
}

/** An error whose message is written for people and shown as-is. */
export class UserError extends CustosError {}

/** Stored data does not match its hash or authentication tag. */
export class IntegrityError extends CustosError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('integrity', message, options);
  }
}

/** Another operation holds a conflicting lock on the pool. */
export class LockedError extends CustosError {
  constructor(message: string) {
    super('locked', message, { transient: true });
  }
}

/** A manifest entry would make a restore write outside its target. */
export class UnsafePathError extends CustosError {
  constructor(message: string) {
    super('unsafe-path', message);
  }
}

export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
