/**
 * The agent's user socket (`custos agent start --user-socket PATH`): people
 * logged into this computer ask for their own files with `custos my`. Any
 * local user may connect (mode 0666); who they are comes from the kernel
 * (peer.ts), never from what they send. Each request is forwarded to the
 * server, which decides what this user may see (src/server/end-user.ts);
 * a recovered file is written by a process running as the user
 * (writer-child.ts), so it lands only where the user could write.
 *
 * Local protocol: one JSON line in (a MyRequest), one JSON line out (a
 * MyAnswer), then the agent closes the connection.
 */
import { spawn } from 'node:child_process';
import { lstat, readFile, unlink, chmod } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { basename, dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CustosError, errorMessage, type ErrorCode } from '../../base/index.js';
import { isCanonicalAbsolutePath, MAX_USER_BROWSE_LIMIT, MAX_USER_PATH_CHARS, MAX_USER_PATTERN_CHARS, type LocalUser, type UserRequest } from '../../protocol/index.js';
import { localUserOf } from './peer.js';
import type { WriterAnswer, WriterCommit, WriterSpec } from './writer-child.js';

export const DEFAULT_USER_SOCKET = '/run/custos-agent.sock';
/** The largest request line a user may send. */
const MAX_REQUEST_BYTES = 64 * 1024;
/** Connections served at once (more wait in the kernel's backlog). */
const MAX_CONNECTIONS = 32;
/** Content a recovery's writer has not taken yet, at most (the rest of the file fails the recovery). */
const MAX_WRITER_BACKLOG = 256 * 1024 * 1024;
/** A request line must arrive within this time. */
const REQUEST_TIMEOUT_MS = 30_000;

/** What `custos my` sends. */
export interface MyRequest {
  readonly op: 'versions' | 'browse' | 'recover' | 'search';
  /** Absolute (the CLI resolves it against the caller's working directory); search: the directory searched. */
  readonly path: string;
  /** search: a glob (`*.tex`; with '/', relative to `path`). */
  readonly pattern?: string;
  readonly point?: string;
  readonly at?: string;
  readonly after?: string;
  readonly limit?: number;
  /** recover: an absolute path to write to (a file, or an existing directory to write into). */
  readonly to?: string;
  readonly conflict?: 'overwrite';
}

export type MyAnswer = { readonly ok: true; readonly body: Record<string, unknown> } | { readonly ok: false; readonly error: { readonly code: ErrorCode; readonly message: string } };

/** How the socket reaches the server. */
export interface UserRequestSink {
  userRequest(user: LocalUser, body: UserRequest, onBlob?: (index: number, rawLength: number, blob: Buffer) => void): Promise<Record<string, unknown>>;
}

const ERROR_CODES: readonly ErrorCode[] = ['usage', 'not-found', 'denied', 'exists', 'unsafe-path', 'io', 'integrity', 'cancelled', 'unreachable', 'internal'];

function usage(message: string): never {
  throw new CustosError('usage', message);
}

/** Lexically normalized absolute path (`..` and `.` resolved in the text, never on the disk). */
function absolute(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_USER_PATH_CHARS || v.includes('\0')) usage(`${what} must be a path of at most ${MAX_USER_PATH_CHARS} characters`);
  if (!v.startsWith('/')) usage(`${what} must be absolute`);
  const p = posix.normalize(v).replace(/(.)\/+$/, '$1');
  if (!isCanonicalAbsolutePath(p)) usage(`${what} is not a usable path`);
  return p;
}

/** Checks a request line from a user (hostile until proven otherwise). */
export function parseMyRequest(line: string): MyRequest {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    usage('the request is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) usage('the request must be an object');
  const o = v as Record<string, unknown>;
  const allowed = ['op', 'path', 'point', 'at', 'after', 'limit', 'to', 'conflict', 'pattern'];
  for (const k of Object.keys(o)) if (!allowed.includes(k)) usage(`unknown field ${JSON.stringify(k.slice(0, 40))}`);
  const op = o['op'];
  if (op !== 'versions' && op !== 'browse' && op !== 'recover' && op !== 'search') usage('op must be versions, browse, recover or search');
  const out: { -readonly [K in keyof MyRequest]: MyRequest[K] } = { op, path: absolute(o['path'], 'the path') };
  if (o['point'] !== undefined) {
    if (typeof o['point'] !== 'string' || !/^[0-9a-f]{4,32}$/.test(o['point'])) usage('--point takes a recovery point id (at least 4 hex digits)');
    out.point = o['point'];
  }
  if (o['at'] !== undefined) {
    if (typeof o['at'] !== 'string' || o['at'].length > 40 || Number.isNaN(Date.parse(o['at']))) usage('--at is not a time');
    out.at = o['at'];
  }
  if (out.point !== undefined && out.at !== undefined) usage('give --point or --at, not both');
  if (o['after'] !== undefined) {
    if (typeof o['after'] !== 'string' || o['after'] === '' || o['after'].length > 1024 || /[/\0]/.test(o['after'])) usage('--after takes one name');
    out.after = o['after'];
  }
  if (o['limit'] !== undefined) {
    if (typeof o['limit'] !== 'number' || !Number.isInteger(o['limit']) || o['limit'] < 1 || o['limit'] > MAX_USER_BROWSE_LIMIT) usage(`--limit takes 1 to ${MAX_USER_BROWSE_LIMIT}`);
    out.limit = o['limit'];
  }
  if (o['to'] !== undefined) out.to = absolute(o['to'], '--to');
  if (o['conflict'] !== undefined) {
    if (o['conflict'] !== 'overwrite') usage('--conflict takes overwrite');
    out.conflict = 'overwrite';
  }
  if (o['pattern'] !== undefined || op === 'search') {
    if (op !== 'search') usage('a pattern is for search');
    if (typeof o['pattern'] !== 'string' || o['pattern'] === '' || o['pattern'].length > MAX_USER_PATTERN_CHARS || o['pattern'].includes('\0')) usage('search needs a pattern (a glob such as *.tex)');
    out.pattern = o['pattern'];
  }
  if (op !== 'recover' && (out.to !== undefined || out.conflict !== undefined)) usage('--to and --conflict are for recover');
  if (op !== 'browse' && out.after !== undefined) usage('--after is for browse');
  if (op !== 'browse' && op !== 'search' && out.limit !== undefined) usage('--limit is for browse and search');
  if (op === 'search' && (out.point !== undefined || out.at !== undefined)) usage('search looks at every recovery point: no --point or --at');
  if (op === 'versions' && (out.point !== undefined || out.at !== undefined)) usage('versions looks at every recovery point: no --point or --at');
  return out;
}

function two(n: number): string {
  return String(n).padStart(2, '0');
}

/** `NAME (recovered YYYY-MM-DD HHMM)`, this computer's local time. */
export function recoveredName(name: string, when: Date): string {
  const stamp = `${when.getFullYear()}-${two(when.getMonth() + 1)}-${two(when.getDate())} ${two(when.getHours())}${two(when.getMinutes())}`;
  return `${name} (recovered ${stamp})`;
}

/** Where `my recover` writes: --to as given (a directory takes the original name), or next to the original. */
export function writerSpec(req: MyRequest, now: Date): WriterSpec {
  const name = basename(req.path);
  if (req.path === '/') usage('/ is not a file');
  if (req.to !== undefined) return { target: req.to, name, intoDirectory: true, overwrite: req.conflict === 'overwrite', noLinksOnTheWay: false };
  if (req.conflict === 'overwrite') return { target: req.path, name, intoDirectory: false, overwrite: true, noLinksOnTheWay: true };
  return { target: join(dirname(req.path), recoveredName(name, now)), name, intoDirectory: false, overwrite: false, noLinksOnTheWay: true };
}

let writerSource: Promise<string> | undefined;

/** The writer's compiled text, run with `node -e` (the user may not be able to read the agent's files). */
function writerProgram(): Promise<string> {
  writerSource ??= readFile(fileURLToPath(new URL('./writer-child.js', import.meta.url)), 'utf8');
  return writerSource;
}

/** Starts the writer as `user`: uid, gid and supplementary groups, no capabilities, no new privileges. */
async function startWriter(user: LocalUser, spec: WriterSpec) {
  const groups = [...new Set(user.groups)];
  const args = [
    '--reuid', String(user.uid), '--regid', String(user.gid),
    ...(groups.length > 0 ? ['--groups', groups.join(',')] : ['--clear-groups']),
    '--inh-caps', '-all', '--no-new-privs', '--',
    process.execPath, '--input-type=module', '-e', await writerProgram(), JSON.stringify(spec),
  ];
  return spawn('setpriv', args, { cwd: '/', env: { PATH: '/usr/bin:/bin', CUSTOS_WRITER_CHILD: '1' }, stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
}

async function recover(sink: UserRequestSink, user: LocalUser, req: MyRequest): Promise<Record<string, unknown>> {
  const spec = writerSpec(req, new Date());
  const child = await startWriter(user, spec);
  const stdin = child.stdin!;
  const control = child.stdio[3] as NodeJS.WritableStream & { on(e: 'error', f: () => void): void };
  stdin.on('error', () => undefined);
  control.on('error', () => undefined);
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString('utf8')));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString('utf8')));
  let spawnError: Error | null = null;
  const exited = new Promise<void>((resolve) => {
    child.on('close', () => resolve());
    // setpriv missing or not executable: no process, maybe no 'close' either.
    child.on('error', (e) => {
      spawnError = e;
      resolve();
    });
  });
  let expected = 0;
  let bytes = 0;
  let broken: string | null = null;
  let answer: Record<string, unknown>;
  try {
    answer = await sink.userRequest(user, { op: 'recover', path: req.path, ...(req.point ? { point: req.point } : {}), ...(req.at ? { at: req.at } : {}) }, (index, _raw, blob) => {
      if (index !== expected++) broken = 'the content arrived out of order';
      // The writer is the user's own process (they may stop it): the agent holds at most this much for it.
      if (broken === null && stdin.writableLength > MAX_WRITER_BACKLOG) broken = 'the writer stopped taking the content';
      bytes += blob.length;
      if (broken === null) stdin.write(Buffer.from(blob));
    });
    if (broken !== null) throw new CustosError('integrity', broken);
    if (answer['size'] !== bytes) throw new CustosError('integrity', `received ${bytes} bytes of a ${String(answer['size'])}-byte file`);
  } catch (e) {
    stdin.end();
    control.end();
    await exited;
    throw e;
  }
  stdin.end();
  const commit: WriterCommit = { mode: Number(answer['mode']), mtimeMs: Date.parse(String(answer['mtime'])) };
  control.end(JSON.stringify(commit));
  await exited;
  if (spawnError) throw new CustosError('internal', `cannot start the writer as the user (setpriv, util-linux): ${(spawnError as Error).message}`);
  let written: WriterAnswer;
  try {
    written = JSON.parse(out.trim().split('\n').at(-1) ?? '') as WriterAnswer;
  } catch {
    throw new CustosError('internal', `the writer failed: ${(err.trim() || out.trim() || 'no answer').slice(0, 400)}`);
  }
  if (!written.ok) {
    const code = (ERROR_CODES as readonly string[]).includes(written.code) ? (written.code as ErrorCode) : 'io';
    throw new CustosError(code, code === 'denied' ? `you may not write there (${written.message})` : written.message);
  }
  return { ...answer, to: written.path };
}

async function answer(sink: UserRequestSink, who: Promise<LocalUser>, line: string): Promise<MyAnswer> {
  try {
    const user = await who;
    const req = parseMyRequest(line);
    switch (req.op) {
      case 'versions':
        return { ok: true, body: await sink.userRequest(user, { op: 'versions', path: req.path }) };
      case 'browse':
        return { ok: true, body: await sink.userRequest(user, { op: 'browse', path: req.path, limit: req.limit ?? MAX_USER_BROWSE_LIMIT, ...(req.point ? { point: req.point } : {}), ...(req.at ? { at: req.at } : {}), ...(req.after ? { after: req.after } : {}) }) };
      case 'recover':
        return { ok: true, body: await recover(sink, user, req) };
      case 'search':
        return { ok: true, body: await sink.userRequest(user, { op: 'search', path: req.path, pattern: req.pattern!, limit: req.limit ?? 100 }) };
    }
  } catch (e) {
    const code = e instanceof CustosError ? e.code : 'internal';
    return { ok: false, error: { code, message: errorMessage(e) } };
  }
}

/**
 * Listens on `path` (mode 0666). A socket left by an agent that is gone is
 * replaced; one another agent still answers on, or anything that is not a
 * socket, is left alone (and this agent serves no users).
 */
export async function startUserSocket(path: string, sink: UserRequestSink, log: (m: string, level?: string) => void): Promise<{ close(): Promise<void> } | null> {
  const existing = await lstat(path).catch(() => null);
  if (existing) {
    if (!existing.isSocket()) {
      log(`user socket ${path}: something else is there; custos my is not available`, 'warning');
      return null;
    }
    const alive = await new Promise<boolean>((resolve) => {
      const c = createConnection(path);
      c.on('connect', () => { c.destroy(); resolve(true); });
      c.on('error', () => resolve(false));
    });
    if (alive) {
      log(`user socket ${path}: another agent answers there; custos my is not available from this one`, 'warning');
      return null;
    }
    await unlink(path).catch(() => undefined);
  }
  let open = 0;
  const server: Server = createServer({ allowHalfOpen: false }, (socket) => {
    if (open >= MAX_CONNECTIONS) return socket.destroy();
    open++;
    socket.on('close', () => open--);
    // Who it is, read as soon as the connection is accepted, while the connecting process waits for its answer (peer.ts: pid reuse).
    const who = localUserOf(socket);
    who.catch(() => undefined);
    socket.on('error', () => undefined);
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => { if (!got) socket.destroy(); });
    let got = false;
    let buf = '';
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      if (got) return;
      buf += text;
      if (buf.length > MAX_REQUEST_BYTES) {
        got = true;
        socket.end(JSON.stringify({ ok: false, error: { code: 'usage', message: 'the request is too long' } } satisfies MyAnswer) + '\n');
        return;
      }
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      got = true;
      socket.setTimeout(0);
      void answer(sink, who, buf.slice(0, nl)).then((a) => socket.end(JSON.stringify(a) + '\n'));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  server.on('error', (e) => log(`user socket ${path}: ${errorMessage(e)}`, 'warning'));
  await chmod(path, 0o666);
  const ino = (await lstat(path)).ino;
  log(`listening for local users on ${path}`);
  return {
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // Only our own socket: another agent may have taken the name since.
      const now = await lstat(path).catch(() => null);
      if (now && now.ino === ino) await unlink(path).catch(() => undefined);
    },
  };
}
