/**
 * End-user recovery: may this local user read this item of a recovery
 * point? The server answers with these rules only (docs/design/security.md,
 * "End-user recovery"); the agent merely says who is asking, from the
 * kernel's credentials of the connecting process.
 *
 * The question is asked of the item as the backup captured it, never of the
 * computer as it is now: the owner, group and mode bits, the POSIX access
 * ACL (system.posix_acl_access, its binary value parsed here) and search
 * permission on every directory from the protected root down to the item's
 * parent. The rules are the kernel's (Linux posix_acl_permission and
 * generic_permission) with one difference on purpose: uid 0 gets no bypass.
 * Root recovers through the administrator's CLI; through the user socket it
 * sees what the bits grant it, like everyone else.
 *
 * Anything that cannot be read with certainty (an ACL of an unknown
 * version, a truncated entry, named entries without a mask) denies.
 */
import { CustosError } from '../base/index.js';

/** Who is asking: from the kernel, with every group the process holds (its primary gid included). */
export interface LocalCaller {
  readonly uid: number;
  readonly gid: number;
  readonly groups: readonly number[];
}

/** What the backup captured of an item that the rule looks at. */
export interface CapturedPermissions {
  /** mode & 0o7777 */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** The value of system.posix_acl_access, when the item had one. */
  readonly acl: Uint8Array | null;
}

export const ACL_READ = 4;
export const ACL_WRITE = 2;
export const ACL_EXECUTE = 1;

export type AclTag = 'user-obj' | 'user' | 'group-obj' | 'group' | 'mask' | 'other';

export interface AclEntry {
  readonly tag: AclTag;
  /** rwx as 4/2/1. */
  readonly perm: number;
  /** uid or gid for 'user' and 'group' entries; null for the others. */
  readonly id: number | null;
}

/** linux/posix_acl_xattr.h */
const ACL_XATTR_VERSION = 2;
const TAGS: ReadonlyMap<number, AclTag> = new Map([
  [0x01, 'user-obj'],
  [0x02, 'user'],
  [0x04, 'group-obj'],
  [0x08, 'group'],
  [0x10, 'mask'],
  [0x20, 'other'],
]);
const HEADER_BYTES = 4;
const ENTRY_BYTES = 8;
/** The kernel's limit (ext4 and XFS allow far fewer). */
const MAX_ACL_ENTRIES = 8191;

function refuse(why: string): never {
  throw new CustosError('format', `POSIX ACL: ${why}`);
}

/**
 * Parses the binary value of system.posix_acl_access: a little-endian u32
 * version (2), then 8-byte entries of u16 tag, u16 permissions, u32 id.
 * Throws `format` on anything but a well-formed ACL: exactly one user-obj,
 * group-obj and other entry, a mask when there are named entries, no
 * duplicate named ids, permissions within rwx.
 */
export function parsePosixAcl(value: Uint8Array): AclEntry[] {
  if (value.length < HEADER_BYTES) refuse('shorter than its header');
  if ((value.length - HEADER_BYTES) % ENTRY_BYTES !== 0) refuse('ends in the middle of an entry');
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const version = view.getUint32(0, true);
  if (version !== ACL_XATTR_VERSION) refuse(`version ${version} is not ${ACL_XATTR_VERSION}`);
  const count = (value.length - HEADER_BYTES) / ENTRY_BYTES;
  if (count > MAX_ACL_ENTRIES) refuse(`more than ${MAX_ACL_ENTRIES} entries`);
  const entries: AclEntry[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const at = HEADER_BYTES + i * ENTRY_BYTES;
    const tagCode = view.getUint16(at, true);
    const perm = view.getUint16(at + 2, true);
    const rawId = view.getUint32(at + 4, true);
    const tag = TAGS.get(tagCode);
    if (tag === undefined) refuse(`entry ${i} has the unknown tag 0x${tagCode.toString(16)}`);
    if (perm > 7) refuse(`entry ${i} has permissions 0x${perm.toString(16)} beyond rwx`);
    const named = tag === 'user' || tag === 'group';
    const key = named ? `${tag}:${rawId}` : tag;
    if (seen.has(key)) refuse(`entry ${i} repeats ${named ? `${tag} ${rawId}` : tag}`);
    seen.add(key);
    entries.push({ tag, perm, id: named ? rawId : null });
  }
  for (const required of ['user-obj', 'group-obj', 'other'] as const) if (!seen.has(required)) refuse(`no ${required} entry`);
  if (entries.some((e) => e.id !== null) && !seen.has('mask')) refuse('named entries without a mask entry');
  return entries;
}

function inGroups(caller: LocalCaller, gid: number): boolean {
  return caller.gid === gid || caller.groups.includes(gid);
}

/** The mode bits alone (no ACL): owner, else group, else other — the first class that matches decides. */
function modeGrants(caller: LocalCaller, item: CapturedPermissions, want: number): boolean {
  const bits = caller.uid === item.uid ? (item.mode >> 6) & 7 : inGroups(caller, item.gid) ? (item.mode >> 3) & 7 : item.mode & 7;
  return (bits & want) === want;
}

/**
 * POSIX.1e access check. The mode bits stay authoritative for the owner,
 * the mask (group bits) and other, as chmod keeps them equal to the ACL's
 * entries: where a captured pair disagrees, the narrower one counts.
 */
function aclGrants(caller: LocalCaller, item: CapturedPermissions, acl: readonly AclEntry[], want: number): boolean {
  const ok = (perm: number) => (perm & want) === want;
  const entry = (tag: AclTag) => acl.find((e) => e.tag === tag);
  if (caller.uid === item.uid) return ok(entry('user-obj')!.perm & ((item.mode >> 6) & 7));
  const maskEntry = entry('mask');
  const mask = maskEntry ? maskEntry.perm & ((item.mode >> 3) & 7) : 7;
  const named = acl.find((e) => e.tag === 'user' && e.id === caller.uid);
  if (named) return ok(named.perm & mask);
  let matchedGroup = false;
  for (const e of acl) {
    const matches = (e.tag === 'group-obj' && inGroups(caller, item.gid)) || (e.tag === 'group' && e.id !== null && inGroups(caller, e.id));
    if (!matches) continue;
    matchedGroup = true;
    if (ok(e.perm & mask)) return true;
  }
  if (matchedGroup) return false;
  return ok(entry('other')!.perm & (item.mode & 7));
}

/** Whether `caller` had the permissions `want` (ACL_READ | ACL_WRITE | ACL_EXECUTE) on the item. A malformed ACL denies. */
export function grants(caller: LocalCaller, item: CapturedPermissions, want: number): boolean {
  if (item.acl === null || item.acl.length === 0) return modeGrants(caller, item, want);
  let acl: AclEntry[];
  try {
    acl = parsePosixAcl(item.acl);
  } catch {
    return false;
  }
  return aclGrants(caller, item, acl, want);
}

/** An item of a point and the directories above it, as the rule needs them. */
export interface CapturedPath {
  /** From the protected root (first) down to the item's parent (last); empty for the root itself. */
  readonly ancestors: readonly CapturedPermissions[];
  readonly item: CapturedPermissions;
  /** A directory is looked into (listed), a file read; anything else is only seen. */
  readonly kind: 'file' | 'dir' | 'other';
}

/**
 * Whether the caller could have read the item when the point was taken:
 * search (x) on every ancestor from the protected root, then read on a file,
 * read and search on a directory (to list it with its details), read on any
 * other item (a symlink's own bits are 0777: its parent directories decide).
 */
export function mayRead(caller: LocalCaller, path: CapturedPath): boolean {
  for (const dir of path.ancestors) if (!grants(caller, dir, ACL_EXECUTE)) return false;
  if (path.kind === 'dir') return grants(caller, path.item, ACL_READ | ACL_EXECUTE);
  return grants(caller, path.item, ACL_READ);
}
