/**
 * Shared test helpers: run the CLI as a child process, make and clean up
 * temporary directories, build file trees from a small description, and
 * digest trees so a source and its restore can be compared bit for bit.
 *
 * Paths are handled as raw bytes where names may not be UTF-8: the digest is
 * keyed by the latin1 rendering of each relative path (a byte-for-byte,
 * reversible mapping, readable for ASCII names).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { accessSync, chmodSync, closeSync, constants as fsConstants, statSync, lstatSync, lutimesSync, mkdirSync, openSync, readdirSync, readlinkSync, readSync, writeFileSync } from 'node:fs';
import { chmod, link, lstat, lutimes, mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../bench/rng.js';

// ---------------------------------------------------------------------------
// Repository root and the CLI

/** The repository root: this file compiles to dist/test/helpers/tree.js. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The `custos` entry point. */
export const CLI_PATH = join(REPO_ROOT, 'bin', 'custos.js');

export interface CliOptions {
  /** Extra environment variables (merged over process.env). */
  readonly env?: Record<string, string | undefined>;
  /** Written to the child's stdin, which is then closed. */
  readonly input?: string | Uint8Array;
  /** Kill the child with SIGKILL after this many ms (the result then has signal 'SIGKILL'). */
  readonly timeoutMs?: number;
}

export interface CliResult {
  /** Exit status; null when the process was ended by a signal. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall-clock time from spawn to exit. */
  readonly durationMs: number;
}

export interface StartedCli {
  readonly child: ChildProcess;
  /** performance.now() at spawn. */
  readonly startedAt: number;
  /** Resolves when the child has exited and its output is complete. */
  readonly done: Promise<CliResult>;
}

/** Starts `node bin/custos.js ...args` in the repository root without waiting for it. */
export function startCli(args: readonly string[], opts: CliOptions = {}): StartedCli {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const startedAt = performance.now();
  const child = spawn(process.execPath, [CLI_PATH, ...args], { cwd: REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (b: Buffer) => out.push(b));
  child.stderr!.on('data', (b: Buffer) => err.push(b));
  child.stdin!.on('error', () => {}); // the child may exit (or be killed) before reading its input
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  else child.stdin!.end();
  let timer: NodeJS.Timeout | undefined;
  if (opts.timeoutMs !== undefined) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
  const done = new Promise<CliResult>((resolveDone, rejectDone) => {
    child.on('error', rejectDone);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolveDone({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        durationMs: performance.now() - startedAt,
      });
    });
  });
  return { child, startedAt, done };
}

/** Runs `node bin/custos.js ...args` in the repository root and collects its output. */
export function runCli(args: readonly string[], opts: CliOptions = {}): Promise<CliResult> {
  return startCli(args, opts).done;
}

/** A one-line description of a CLI result, for assertion messages. */
export function describeCli(args: readonly string[], r: CliResult): string {
  const cut = (s: string) => (s.length > 2000 ? `${s.slice(0, 2000)}…` : s);
  return `custos ${args.join(' ')} → code ${r.code}${r.signal ? ` signal ${r.signal}` : ''}\nstdout: ${cut(r.stdout)}\nstderr: ${cut(r.stderr)}`;
}

/** Parses a CLI result's stdout as JSON, with the whole result in the error when it is not. */
export function parseJsonOutput<T = unknown>(args: readonly string[], r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch (err) {
    throw new Error(`stdout is not JSON (${(err as Error).message}):\n${describeCli(args, r)}`);
  }
}

// ---------------------------------------------------------------------------
// Temporary directories

export interface TempDir {
  readonly path: string;
  /** Removes the directory and everything in it (idempotent). */
  cleanup(): Promise<void>;
}

const liveTempDirs = new Set<TempDir>();

export interface TempDirOptions {
  /** Parent directory (default os.tmpdir()); see memoryTmpBase(). */
  readonly base?: string;
}

/** A new empty directory under os.tmpdir(); remove it with cleanup() or cleanupTempDirs(). */
export async function makeTempDir(prefix = 'custos-test-', options: TempDirOptions = {}): Promise<TempDir> {
  const path = await mkdtemp(join(options.base ?? tmpdir(), prefix));
  const dir: TempDir = {
    path,
    async cleanup() {
      liveTempDirs.delete(dir);
      await rm(path, { recursive: true, force: true, maxRetries: 3 });
    },
  };
  liveTempDirs.add(dir);
  return dir;
}

/**
 * A writable memory-backed directory (/dev/shm) when there is one, else
 * os.tmpdir(). For scratch trees a test creates and deletes many times, such
 * as restore targets: creating thousands of files on a disk file system can
 * cost a millisecond each. Not for pools whose durability is under test.
 */
export function memoryTmpBase(): string {
  const shm = '/dev/shm';
  try {
    accessSync(shm, fsConstants.W_OK);
    if (statSync(shm).isDirectory()) return shm;
  } catch {
    // no /dev/shm here
  }
  return tmpdir();
}

/** Removes every temporary directory made by makeTempDir that is still there. */
export async function cleanupTempDirs(): Promise<void> {
  await Promise.all([...liveTempDirs].map((d) => d.cleanup()));
}

// ---------------------------------------------------------------------------
// Deterministic randomness

/** Seeded PRNG shared with the benchmark: same seed, same sequence. */
export { Rng };

/** `size` pseudo-random (incompressible) bytes determined by `seed` (AES-256-CTR keystream; fast for megabytes). */
export function seededBytes(seed: number | string, size: number): Buffer {
  const key = createHash('sha256').update(`custos-test-bytes:${seed}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]);
}

const WORDS = ['custos', 'backup', 'restore', 'pool', 'chunk', 'pack', 'index', 'point', 'verify', 'lorem', 'ipsum', 'data', 'the', 'and', 'of'];

/** `size` bytes of compressible, text-like content determined by `seed`. */
export function seededText(seed: number | string, size: number): Buffer {
  const rng = new Rng(`text:${seed}`);
  const parts: string[] = [];
  let n = 0;
  while (n < size) {
    const w = rng.pick(WORDS) + (rng.int(12) === 0 ? '\n' : ' ');
    parts.push(w);
    n += w.length;
  }
  return Buffer.from(parts.join('')).subarray(0, size);
}

// ---------------------------------------------------------------------------
// Building trees

export type FileContent = string | Uint8Array;

export type EntrySpec =
  /** A regular file with this content. */
  | FileContent
  | {
      readonly type?: 'file';
      readonly content?: FileContent;
      /** Instead of content: this many seeded random bytes. */
      readonly random?: { readonly size: number; readonly seed: number | string };
      readonly mode?: number;
      /** Modification time, ms since the epoch (whole milliseconds compare reliably, see treeDigest). */
      readonly mtimeMs?: number;
    }
  | { readonly type: 'dir'; readonly mode?: number; readonly mtimeMs?: number }
  | { readonly type: 'symlink'; readonly target: string | Buffer }
  /** A hard link to `target`, a path relative to the tree root written earlier in the spec. */
  | { readonly type: 'hardlink'; readonly target: string | Buffer };

/** Relative paths ('/'-separated; Buffers for names that are not UTF-8) → entries. Parents are created as needed. */
export type TreeSpec = Readonly<Record<string, EntrySpec>> | ReadonlyArray<readonly [string | Buffer, EntrySpec]>;

export interface WriteTreeOptions {
  /**
   * mtime given to files (and directories) whose spec has none. Defaults to
   * the current time truncated to whole milliseconds, so digests compare
   * reliably (a restore sets times through a double, with ~1 µs error).
   * null leaves the times the file system gives.
   */
  readonly mtimeMs?: number | null;
}

/** The absolute path of a relative tree path (string or raw bytes). */
export function treePath(root: string, rel: string | Buffer): Buffer {
  return Buffer.concat([Buffer.from(root), Buffer.from('/'), Buffer.from(rel)]);
}

/** Sets a path's atime and mtime to `ms` (ms since the epoch); does not follow a symlink. */
export async function setMtimeMs(path: string | Buffer, ms: number): Promise<void> {
  const t = new Date(ms);
  await lutimes(path, t, t);
}

/** setMtimeMs, synchronously. */
export function setMtimeMsSync(path: string | Buffer, ms: number): void {
  const t = new Date(ms);
  lutimesSync(path, t, t);
}

/** Creates the entries of `spec` under `root` (which is created when missing). */
export async function writeTree(root: string, spec: TreeSpec, options: WriteTreeOptions = {}): Promise<void> {
  const defaultMtime = options.mtimeMs === undefined ? Math.floor(Date.now()) : options.mtimeMs;
  await mkdir(root, { recursive: true });
  const entries: Array<readonly [string | Buffer, EntrySpec]> = Array.isArray(spec)
    ? [...(spec as ReadonlyArray<readonly [string | Buffer, EntrySpec]>)]
    : Object.entries(spec as Record<string, EntrySpec>);
  const dirMeta: Array<{ path: Buffer; mode?: number; mtimeMs?: number | null }> = [];
  const implicitDirs = new Set<string>();
  for (const [rel, e] of entries) {
    const relBuf = Buffer.from(rel);
    if (relBuf.length === 0 || relBuf[0] === 0x2f) throw new Error(`writeTree: path must be relative and non-empty: ${relBuf.toString('latin1')}`);
    const abs = treePath(root, relBuf);
    const slash = relBuf.lastIndexOf(0x2f);
    if (slash > 0) {
      const parent = treePath(root, relBuf.subarray(0, slash));
      if (!implicitDirs.has(parent.toString('latin1'))) mkdirSync(parent, { recursive: true });
      implicitDirs.add(parent.toString('latin1'));
    }
    if (typeof e === 'string' || e instanceof Uint8Array) {
      writeFileSync(abs, e);
      if (defaultMtime !== null) setMtimeMsSync(abs, defaultMtime);
      continue;
    }
    switch (e.type) {
      case 'dir':
        await mkdir(abs, { recursive: true });
        dirMeta.push({ path: abs, mode: e.mode, mtimeMs: e.mtimeMs ?? defaultMtime });
        break;
      case 'symlink':
        await symlink(Buffer.from(e.target), abs);
        break;
      case 'hardlink':
        await link(treePath(root, e.target), abs);
        break;
      default: {
        const content = e.random ? seededBytes(e.random.seed, e.random.size) : (e.content ?? '');
        writeFileSync(abs, content);
        if (e.mode !== undefined) chmodSync(abs, e.mode);
        const mtime = e.mtimeMs ?? defaultMtime;
        if (mtime !== null) setMtimeMsSync(abs, mtime);
      }
    }
  }
  // Directory times last (writing into a directory changes its mtime), deepest first.
  if (defaultMtime !== null) {
    const explicit = new Set(dirMeta.map((d) => d.path.toString('latin1')));
    for (const d of implicitDirs) if (!explicit.has(d)) dirMeta.push({ path: Buffer.from(d, 'latin1'), mtimeMs: defaultMtime });
  }
  dirMeta.sort((a, b) => b.path.length - a.path.length);
  for (const d of dirMeta) {
    if (d.mode !== undefined) await chmod(d.path, d.mode);
    if (d.mtimeMs !== null && d.mtimeMs !== undefined) await setMtimeMs(d.path, d.mtimeMs);
  }
}

// ---------------------------------------------------------------------------
// Digests

export interface DigestOptions {
  /** Include file mtimes (default true). */
  readonly mtime?: boolean;
  /** Include the root directory itself, keyed '.' (default true). */
  readonly root?: boolean;
  /** Include owner uid:gid (default false). */
  readonly owner?: boolean;
}

/** Key of a relative path in a digest: its bytes as latin1 (reversible; '.' is the root). */
export function digestKey(rel: Buffer | string): string {
  const b = Buffer.from(rel);
  return b.length === 0 ? '.' : b.toString('latin1');
}

function sha256File(path: Buffer, buf: Buffer): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/**
 * Describes every item under `root`: relative path (see digestKey) → type,
 * permission bits, and for files size, SHA-256 and mtime rounded to the
 * nearest millisecond; for symlinks the target (hex). Equal maps mean equal
 * trees for everything a restore promises to bring back. (Synchronous file
 * system calls inside: several times faster than promises for thousands of
 * small files.)
 */
export async function treeDigest(root: string, options: DigestOptions = {}): Promise<Map<string, string>> {
  const withMtime = options.mtime ?? true;
  const withRoot = options.root ?? true;
  const out = new Map<string, string>();
  const buf = Buffer.allocUnsafe(1 << 20);
  const rootBuf = Buffer.from(root);
  const describe = (abs: Buffer, rel: Buffer): boolean => {
    const st = lstatSync(abs, { bigint: true });
    const mode = (Number(st.mode) & 0o7777).toString(8).padStart(4, '0');
    const owner = options.owner ? ` owner=${st.uid}:${st.gid}` : '';
    let d: string;
    if (st.isFile()) {
      const ms = (st.mtimeNs + 500_000n) / 1_000_000n;
      d = `file mode=${mode} size=${st.size} sha256=${sha256File(abs, buf)}${withMtime ? ` mtime=${ms}` : ''}${owner}`;
    } else if (st.isDirectory()) {
      d = `dir mode=${mode}${owner}`;
    } else if (st.isSymbolicLink()) {
      d = `symlink target=${readlinkSync(abs, { encoding: 'buffer' }).toString('hex')}${owner}`;
    } else if (st.isFIFO()) {
      d = `fifo mode=${mode}${owner}`;
    } else {
      d = `other mode=${mode} rdev=${st.rdev}${owner}`;
    }
    if (rel.length > 0 || withRoot) out.set(digestKey(rel), d);
    return st.isDirectory();
  };
  const walk = (abs: Buffer, rel: Buffer): void => {
    const names = readdirSync(abs, { encoding: 'buffer' }).sort(Buffer.compare);
    for (const name of names) {
      const childAbs = Buffer.concat([abs, Buffer.from('/'), name]);
      const childRel = rel.length === 0 ? name : Buffer.concat([rel, Buffer.from('/'), name]);
      if (describe(childAbs, childRel)) walk(childAbs, childRel);
    }
  };
  describe(rootBuf, Buffer.alloc(0));
  walk(rootBuf, Buffer.alloc(0));
  return out;
}

/** Human-readable differences between two digests (at most `limit` lines); empty when equal. */
export function diffDigests(expected: ReadonlyMap<string, string>, actual: ReadonlyMap<string, string>, limit = 20): string[] {
  const lines: string[] = [];
  const show = (k: string) => JSON.stringify(k);
  for (const [k, v] of expected) {
    const a = actual.get(k);
    if (a === undefined) lines.push(`missing ${show(k)} (${v})`);
    else if (a !== v) lines.push(`differs ${show(k)}: expected ${v}, got ${a}`);
  }
  for (const [k, v] of actual) if (!expected.has(k)) lines.push(`unexpected ${show(k)} (${v})`);
  if (lines.length > limit) return [...lines.slice(0, limit), `… and ${lines.length - limit} more`];
  return lines;
}

/** Files (regular) in a directory tree, recursively, as absolute paths; for picking pool objects in tests. */
export async function listFilesRecursive(root: string): Promise<Array<{ path: string; size: number }>> {
  const out: Array<{ path: string; size: number }> = [];
  const walk = async (dir: string): Promise<void> => {
    let names;
    try {
      names = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const d of names) {
      const p = join(dir, d.name);
      if (d.isDirectory()) await walk(p);
      else if (d.isFile()) out.push({ path: p, size: (await lstat(p)).size });
    }
  };
  await walk(root);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}


/** Every file of a pool directory with its size and mtime (locks and tmp left out): what a refused command must not change. */
export function poolListing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const n of readdirSync(d).sort()) {
      if (rel === '' && (n === 'locks' || n === 'tmp')) continue;
      const p = join(d, n);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p, `${rel}${n}/`);
      else out.push(`${rel}${n} ${st.size} ${st.mtimeMs}`);
    }
  };
  walk(dir, '');
  return out;
}
