/** Data source ids: `AGENT:KIND:LOCATOR` — `AGENT:fs:/absolute/path`, `AGENT:postgres:PORT`. */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { CustosError } from '../base/index.js';
import { SOURCE_KIND_NAMES, type SourceKindName } from '../protocol/index.js';
import { parsePointMeta, type AppPointMeta } from '../format/index.js';

export const SOURCE_KINDS = SOURCE_KIND_NAMES;

export interface SourceIdParts {
  readonly agent: string;
  readonly kind: SourceKindName;
  /** The canonical locator: fs, the normalized absolute path; postgres, the port in decimal. */
  readonly path: string;
}

/** Each kind's locator, checked and made canonical (throws usage). */
const LOCATORS: Record<SourceKindName, (locator: string, id: string) => string> = {
  fs(path, id) {
    if (!path.startsWith('/')) throw new CustosError('usage', `data source ${id}: the path must be absolute`);
    if (path.includes('\0')) throw new CustosError('usage', `data source ${id}: the path contains a NUL byte`);
    const normal = posix.normalize(path);
    return normal.length > 1 ? normal.replace(/\/$/, '') : normal;
  },
  postgres(port, id) {
    if (!/^[1-9][0-9]{0,4}$/.test(port) || Number(port) > 65535) throw new CustosError('usage', `data source ${id}: ${JSON.stringify(port.slice(0, 40))} is not a port (1 to 65535); custos source discover AGENT lists the clusters`);
    return port;
  },
};

export function parseSourceId(id: string): SourceIdParts {
  const m = /^([^:]+):([a-z]+):(.+)$/.exec(id);
  if (!m) throw new CustosError('usage', `data source ${JSON.stringify(id)} is not AGENT:fs:/path or AGENT:postgres:PORT`);
  const [, agent, kind, locator] = m as unknown as [string, string, string, string];
  if (!(SOURCE_KINDS as readonly string[]).includes(kind)) throw new CustosError('usage', `data source kind ${kind} is not supported (use ${SOURCE_KINDS.join(' or ')})`);
  const k = kind as SourceKindName;
  return { agent, kind: k, path: LOCATORS[k](locator, id) };
}

/** The id of a data source from its parts. */
export function sourceIdOf(p: SourceIdParts): string {
  return `${p.agent}:${p.kind}:${p.path}`;
}

/**
 * Why a backup job of `kind` cannot run for an application data source whose
 * newest point has the metadata `newest` (null: it has no point yet), or
 * null when it can: an express full always; a log synchronization once its
 * newest point says its log is synchronized.
 */
export function appJobRefusal(kind: string, sourceId: string, newest: AppPointMeta | null): string | null {
  if (kind === 'recovery-point') return null;
  if (kind === 'sync') {
    if (newest?.logMode === 'logs') return null;
    return newest
      ? `${sourceId} is protected by express fulls only: another tool takes its log, or it cannot give it (see its express full's job log; custos point create ${sourceId} makes an express full now)`
      : `${sourceId} has no express full yet to synchronize its log from: custos point create ${sourceId} makes one`;
  }
  // A check: the WAL chain of its points, then an express full (which creates the replica when there is none).
  if (kind === 'consistency-check') return null;
  return `a ${kind} job does not apply to ${sourceId}`;
}

/** A catalog point's application metadata (checked when it was committed), or null. */
export function appOf(row: { readonly app: string | null } | undefined): AppPointMeta | null {
  if (!row?.app) return null;
  try {
    return parsePointMeta(JSON.parse(row.app) as unknown);
  } catch {
    return null;
  }
}

/** The replication slot of a postgres data source: its own, for as long as it exists (a source made again gets another). */
export function slotNameOf(source: { readonly id: string; readonly created_at: string }): string {
  return `custos_${createHash('sha256').update(`${source.id}\n${source.created_at}`).digest('hex').slice(0, 12)}`;
}

/** `AGENT:postgres:PORT` as a recovery target: a new instance on that agent, started on PORT; null for any other form. */
export function parseInstanceTarget(to: string): { agent: string; port: number } | null {
  const m = /^([^:/]+):postgres:([1-9][0-9]{0,4})$/.exec(to);
  if (!m || Number(m[2]) > 65535) return null;
  return { agent: m[1]!, port: Number(m[2]) };
}

/** `AGENT:/path` — where a recovery writes. */
export function parseTarget(to: string): { agent: string; path: string } {
  const m = /^([^:/]+):(\/.*)$/.exec(to);
  if (!m) throw new CustosError('usage', `recovery target ${JSON.stringify(to)} is not AGENT:/path`);
  if (m[2]!.includes('\0')) throw new CustosError('usage', 'recovery target contains a NUL byte');
  return { agent: m[1]!, path: posix.normalize(m[2]!) };
}
