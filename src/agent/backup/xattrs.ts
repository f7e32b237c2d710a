/**
 * Extended attributes (POSIX ACLs included) through @napi-rs/xattr, which
 * takes string paths: names that are not UTF-8 go through /proc/self/fd.
 */
import { closeSync, constants, openSync } from 'node:fs';
import { getAttributeSync, listAttributesSync, setAttributeSync } from '@napi-rs/xattr';

function isUtf8Roundtrip(path: Uint8Array): string | null {
  const s = Buffer.from(path).toString('utf8');
  return Buffer.from(s, 'utf8').equals(path) ? s : null;
}

export function readXattrsFd(fd: number): Array<readonly [string, Buffer]> {
  return readXattrsAt(`/proc/self/fd/${fd}`);
}

function readXattrsAt(p: string): Array<readonly [string, Buffer]> {
  let names: string[];
  try {
    names = listAttributesSync(p);
  } catch {
    return []; // filesystem without xattrs, or not permitted: nothing to keep
  }
  const out: Array<readonly [string, Buffer]> = [];
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

/** Reads the xattrs of a file or directory (never follows a final symlink: callers skip symlinks). */
export function readXattrs(path: Uint8Array): Array<readonly [string, Buffer]> {
  const s = isUtf8Roundtrip(path);
  if (s !== null) return readXattrsAt(s);
  let fd: number;
  try {
    fd = openSync(Buffer.from(path), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return [];
  }
  try {
    return readXattrsFd(fd);
  } finally {
    closeSync(fd);
  }
}

/** Sets xattrs on an open file; returns the names that could not be set. */
export function writeXattrsFd(fd: number, xattrs: ReadonlyArray<readonly [string, Uint8Array]>): string[] {
  const failed: string[] = [];
  for (const [name, value] of xattrs) {
    try {
      setAttributeSync(`/proc/self/fd/${fd}`, name, value);
    } catch {
      failed.push(name);
    }
  }
  return failed;
}
