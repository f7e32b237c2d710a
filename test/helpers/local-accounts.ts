/**
 * Real local accounts for tests of end-user recovery and My files (root
 * only): made with useradd (no home, no login shell) and removed with
 * userdel by removeLocalAccounts().
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface LocalAccount {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/** Whether this process may add accounts (root, with useradd). */
export const canAddAccounts = process.getuid?.() === 0 && existsSync('/usr/sbin/useradd');

const made: string[] = [];

export function addLocalAccount(name: string): LocalAccount {
  execFileSync('useradd', ['--no-create-home', '--user-group', '--shell', '/usr/sbin/nologin', name]);
  made.push(name);
  return { name, uid: Number(execFileSync('id', ['-u', name]).toString().trim()), gid: Number(execFileSync('id', ['-g', name]).toString().trim()) };
}

export function removeLocalAccounts(): void {
  for (const name of made.splice(0)) {
    try {
      execFileSync('userdel', [name]);
    } catch {
      // already gone
    }
  }
}
