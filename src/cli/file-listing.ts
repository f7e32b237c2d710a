/**
 * How `custos browse`, `search` and `versions` show items: `ls -l`-style
 * modes, owners, sizes and local times, and the cursor for the next page of
 * a big directory.
 */
import type { FileItem } from '../protocol/rest/index.js';
import { formatBytes } from './progress.js';
import { shortTime } from './server-cli.js';

const TYPE_LETTER: Record<FileItem['type'], string> = { file: '-', dir: 'd', symlink: 'l', hardlink: '-', fifo: 'p', char: 'c', block: 'b', socket: 's' };

/** "drwxr-xr-x", with s/S, t/T for setuid, setgid and sticky, as ls shows them. */
export function modeText(type: FileItem['type'], mode: number): string {
  const bit = (mask: number, c: string) => (mode & mask ? c : '-');
  const special = (exec: boolean, on: boolean, lower: string) => (on ? (exec ? lower : lower.toUpperCase()) : exec ? 'x' : '-');
  return (
    TYPE_LETTER[type] +
    bit(0o400, 'r') + bit(0o200, 'w') + special((mode & 0o100) !== 0, (mode & 0o4000) !== 0, 's') +
    bit(0o040, 'r') + bit(0o020, 'w') + special((mode & 0o010) !== 0, (mode & 0o2000) !== 0, 's') +
    bit(0o004, 'r') + bit(0o002, 'w') + special((mode & 0o001) !== 0, (mode & 0o1000) !== 0, 't')
  );
}

/** One row of `custos browse`: MODE OWNER GROUP SIZE MODIFIED NAME. */
export function itemRow(it: FileItem): string[] {
  const name = it.type === 'dir' ? `${it.name}/` : it.type === 'symlink' && it.target !== undefined ? `${it.name} -> ${it.target}` : it.type === 'hardlink' && it.target !== undefined ? `${it.name} (hard link to ${it.target})` : it.name;
  return [
    modeText(it.type, it.mode),
    it.user ?? String(it.uid),
    it.group ?? String(it.gid),
    it.type === 'dir' ? '-' : formatBytes(it.size),
    shortTime(it.mtime),
    it.error ? `${name}  (not read at backup: ${it.error})` : name,
  ];
}

/** The API's page cursor (base64 of the last name's bytes) from a name given on the command line, and back. */
export function cursorOfName(name: string): string {
  return Buffer.from(name, 'utf8').toString('base64');
}

export function nameOfCursor(cursor: string): string {
  return Buffer.from(cursor, 'base64').toString('utf8');
}
