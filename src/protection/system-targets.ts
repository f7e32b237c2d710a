/**
 * Which recovery targets are system locations: recovering onto one can
 * replace what the computer runs, logs in with or boots from, so it needs an
 * explicit allowSystemTarget (which the server grants only to admins). Pure:
 * the path is taken as written (normalized lexically); the agent calls this
 * again with the target as resolved on its disk, so a link to a system
 * directory does not get around it.
 *
 * - `/` itself, and the directories that only hold other people's or other
 *   mounts' data (`/home`, `/mnt`, `/media`, `/opt`, `/srv`): the directory
 *   itself is a system target, a directory inside it is not
 *   (`/home/alice/restore` is fine, `/home` is not).
 * - System trees: the directory and everything inside it (`/etc`,
 *   `/etc/ssh`, `/usr/local/bin`, `/root/.ssh` …).
 * - Scratch space inside them that anyone may use is not a system target:
 *   `/dev/shm`, `/var/tmp` and what is inside them.
 */

/** Directories that are system targets only as themselves. */
export const SYSTEM_DIRECTORIES_ONLY: readonly string[] = ['/', '/home', '/mnt', '/media', '/opt', '/srv'];

/** Directories that are system targets with everything inside them. */
export const SYSTEM_TREES: readonly string[] = [
  '/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/libx32', '/proc', '/root', '/run', '/sbin', '/sys', '/usr', '/var',
];

/** Scratch trees inside system trees (world-writable, like /tmp). */
export const SCRATCH_TREES: readonly string[] = ['/dev/shm', '/var/tmp'];

/**
 * `path` with '.' and '..' resolved, repeated and trailing slashes removed;
 * null when it is not absolute.
 */
export function normalizeAbsolute(path: string): string | null {
  if (!path.startsWith('/')) return null;
  const parts: string[] = [];
  for (const p of path.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') parts.pop();
    else parts.push(p);
  }
  return '/' + parts.join('/');
}

const within = (path: string, dir: string): boolean => path === dir || path.startsWith(dir + '/');

/** True when recovering onto `path` needs allowSystemTarget (a relative path counts: it is refused anyway). */
export function isSystemTarget(path: string): boolean {
  const p = normalizeAbsolute(path);
  if (p === null) return true;
  if (SYSTEM_DIRECTORIES_ONLY.includes(p)) return true;
  if (SCRATCH_TREES.some((d) => within(p, d))) return false;
  return SYSTEM_TREES.some((d) => within(p, d));
}
