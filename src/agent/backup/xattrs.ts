/**
 * Extended attributes (POSIX ACLs included). @napi-rs/xattr takes string
 * paths and never follows symlinks, so names that are not valid UTF-8 go
 * through getfattr/setfattr (Debian package `attr`) reading the file via an
 * inherited descriptor (/proc/self/fd/3). Callers never pass symlinks.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { getAttributeSync, listAttributesSync, setAttributeSync } from '@napi-rs/xattr';

export type Xattrs = Array<readonly [string, Buffer]>;

function utf8Path(path: Uint8Array): string | null {
  const s = Buffer.from(path).toString('utf8');
  return Buffer.from(s, 'utf8').equals(path) ? s : null;
}

function readAt(p: string): Xattrs {
  let names: string[];
  try {
    names = listAttributesSync(p);
  } catch {
    return []; // filesystem without xattrs, or not permitted: nothing to keep
  }
  const out: Xattrs = [];
  for (const name of names.sort()) {
    try {
      const v = getAttributeSync(p, name);
      if (v) out.push([name, Buffer.from(v)]);
    } catch {
      // vanished or not readable by us
    }
  }
  return out;
}

function withFd<T>(path: Uint8Array, fallback: T, fn: (fd: number) => T): T {
  let fd: number;
  try {
    fd = openSync(Buffer.from(path), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return fallback;
  }
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

/** getfattr's hex dump: `name=0x0102…` lines (an empty value is printed as `name=""` or bare `name`). */
export function parseGetfattr(text: string): Xattrs {
  const out: Xattrs = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) out.push([line, Buffer.alloc(0)]);
    else {
      const v = line.slice(eq + 1);
      out.push([line.slice(0, eq), v.startsWith('0x') ? Buffer.from(v.slice(2), 'hex') : Buffer.alloc(0)]);
    }
  }
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** Reads the xattrs of a file or directory. */
export function readXattrs(path: Uint8Array): Xattrs {
  const s = utf8Path(path);
  if (s !== null) return readAt(s);
  return withFd(path, [], (fd) => {
    const r = spawnSync('getfattr', ['--absolute-names', '-d', '-m', '-', '-e', 'hex', '/proc/self/fd/3'], {
      stdio: ['ignore', 'pipe', 'ignore', fd],
      encoding: 'utf8',
    });
    return r.status === 0 ? parseGetfattr(r.stdout) : [];
  });
}

/** Sets xattrs on a file or directory; returns the names that could not be set. */
export function writeXattrs(path: Uint8Array, xattrs: ReadonlyArray<readonly [string, Uint8Array]>): string[] {
  if (xattrs.length === 0) return [];
  const s = utf8Path(path);
  const failed: string[] = [];
  if (s !== null) {
    for (const [name, value] of xattrs) {
      try {
        setAttributeSync(s, name, value);
      } catch {
        failed.push(name);
      }
    }
    return failed;
  }
  return withFd(path, xattrs.map(([n]) => n), (fd) => {
    for (const [name, value] of xattrs) {
      const r = spawnSync('setfattr', ['-n', name, '-v', `0x${Buffer.from(value).toString('hex')}`, '/proc/self/fd/3'], {
        stdio: ['ignore', 'ignore', 'ignore', fd],
      });
      if (r.status !== 0) failed.push(name);
    }
    return failed;
  });
}
