/**
 * Operating-system errors that reach the CLI (a pool, source or target the
 * user may not read or write, a full disk) are the user's to fix, not bugs:
 * each becomes one line naming the file and what to do, and a distinct exit
 * status, instead of "internal error".
 */
import { CustosError, type ErrorCode } from '../base/index.js';

interface SystemError {
  readonly code: string;
  readonly syscall?: string;
  readonly path?: string;
  readonly dest?: string;
}

function isSystemError(err: unknown): err is SystemError {
  if (typeof err !== 'object' || err === null) return false;
  const { code, syscall } = err as { code?: unknown; syscall?: unknown };
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) && typeof syscall === 'string';
}

const RULES: Readonly<Record<string, { code: ErrorCode; what: string; hint: string }>> = {
  EACCES: { code: 'denied', what: 'permission denied', hint: 'run as a user who may, or fix the owner and mode' },
  EPERM: { code: 'denied', what: 'operation not permitted', hint: 'run as a user who may, or fix the owner and mode' },
  EROFS: { code: 'io', what: 'read-only file system', hint: 'use a writable location' },
  ENOSPC: { code: 'io', what: 'no space left on the device', hint: 'free space, then run the command again' },
  EDQUOT: { code: 'io', what: 'disk quota exceeded', hint: 'free space, then run the command again' },
  EIO: { code: 'io', what: 'input/output error', hint: 'check the disk and its system log' },
  EMFILE: { code: 'io', what: 'too many open files', hint: 'raise the limit (ulimit -n)' },
  ENOENT: { code: 'not-found', what: 'no such file or directory', hint: 'check the path' },
  ENOTDIR: { code: 'usage', what: 'not a directory', hint: 'a directory is expected here' },
  EISDIR: { code: 'usage', what: 'is a directory', hint: 'a file is expected here' },
  EEXIST: { code: 'exists', what: 'already exists', hint: 'choose another path' },
};

/** The CustosError a system error means for a user, or null when it is not one. */
export function userErrorForSystemError(err: unknown): CustosError | null {
  if (!isSystemError(err)) return null;
  const rule = RULES[err.code] ?? { code: 'io' as const, what: err.code, hint: 'check the file system' };
  const where = err.path === undefined ? '' : ` ${err.path}`;
  return new CustosError(rule.code, `${rule.what}: cannot ${err.syscall}${where} (${rule.hint})`, { cause: err });
}
