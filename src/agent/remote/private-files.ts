/**
 * Data directories that hold secrets (the server's catalog, keys and tokens;
 * an agent's private key) are readable by their owner only: the directory
 * 0700, each secret file 0600, an existing directory included. Where that
 * cannot be done (not the owner, a file system without modes) the caller is
 * warned and goes on: refusing would stop protection for a setting.
 */
import { chmod, mkdir, stat } from 'node:fs/promises';
import { errorMessage, isErrno } from '../../base/index.js';

export type Warn = (message: string) => void;

/** Group and other lose every permission; the owner's are kept. */
async function restrictToOwner(path: string, warn: Warn): Promise<void> {
  let mode: number;
  try {
    mode = (await stat(path)).mode & 0o777;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    throw err;
  }
  if ((mode & 0o077) === 0) return;
  try {
    await chmod(path, mode & 0o700);
  } catch (err) {
    warn(`cannot make ${path} private (mode ${(mode & 0o700).toString(8).padStart(4, '0')} instead of ${mode.toString(8).padStart(4, '0')}): ${errorMessage(err)}; other users of this computer may read it`);
  }
}

/** Creates `dir` (0700) when missing, and takes group and other access away when it exists. */
export async function makePrivateDir(dir: string, warn: Warn): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await restrictToOwner(dir, warn);
}

/** Takes group and other access away from each of `files` that exists. */
export async function makePrivateFiles(files: readonly string[], warn: Warn): Promise<void> {
  for (const f of files) await restrictToOwner(f, warn);
}
