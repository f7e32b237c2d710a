/** Data source ids: `AGENT:fs:/absolute/path`. */
import { posix } from 'node:path';
import { CustosError } from '../base/index.js';

export const SOURCE_KINDS = ['fs'] as const;

export function parseSourceId(id: string): { agent: string; kind: 'fs'; path: string } {
  const m = /^([^:]+):([a-z]+):(.+)$/.exec(id);
  if (!m) throw new CustosError('usage', `data source ${JSON.stringify(id)} is not AGENT:fs:/path`);
  const [, agent, kind, path] = m as unknown as [string, string, string, string];
  if (kind !== 'fs') throw new CustosError('usage', `data source kind ${kind} is not supported yet (use fs)`);
  if (!path.startsWith('/')) throw new CustosError('usage', `data source ${id}: the path must be absolute`);
  if (path.includes('\0')) throw new CustosError('usage', `data source ${id}: the path contains a NUL byte`);
  const normal = posix.normalize(path);
  return { agent, kind: 'fs', path: normal.length > 1 ? normal.replace(/\/$/, '') : normal };
}

/** `AGENT:/path` — where a recovery writes. */
export function parseTarget(to: string): { agent: string; path: string } {
  const m = /^([^:/]+):(\/.*)$/.exec(to);
  if (!m) throw new CustosError('usage', `recovery target ${JSON.stringify(to)} is not AGENT:/path`);
  if (m[2]!.includes('\0')) throw new CustosError('usage', 'recovery target contains a NUL byte');
  return { agent: m[1]!, path: posix.normalize(m[2]!) };
}
