/**
 * Who is at the other end of the user socket, from the kernel only
 * (docs/design/security.md, "End-user recovery"): SO_PEERCRED gives the
 * pid, uid and gid the kernel recorded when the process connected; the
 * supplementary groups are those of that pid, read from /proc/PID/status.
 *
 * A pid can be reused once its process has exited, so the status file read
 * must still be the connecting process's: its effective uid and gid must be
 * the ones SO_PEERCRED recorded, or the request is refused. A process that
 * passed the pid check holds the same uid, so what it could add are groups
 * that uid can hold anyway (setgroups needs privilege).
 */
import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { CustosError } from '../../base/index.js';
import type { LocalUser } from '../../protocol/index.js';
import { loadBinding } from '../journal/native.js';

export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

/** The kernel's credentials of the process that connected `socket` (a Unix stream socket). */
export function peerCredentials(socket: Socket): PeerCredentials {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new CustosError('internal', 'the user socket has no file descriptor');
  const get = loadBinding().peerCredentials;
  if (!get) throw new CustosError('internal', 'peer credentials are available on Linux only');
  return get(fd);
}

/** The fields of /proc/PID/status that name identities: Uid and Gid (real, effective, saved, fs) and Groups. */
export function parseProcStatus(text: string): { uids: number[]; gids: number[]; groups: number[] } {
  const field = (name: string): number[] => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}:`));
    if (line === undefined) throw new CustosError('format', `/proc status has no ${name} line`);
    const values = line.slice(name.length + 1).trim().split(/\s+/).filter((v) => v !== '');
    return values.map((v) => {
      if (!/^[0-9]{1,10}$/.test(v) || Number(v) > 0xffff_ffff) throw new CustosError('format', `/proc status: ${name} holds ${JSON.stringify(v.slice(0, 20))}`);
      return Number(v);
    });
  };
  return { uids: field('Uid'), gids: field('Gid'), groups: field('Groups') };
}

/** The local user behind `socket`: uid and gid from SO_PEERCRED, groups from the connecting pid, checked against pid reuse. */
export async function localUserOf(socket: Socket): Promise<LocalUser> {
  const cred = peerCredentials(socket);
  let status: string;
  try {
    status = await readFile(`/proc/${cred.pid}/status`, 'utf8');
  } catch {
    throw new CustosError('denied', 'the process that connected has exited');
  }
  const p = parseProcStatus(status);
  if (p.uids[1] !== cred.uid || p.gids[1] !== cred.gid) {
    throw new CustosError('denied', 'the process that connected is gone (its pid now names another process)');
  }
  return { uid: cred.uid, gid: cred.gid, groups: [...new Set(p.groups)] };
}
