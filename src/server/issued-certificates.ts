/**
 * The CA's issuance record: an append-only file beside the catalog
 * (DATA/ca-issued.jsonl, 0600), one JSON line per agent certificate the CA
 * signed and per revocation. It is what lets agents keep working after the
 * catalog is restored from an older backup: `custos server resync` registers
 * the agents the catalog lacks from it, and revocations made after the
 * backup stay revoked.
 *
 *   {"event":"issued","time":ISO,"name":N,"serial":HEX,"fingerprint":HEX,"hostname":H,"enrollment":HEX?}
 *   {"event":"revoked","time":ISO,"name":N,"serial":HEX}
 *
 * `enrollment` is the hash of the enrollment token used (as the catalog
 * stores it), so resync can mark it used. Lines are appended with O_APPEND
 * and fsynced before the call returns. A torn last line (a crash mid-write)
 * is skipped and reported, as is any line that does not parse.
 */
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage, isErrno } from '../base/index.js';

export const ISSUED_FILE = 'ca-issued.jsonl';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const HEX = /^[0-9a-fA-F]{1,200}$/;
const FINGERPRINT = /^[a-z0-9]{1,16}:[0-9a-f]{1,128}$/;
const MAX_LINE = 4096;

export interface IssuedEntry {
  readonly time: string;
  readonly name: string;
  readonly serial: string;
  readonly fingerprint: string;
  readonly hostname: string;
  readonly enrollment?: string;
}

export interface RevokedEntry {
  readonly time: string;
  readonly name: string;
  readonly serial: string;
}

/** What the record says of one agent name: its newest certificate and whether that one is revoked. */
export interface IssuedAgent extends IssuedEntry {
  readonly revokedAt: string | null;
}

export interface IssuanceRecord {
  /** By agent name: the newest certificate issued under it. */
  readonly agents: ReadonlyMap<string, IssuedAgent>;
  /** Hashes of enrollment tokens that were used. */
  readonly usedEnrollments: ReadonlySet<string>;
  /** Lines skipped, with why (1-based line numbers). */
  readonly problems: readonly string[];
}

export function issuedFile(dataDir: string): string {
  return join(dataDir, ISSUED_FILE);
}

async function append(file: string, line: Record<string, unknown>): Promise<void> {
  const fh = await open(file, 'a', 0o600);
  try {
    await fh.write(JSON.stringify(line) + '\n');
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

/** Records a certificate the CA signed for an agent (call after signing, before answering the agent). */
export async function recordIssued(dataDir: string, e: IssuedEntry): Promise<void> {
  await append(issuedFile(dataDir), { event: 'issued', ...e });
}

/** Records that an agent's certificate was revoked (call when the agent is removed). */
export async function recordRevoked(dataDir: string, e: RevokedEntry): Promise<void> {
  await append(issuedFile(dataDir), { event: 'revoked', ...e });
}

/** Reads the record; a missing file is an empty record. */
export async function readIssuanceRecord(dataDir: string): Promise<IssuanceRecord> {
  let text: string;
  try {
    text = await readFile(issuedFile(dataDir), 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return { agents: new Map(), usedEnrollments: new Set(), problems: [] };
    throw err;
  }
  return parseIssuanceRecord(text);
}

export function parseIssuanceRecord(text: string): IssuanceRecord {
  const agents = new Map<string, IssuedAgent>();
  const usedEnrollments = new Set<string>();
  const problems: string[] = [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((line, i) => {
    const where = `${ISSUED_FILE} line ${i + 1}`;
    const parsed = parseLine(line);
    if (typeof parsed === 'string') {
      problems.push(`${where}: ${parsed}${i === lines.length - 1 ? ' (torn by a crash while it was written?)' : ''}`);
      return;
    }
    if (parsed.event === 'issued') {
      agents.set(parsed.name, { ...parsed.entry, revokedAt: null });
      if (parsed.entry.enrollment) usedEnrollments.add(parsed.entry.enrollment);
    } else {
      const a = agents.get(parsed.name);
      // A revocation applies to the certificate it names only (not to a newer one issued under the same name).
      if (a && a.serial === parsed.serial && a.revokedAt === null) agents.set(parsed.name, { ...a, revokedAt: parsed.time });
    }
  });
  return { agents, usedEnrollments, problems };
}

type Parsed = { event: 'issued'; name: string; entry: IssuedEntry } | { event: 'revoked'; name: string; serial: string; time: string };

function parseLine(line: string): Parsed | string {
  if (line.length > MAX_LINE) return 'line too long';
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (err) {
    return `not JSON (${errorMessage(err)})`;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not an object';
  const o = v as Record<string, unknown>;
  const str = (k: string, re?: RegExp, max = 255): string | null => {
    const x = o[k];
    return typeof x === 'string' && x.length <= max && (!re || re.test(x)) ? x : null;
  };
  const time = str('time');
  const name = str('name', NAME);
  const serial = str('serial', HEX);
  if (!time || Number.isNaN(Date.parse(time)) || !name || !serial) return 'time, name or serial missing or malformed';
  if (o['event'] === 'revoked') return { event: 'revoked', name, serial, time };
  if (o['event'] !== 'issued') return `unknown event ${JSON.stringify(o['event'])}`;
  const fingerprint = str('fingerprint', FINGERPRINT);
  const hostname = str('hostname');
  if (!fingerprint || hostname === null) return 'fingerprint or hostname missing or malformed';
  const enrollment = o['enrollment'] === undefined ? undefined : str('enrollment', /^[0-9a-f]{64}$/);
  if (enrollment === null) return 'enrollment malformed';
  return { event: 'issued', name, entry: { time, name, serial, fingerprint, hostname, ...(enrollment ? { enrollment } : {}) } };
}
