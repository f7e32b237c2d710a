/**
 * A streaming writer of POSIX pax tar archives (IEEE 1003.1-2001 "pax"
 * interchange format): each entry is a 512-byte ustar header, preceded by a
 * pax extended header when the ustar fields cannot hold something exactly —
 * a name or link target over 100 bytes, a sub-second mtime, an owner name
 * over 32 bytes, a size, id or time out of the octal fields' range, extended
 * attributes (SCHILY.xattr.NAME, as GNU tar and star write and read them;
 * POSIX ACLs travel as their system.posix_acl_* attributes). Names are raw
 * bytes: a name that is not UTF-8 goes into the header as it is (with
 * hdrcharset=BINARY when it needs a pax record). Hard links are link entries
 * to the path of the first item. Nothing is kept per entry, so an archive of
 * any number of items is written in constant memory.
 */
import { archiveName, exactly, type ArchiveEntry, type ArchiveEntryType, type ArchiveWriter } from './archive-entry.js';

export const TAR_BLOCK = 512;

const TYPEFLAG: Record<ArchiveEntryType, number> = {
  file: 0x30,
  hardlink: 0x31,
  symlink: 0x32,
  char: 0x33,
  block: 0x34,
  dir: 0x35,
  fifo: 0x36,
};
const PAX_TYPEFLAG = 0x78; // 'x': extended header for the next entry

/** Largest values of the octal fields: 7 digits (mode, ids), 11 digits (size, mtime). */
const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

export class TarWriter implements ArchiveWriter {
  readonly unsupported: ReadonlySet<ArchiveEntryType> = new Set();

  async *entry(e: ArchiveEntry, content?: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    yield tarHeader(e);
    if (e.type !== 'file') return;
    yield* exactly(content, e.size, JSON.stringify(e.path.toString('utf8')));
    const pad = tarPadding(e.size);
    if (pad.length > 0) yield pad;
  }

  *finish(): Generator<Buffer> {
    yield Buffer.alloc(2 * TAR_BLOCK);
  }

  close(): void {}
}

/** Zero bytes that fill the last block of `size` content bytes. */
export function tarPadding(size: number): Buffer {
  const rest = size % TAR_BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : TAR_BLOCK - rest);
}

/** The header block(s) of an entry: a pax extended header when one is needed, then the ustar header. */
export function tarHeader(e: ArchiveEntry): Buffer {
  const name = archiveName(e);
  const records: Array<[string, Buffer]> = [];
  const pax = (key: string, value: Buffer | string) => records.push([key, Buffer.from(value)]);

  if (name.length > 100) pax('path', name);
  const link = e.type === 'symlink' || e.type === 'hardlink' ? (e.target ?? Buffer.alloc(0)) : Buffer.alloc(0);
  if (link.length > 100) pax('linkpath', link);
  if ((name.length > 100 && !isUtf8(name)) || (link.length > 100 && !isUtf8(link))) records.unshift(['hdrcharset', Buffer.from('BINARY')]);

  const size = e.type === 'file' ? e.size : 0;
  if (size > MAX_OCTAL_11) pax('size', String(size));
  if (e.uid > MAX_OCTAL_7) pax('uid', String(e.uid));
  if (e.gid > MAX_OCTAL_7) pax('gid', String(e.gid));
  const seconds = floorDiv(e.mtimeNs, 1_000_000_000n);
  if (e.mtimeNs % 1_000_000_000n !== 0n || seconds < 0n || seconds > BigInt(MAX_OCTAL_11)) pax('mtime', paxTime(e.mtimeNs));
  if (e.user !== undefined && !fitsText(e.user, 32)) pax('uname', e.user);
  if (e.group !== undefined && !fitsText(e.group, 32)) pax('gname', e.group);
  for (const [key, value] of e.xattrs ?? []) {
    pax(`SCHILY.xattr.${key}`, value);
    // GNU tar --acls restores ACLs from their text form (and then ignores the attribute).
    const acl = ACL_RECORDS[key] !== undefined ? posixAclText(value) : null;
    if (acl !== null) pax(ACL_RECORDS[key]!, acl);
  }

  const header = ustarHeader({
    name: name.subarray(0, 100),
    mode: e.mode & 0o7777,
    uid: e.uid > MAX_OCTAL_7 ? 0 : e.uid,
    gid: e.gid > MAX_OCTAL_7 ? 0 : e.gid,
    size: size > MAX_OCTAL_11 ? 0 : size,
    mtime: seconds < 0n || seconds > BigInt(MAX_OCTAL_11) ? 0 : Number(seconds),
    typeflag: TYPEFLAG[e.type],
    linkname: link.subarray(0, 100),
    uname: e.user !== undefined && fitsText(e.user, 32) ? e.user : '',
    gname: e.group !== undefined && fitsText(e.group, 32) ? e.group : '',
    ...(e.type === 'char' || e.type === 'block' ? devNumbers(e.rdev ?? 0) : { devmajor: 0, devminor: 0 }),
  });
  if (records.length === 0) return header;
  const body = Buffer.concat(records.map(([k, v]) => paxRecord(k, v)));
  const paxName = Buffer.concat([Buffer.from('PaxHeaders/'), lastComponent(name).subarray(0, 80)]);
  const paxHeader = ustarHeader({ name: paxName, mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: 0, typeflag: PAX_TYPEFLAG, linkname: Buffer.alloc(0), uname: '', gname: '', devmajor: 0, devminor: 0 });
  return Buffer.concat([paxHeader, body, tarPadding(body.length), header]);
}

const ACL_RECORDS: Record<string, string> = { 'system.posix_acl_access': 'SCHILY.acl.access', 'system.posix_acl_default': 'SCHILY.acl.default' };
const ACL_TAGS: Record<number, string> = { 0x01: 'user', 0x02: 'user', 0x04: 'group', 0x08: 'group', 0x10: 'mask', 0x20: 'other' };

/**
 * A POSIX ACL in the kernel's attribute form (version 2, then 8-byte
 * entries: tag, permissions, id) as the text star and GNU tar write
 * ("user::rw-\nuser:1000:r--\n…", ids numeric); null when it is not one.
 */
export function posixAclText(value: Buffer): string | null {
  if (value.length < 4 || (value.length - 4) % 8 !== 0 || value.readUInt32LE(0) !== 2) return null;
  const lines: string[] = [];
  for (let at = 4; at < value.length; at += 8) {
    const tag = value.readUInt16LE(at);
    const perm = value.readUInt16LE(at + 2);
    const name = ACL_TAGS[tag];
    if (name === undefined || perm > 7) return null;
    const who = tag === 0x02 || tag === 0x08 ? String(value.readUInt32LE(at + 4)) : '';
    lines.push(`${name}:${who}:${perm & 4 ? 'r' : '-'}${perm & 2 ? 'w' : '-'}${perm & 1 ? 'x' : '-'}`);
  }
  return lines.join('\n');
}

/** One pax record: "LEN KEY=VALUE\n", LEN counting the whole record, its own digits included. */
export function paxRecord(key: string, value: Buffer): Buffer {
  const rest = Buffer.byteLength(key) + value.length + 3; // ' ', '=', '\n'
  let len = rest + String(rest).length;
  if (String(len).length !== String(rest).length) len = rest + String(len).length;
  return Buffer.concat([Buffer.from(`${len} ${key}=`), value, Buffer.from('\n')]);
}

/** Nanoseconds since the epoch as pax writes times: seconds with a decimal fraction (trailing zeros dropped). */
export function paxTime(ns: bigint): string {
  const negative = ns < 0n;
  const abs = negative ? -ns : ns;
  const s = abs / 1_000_000_000n;
  const frac = (abs % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${s}${frac ? `.${frac}` : ''}`;
}

interface UstarFields {
  name: Buffer;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: number;
  linkname: Buffer;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
}

function ustarHeader(f: UstarFields): Buffer {
  const h = Buffer.alloc(TAR_BLOCK);
  f.name.copy(h, 0);
  octal(h, 100, 8, f.mode);
  octal(h, 108, 8, f.uid);
  octal(h, 116, 8, f.gid);
  octal(h, 124, 12, f.size);
  octal(h, 136, 12, f.mtime);
  h[156] = f.typeflag;
  f.linkname.copy(h, 157);
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  h.write(f.uname, 265, 'utf8');
  h.write(f.gname, 297, 'utf8');
  octal(h, 329, 8, f.devmajor);
  octal(h, 337, 8, f.devminor);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

/** An octal number in a field of `width` bytes: width-1 zero-padded digits and a NUL. */
function octal(h: Buffer, at: number, width: number, value: number): void {
  h.write(`${Math.max(0, Math.trunc(value)).toString(8).padStart(width - 1, '0')}\0`, at, 'latin1');
}

function devNumbers(rdev: number): { devmajor: number; devminor: number } {
  return { devmajor: (rdev >> 8) & 0xfff, devminor: (rdev & 0xff) | ((rdev >> 12) & 0xfff00) };
}

/** Whether a user or group name fits the ustar field as it is (ASCII, at most `max` bytes). */
function fitsText(s: string, max: number): boolean {
  return /^[\x20-\x7e]*$/.test(s) && s.length <= max;
}

function isUtf8(b: Buffer): boolean {
  return Buffer.from(b.toString('utf8'), 'utf8').equals(b);
}

function lastComponent(name: Buffer): Buffer {
  const trimmed = name[name.length - 1] === 0x2f ? name.subarray(0, -1) : name;
  return trimmed.subarray(trimmed.lastIndexOf(0x2f) + 1);
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}
