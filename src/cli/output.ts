/** Printing helpers shared by the commands. */
import { EXIT } from './exit-codes.js';

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function print(line = ''): void {
  process.stdout.write(line + '\n');
}

/** Collects a repeatable option into an array. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * A reader that stops reading (`custos job list | head -1`) is not an error:
 * when stdout's pipe is closed the process ends at once, quietly, with status
 * 0, as if it had been killed by SIGPIPE (which Node ignores). Output to a
 * closed stderr is dropped. Any other write error ends the process with one
 * line on stderr and status 11 (I/O).
 */
export function endQuietlyOnBrokenPipe(exit: (code: number) => never = (code) => process.exit(code)): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') exit(EXIT.ok);
    try {
      process.stderr.write(`custos: cannot write the output: ${err.message}\n`);
    } finally {
      exit(EXIT.io);
    }
  });
  process.stderr.on('error', () => undefined);
}

/** `--retry-lock DURATION`, for every standalone command that takes a pool lock. */
export const RETRY_LOCK_FLAGS = '--retry-lock <duration>';
export const RETRY_LOCK_HELP = 'when the pool is locked by another operation, keep trying this long (e.g. 30s, 5m, 1h) instead of failing at once';

/** The line printed once when a command starts waiting for a pool lock. */
export function lockWaitNotice(retryLock: string | undefined): (reason: string) => void {
  return (reason) => process.stderr.write(`custos: waiting up to ${retryLock} for the lock: ${reason}\n`);
}
