/**
 * Robustness: restoring hand-crafted, malicious recovery points must never
 * write outside the restore target.
 *
 * Every case stores a crafted manifest in a real pool (test/helpers/craft-point.ts),
 * restores it through the real code path (restoreFromPool, or the `custos`
 * CLI), and then proves containment: in a fresh `base` holding `target/` (the
 * restore target) and `outside/` (with a file `secret`), everything but
 * `target/` is byte-for-byte and inode-for-inode unchanged (names, types,
 * contents, link targets, modes, link counts, mtimes and ctimes), nothing named
 * escaped/pwned exists outside `target/`, no bait name appeared in
 * os.tmpdir(), no file in the target is a hard link to `outside/secret`, and
 * the target itself is still a real directory.
 *
 * The restore may either refuse (IntegrityError / UnsafePathError, CLI exit 7
 * or 8) or restore the safe items and report the unsafe ones (CLI exit 3);
 * silently "succeeding" on a malicious manifest fails the test. Positive
 * controls prove the crafting itself works.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ErrorCode } from '../../src/base/index.js';
import { comparePaths } from '../../src/format/index.js';
import { Pool } from '../../src/pool/pool.js';
import type { RestoreCommandOptions, RestoreReport } from '../../src/standalone/restore.js';
import { craftPoint, type CraftEntry, type CraftOptions } from '../helpers/craft-point.js';

const CLI = fileURLToPath(new URL('../../../bin/custos.js', import.meta.url));
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
/** A restore of these tiny points takes well under a second; one still running after this is hung. */
const RESTORE_DEADLINE_MS = 20_000;

const SECRET = 'top secret: this file must never change\n';
const SAFE_CONTENT = 'safe content\n';
/** Unique bait prefix for names an escape would create directly in os.tmpdir(). */
const BAIT = `custos-bait-${randomBytes(6).toString('hex')}`;
const TMP = realpathSync(tmpdir());
const ABS_BAIT = join(TMP, `${BAIT}-abs-escaped`);

type Conflict = 'overwrite' | 'skip' | 'keep-both';

// ---------------------------------------------------------------- entries

const root = (): CraftEntry => ({ path: '', type: 'dir' });
const dir = (path: string | Buffer, mode?: number): CraftEntry => ({ path, type: 'dir', ...(mode !== undefined ? { mode } : {}) });
const file = (path: string | Buffer, content: string | Buffer = ''): CraftEntry => ({ path, content });
const symlink = (path: string | Buffer, target: string | Buffer): CraftEntry => ({ path, type: 'symlink', target });
const hardlink = (path: string | Buffer, target: string | Buffer): CraftEntry => ({ path, type: 'hardlink', target });
const fifo = (path: string | Buffer): CraftEntry => ({ path, type: 'fifo' });
const safe = (): CraftEntry => file('safe.txt', SAFE_CONTENT);

/** Sorts entries into walk order (for cases that are *not* about order). */
function inWalkOrder(entries: CraftEntry[]): CraftEntry[] {
  const b = (p: string | Buffer): Buffer => (typeof p === 'string' ? Buffer.from(p) : p);
  return [...entries].sort((x, y) => comparePaths(b(x.path), b(y.path)));
}

// ---------------------------------------------------------------- pools and case directories

interface PoolUnderTest {
  readonly dir: string;
  readonly keyFile?: string;
  readonly pool: Pool;
}

interface CaseDirs {
  readonly base: string;
  readonly target: string;
  readonly outside: string;
  readonly secret: string;
}

let work: string;
let plain: PoolUnderTest;
let encrypted: PoolUnderTest;
const bases: string[] = [];

function newCase(): CaseDirs {
  const base = realpathSync(mkdtempSync(join(TMP, 'custos-mm-case-')));
  bases.push(base);
  const target = join(base, 'target');
  const outside = join(base, 'outside');
  mkdirSync(target);
  mkdirSync(outside);
  const secret = join(outside, 'secret');
  writeFileSync(secret, SECRET, { mode: 0o640 });
  mkdirSync(join(outside, 'sub'));
  writeFileSync(join(outside, 'sub', 'keep'), 'keep\n');
  return { base, target, outside, secret };
}

// ---------------------------------------------------------------- containment checks

/**
 * Everything under `base` except `base/target`, described down to inode
 * metadata. For `loose` paths the link count and ctime are left out (a hard
 * link to them inside the target may legitimately be replaced).
 */
function snapshot(base: string, loose: ReadonlySet<string> = new Set()): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string): void => {
    const abs = rel === '' ? base : join(base, rel);
    const st = lstatSync(abs, { bigint: true });
    let kind: string;
    if (st.isSymbolicLink()) kind = `symlink->${readlinkSync(abs)}`;
    else if (st.isFile()) kind = `file sha256=${createHash('sha256').update(readFileSync(abs)).digest('hex')}`;
    else if (st.isDirectory()) kind = 'dir';
    else kind = 'other';
    const links = loose.has(rel) ? '' : ` nlink=${st.nlink} ctime=${st.ctimeNs}`;
    out.set(rel || '.', `${kind} mode=${st.mode.toString(8)} ino=${st.ino} uid=${st.uid} gid=${st.gid} size=${st.size} mtime=${st.mtimeNs}${links}`);
    if (st.isDirectory()) {
      for (const name of readdirSync(abs).sort()) {
        if (rel === '' && name === 'target') continue;
        walk(rel === '' ? name : `${rel}/${name}`);
      }
    }
  };
  walk('');
  return out;
}

function tmpBaitNames(): string[] {
  return readdirSync(TMP)
    .filter((n) => n.startsWith(BAIT) || /^(escaped|pwned)/.test(n))
    .sort();
}

/** Regular files under `dir`, not following symlinks. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    const st = lstatSync(p);
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
    else if (st.isFile()) out.push(p);
  };
  walk(dir);
  return out;
}

function assertContained(d: CaseDirs, before: Map<string, string>, tmpBefore: string[], loose: ReadonlySet<string>): void {
  const afterSnap = snapshot(d.base, loose);
  assert.deepEqual(Object.fromEntries(afterSnap), Object.fromEntries(before), 'something outside the restore target changed');
  assert.equal(readFileSync(d.secret, 'utf8'), SECRET, 'outside/secret changed');
  assert.equal(lstatSync(d.secret).nlink, 1, 'outside/secret gained a hard link');
  for (const rel of afterSnap.keys()) {
    assert.doesNotMatch(rel, /escaped|pwned/, `${rel} appeared outside the target`);
  }
  assert.deepEqual(tmpBaitNames(), tmpBefore, `bait names appeared in ${TMP}`);
  assert.equal(existsSync(ABS_BAIT), false, `${ABS_BAIT} was created`);
  const t = lstatSync(d.target);
  assert.ok(t.isDirectory() && !t.isSymbolicLink(), 'the restore target is no longer a real directory');
  const secretIno = lstatSync(d.secret).ino;
  for (const f of filesUnder(d.target)) {
    assert.notEqual(lstatSync(f).ino, secretIno, `${f} is a hard link to outside/secret`);
  }
}

// ---------------------------------------------------------------- running a case

/** What restoreFromPool threw, as seen across the worker boundary. */
interface ThrownError {
  readonly name: string;
  readonly message: string;
  /** Set when it was a CustosError. */
  readonly code?: ErrorCode;
}

type Outcome =
  | { readonly kind: 'threw'; readonly error: ThrownError }
  | { readonly kind: 'done'; readonly report: RestoreReport }
  | { readonly kind: 'hung' }
  | { readonly kind: 'exit'; readonly code: number; readonly stdout: string; readonly stderr: string };

interface CaseSpec {
  readonly pool?: PoolUnderTest;
  readonly entries: (d: CaseDirs) => CraftEntry[];
  readonly craft?: CraftOptions;
  /** Runs before the restore, e.g. to put symlinks into the target. */
  readonly prepare?: (d: CaseDirs) => void;
  readonly conflict?: Conflict;
  readonly via?: 'api' | 'cli';
  /** Paths under `base` whose link count and ctime may change (see snapshot). */
  readonly loose?: readonly string[];
}

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], timeout: RESTORE_DEADLINE_MS });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });
}

/**
 * A worker running restoreFromPool, so that a restore that a crafted manifest
 * sends into an endless synchronous loop fails the test instead of hanging it.
 * One worker serves every case (restores run one at a time); a hung one is
 * terminated and replaced.
 */
const RESTORE_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const loaded = Promise.all([import(workerData.baseUrl), import(workerData.restoreUrl)]);
parentPort.on('message', async ({ point, target, options }) => {
  const [{ CustosError }, { restoreFromPool }] = await loaded;
  try {
    const report = await restoreFromPool(point, target, options);
    parentPort.postMessage({ kind: 'done', report });
  } catch (err) {
    const custos = err instanceof CustosError;
    parentPort.postMessage({
      kind: 'threw',
      error: { name: err?.name ?? 'unknown', message: String(err?.message ?? err), ...(custos ? { code: err.code } : {}) },
    });
  }
});
`;

let restoreWorker: Worker | null = null;

function getRestoreWorker(): Worker {
  restoreWorker ??= new Worker(RESTORE_WORKER, {
    eval: true,
    workerData: {
      baseUrl: new URL('../../src/base/index.js', import.meta.url).href,
      restoreUrl: new URL('../../src/standalone/restore.js', import.meta.url).href,
    },
  });
  return restoreWorker;
}

function restoreInWorker(point: string, target: string, options: RestoreCommandOptions): Promise<Outcome> {
  const worker = getRestoreWorker();
  return new Promise((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
    };
    const onMessage = (msg: Outcome): void => {
      done();
      resolve(msg);
    };
    const onError = (err: Error): void => {
      done();
      restoreWorker = null;
      reject(err);
    };
    const onExit = (code: number): void => {
      done();
      restoreWorker = null;
      reject(new Error(`restore worker exited with ${code} without an answer`));
    };
    const timer = setTimeout(() => {
      done();
      restoreWorker = null;
      void worker.terminate();
      resolve({ kind: 'hung' });
    }, RESTORE_DEADLINE_MS);
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    worker.postMessage({ point, target, options });
  });
}

/** Crafts the point, restores it, and checks containment; returns the outcome for case-specific checks. */
async function runCase(spec: CaseSpec): Promise<{ d: CaseDirs; outcome: Outcome }> {
  const p = spec.pool ?? plain;
  const d = newCase();
  spec.prepare?.(d);
  const point = await craftPoint(p.pool, spec.entries(d), spec.craft);
  const loose = new Set(spec.loose ?? []);
  const before = snapshot(d.base, loose);
  const tmpBefore = tmpBaitNames();
  let outcome: Outcome;
  if (spec.via === 'cli') {
    const args = ['restore', point.id, d.target, '--pool', p.dir];
    if (p.keyFile) args.push('--key-file', p.keyFile);
    if (spec.conflict) args.push('--conflict', spec.conflict);
    outcome = { kind: 'exit', ...(await runCli(args)) };
  } else {
    outcome = await restoreInWorker(point.id, d.target, { pool: p.dir, keyFile: p.keyFile, conflict: spec.conflict ?? 'overwrite' });
  }
  if (process.env['CUSTOS_TEST_VERBOSE']) process.stderr.write(`# outcome: ${describeOutcome(outcome)}\n`);
  assertContained(d, before, tmpBefore, loose);
  return { d, outcome };
}

function describeOutcome(o: Outcome): string {
  if (o.kind === 'threw') return `threw ${o.error.name}${o.error.code ? ` [${o.error.code}]` : ''}: ${o.error.message}`;
  if (o.kind === 'hung') return `did not finish within ${RESTORE_DEADLINE_MS} ms`;
  if (o.kind === 'done') return `returned ${JSON.stringify({ ...o.report, errors: o.report.errors })}`;
  return `exit ${o.code}, stderr: ${o.stderr.trim()}`;
}

const EXIT_OF: Partial<Record<ErrorCode, number>> = { integrity: 7, 'unsafe-path': 8 };

interface Expectation {
  /** Paths the restore must report as not restored when it does not refuse outright. */
  readonly unsafe: readonly string[];
  /** Further paths it may report (e.g. a hard link's target that was refused). */
  readonly mayReport?: readonly string[];
  /** When it refuses: the acceptable error codes and a pattern its message must match. */
  readonly refusal?: { readonly codes: readonly ErrorCode[]; readonly message: RegExp };
  /** Safe files (target-relative → content) that a partial restore must have restored. */
  readonly safeFiles?: Readonly<Record<string, string>>;
}

const DEFAULT_REFUSAL = { codes: ['unsafe-path', 'integrity'] as ErrorCode[], message: /unsafe|outside|refus|order|tamper|root/i };

/**
 * The restore either refused with a clear integrity/unsafe-path error, or
 * completed partially, reporting every unsafe item (and nothing else) while
 * restoring the safe ones. Returns which of the two happened.
 */
function assertRefusedOrReported(d: CaseDirs, o: Outcome, exp: Expectation): 'refused' | 'partial' {
  const refusal = exp.refusal ?? DEFAULT_REFUSAL;
  const allowed = new Set([...exp.unsafe, ...(exp.mayReport ?? [])]);
  const checkPartial = (reported: readonly string[]): void => {
    for (const p of exp.unsafe) assert.ok(reported.includes(p), `unsafe item ${JSON.stringify(p)} was not reported: ${describeOutcome(o)}`);
    for (const p of reported) assert.ok(allowed.has(p), `unexpected error for ${JSON.stringify(p)}: ${describeOutcome(o)}`);
    for (const [rel, content] of Object.entries(exp.safeFiles ?? {})) {
      const abs = join(d.target, rel);
      assert.ok(lstatSync(abs).isFile(), `safe item ${rel} was not restored as a file`);
      assert.equal(readFileSync(abs, 'utf8'), content, `safe item ${rel} has the wrong content`);
    }
  };
  if (o.kind === 'threw') {
    assert.ok(o.error.code !== undefined, `expected a CustosError, got: ${describeOutcome(o)}`);
    assert.ok(refusal.codes.includes(o.error.code), `unexpected error code ${o.error.code}: ${describeOutcome(o)}`);
    assert.match(o.error.message, refusal.message);
    return 'refused';
  }
  if (o.kind === 'hung') assert.fail(`the restore hung: ${describeOutcome(o)}`);
  if (o.kind === 'done') {
    assert.ok(o.report.errors.length > 0, `a malicious manifest restored without any error: ${describeOutcome(o)}`);
    assert.equal(o.report.damaged, false, `restore reported damaged data (crafting broken?): ${describeOutcome(o)}`);
    checkPartial(o.report.errors.map((e) => e.path));
    return 'partial';
  }
  // CLI
  const refusalExits = refusal.codes.map((c) => EXIT_OF[c]);
  if (refusalExits.includes(o.code)) {
    assert.match(o.stderr, /^custos: .+/m);
    assert.match(o.stderr, refusal.message);
    return 'refused';
  }
  assert.equal(o.code, 3, `expected exit ${refusalExits.join('/')} (refused) or 3 (partial), got: ${describeOutcome(o)}`);
  const reported = [...o.stderr.matchAll(/^custos: could not restore (.*?): /gm)].map((m) => m[1]!);
  checkPartial(reported);
  return 'partial';
}

// ---------------------------------------------------------------- setup

before(async () => {
  work = realpathSync(mkdtempSync(join(TMP, 'custos-mm-pools-')));
  const plainDir = join(work, 'pool');
  await Pool.init(plainDir);
  plain = { dir: plainDir, pool: await Pool.open(plainDir) };
  const encDir = join(work, 'pool-enc');
  const keyFile = join(work, 'pool.key');
  await Pool.init(encDir, { keyFile });
  encrypted = { dir: encDir, keyFile, pool: await Pool.open(encDir, { keyFile }) };
});

after(async () => {
  await restoreWorker?.terminate();
  for (const b of bases) rmSync(b, { recursive: true, force: true });
  if (work) rmSync(work, { recursive: true, force: true });
});

// ---------------------------------------------------------------- positive controls

const BIG = randomBytes(200 * 1024);

function controlEntries(): CraftEntry[] {
  return [
    root(),
    dir('a'),
    file('a/f.bin', BIG),
    hardlink('a/h', 'a/f.bin'),
    symlink('a/l', 'f.bin'),
    dir('a/sub', 0o750),
    file('a/sub/empty'),
    file('b.txt', 'hello\n'),
  ];
}

function checkControl(d: CaseDirs): void {
  const t = d.target;
  assert.ok(readFileSync(join(t, 'a/f.bin')).equals(BIG), 'multi-chunk file content');
  assert.equal(readFileSync(join(t, 'b.txt'), 'utf8'), 'hello\n');
  assert.equal(readFileSync(join(t, 'a/sub/empty')).length, 0);
  assert.equal(readlinkSync(join(t, 'a/l')), 'f.bin');
  assert.equal(lstatSync(join(t, 'a/h')).ino, lstatSync(join(t, 'a/f.bin')).ino, 'hard link restored as a link');
  assert.equal(lstatSync(join(t, 'a/sub')).mode & 0o7777, 0o750);
  assert.equal(lstatSync(join(t, 'b.txt')).mode & 0o7777, 0o644);
  assert.equal(lstatSync(join(t, 'b.txt')).mtimeMs, 1_700_000_000_000);
}

describe('positive control: a well-formed crafted point restores exactly', () => {
  for (const which of ['unencrypted', 'encrypted'] as const) {
    test(`restoreFromPool, ${which} pool, two manifest pages`, async () => {
      const { d, outcome } = await runCase({
        pool: which === 'encrypted' ? encrypted : plain,
        entries: controlEntries,
        craft: { pageSizes: [3], chunkSize: 64 * 1024 },
      });
      assert.equal(outcome.kind, 'done', describeOutcome(outcome));
      if (outcome.kind !== 'done') return;
      assert.deepEqual(outcome.report.errors, []);
      assert.equal(outcome.report.damaged, false);
      assert.equal(outcome.report.files, 3);
      assert.equal(outcome.report.others, 2);
      checkControl(d);
    });
  }

  test('CLI, exit 0', async () => {
    const { d, outcome } = await runCase({ entries: controlEntries, craft: { pageSizes: [2, 2] }, via: 'cli' });
    assert.equal(outcome.kind, 'exit');
    if (outcome.kind !== 'exit') return;
    assert.equal(outcome.code, 0, describeOutcome(outcome));
    checkControl(d);
  });
});

// ---------------------------------------------------------------- unsafe path syntax

const PATH_CASES: ReadonlyArray<{ name: string; bad: (d: CaseDirs) => CraftEntry[]; unsafe: string }> = [
  { name: 'file ../escaped', bad: () => [file('../escaped', 'pwned')], unsafe: '../escaped' },
  { name: 'file a/../../escaped', bad: () => [dir('a'), file('a/../../escaped', 'pwned')], unsafe: 'a/../../escaped' },
  { name: 'file ../outside/pwned', bad: () => [file('../outside/pwned', 'pwned')], unsafe: '../outside/pwned' },
  { name: `absolute path in ${TMP} (leading slash)`, bad: () => [file(ABS_BAIT, 'pwned')], unsafe: ABS_BAIT },
  { name: 'absolute path into outside/', bad: (d) => [file(join(d.outside, 'pwned'), 'pwned')], unsafe: '<outside>/pwned' },
  { name: 'empty component a//escaped', bad: () => [dir('a'), file('a//escaped', 'pwned')], unsafe: 'a//escaped' },
  { name: 'trailing slash a/', bad: () => [file('a/', 'pwned')], unsafe: 'a/' },
  { name: '. component ./escaped', bad: () => [file('./escaped', 'pwned')], unsafe: './escaped' },
  { name: '. component a/./escaped', bad: () => [dir('a'), file('a/./escaped', 'pwned')], unsafe: 'a/./escaped' },
  { name: 'NUL byte', bad: () => [file(Buffer.from('escaped\0/../../pwned'), 'pwned')], unsafe: 'escaped\0/../../pwned' },
  { name: 'directory .. then ../escaped', bad: () => [dir('..'), file('../escaped', 'pwned')], unsafe: '..' },
  { name: 'symlink at ../escaped', bad: (d) => [symlink('../escaped', d.outside)], unsafe: '../escaped' },
  { name: 'hard link at ../escaped', bad: () => [hardlink('../escaped', 'safe.txt')], unsafe: '../escaped' },
  { name: 'fifo at ../pwned', bad: () => [fifo('../pwned')], unsafe: '../pwned' },
];

describe('unsafe path syntax is refused (restoreFromPool, unencrypted)', () => {
  for (const c of PATH_CASES) {
    test(c.name, async () => {
      let outsideAbs = '';
      const { d, outcome } = await runCase({
        entries: (d) => {
          outsideAbs = d.outside;
          return inWalkOrder([root(), ...c.bad(d), safe()]);
        },
      });
      const unsafe = c.unsafe.replace('<outside>', outsideAbs);
      assertRefusedOrReported(d, outcome, { unsafe: [unsafe], mayReport: ['a/../../escaped', '../escaped'], safeFiles: { 'safe.txt': SAFE_CONTENT } });
    });
  }

  test('encrypted pool: ../escaped', async () => {
    const { d, outcome } = await runCase({ pool: encrypted, entries: () => inWalkOrder([root(), file('../escaped', 'pwned'), safe()]) });
    assertRefusedOrReported(d, outcome, { unsafe: ['../escaped'], safeFiles: { 'safe.txt': SAFE_CONTENT } });
  });

  test('CLI: ../escaped → exit 8 (or 3 with a report)', async () => {
    const { d, outcome } = await runCase({ entries: () => inWalkOrder([root(), dir('a'), file('a/../../escaped', 'pwned'), safe()]), via: 'cli' });
    assertRefusedOrReported(d, outcome, { unsafe: ['a/../../escaped'], refusal: { codes: ['unsafe-path'], message: /unsafe path/ }, safeFiles: { 'safe.txt': SAFE_CONTENT } });
  });
});

// ---------------------------------------------------------------- symlink escapes

function symlinkEscapeEntries(d: CaseDirs): CraftEntry[] {
  return inWalkOrder([
    root(),
    symlink('link', d.outside),
    file('link/pwned', 'pwned'),
    dir('link/pwned-dir'),
    file('link/pwned-dir/pwned', 'pwned'),
    fifo('link/pwned-fifo'),
    symlink('link/pwned-link', '/etc/passwd'),
    hardlink('link/pwned-hl', 'safe.txt'),
    file('link/secret', 'overwritten!'),
    safe(),
  ]);
}
const SYMLINK_ESCAPE_UNSAFE = ['link/pwned', 'link/pwned-dir', 'link/pwned-dir/pwned', 'link/pwned-fifo', 'link/pwned-link', 'link/pwned-hl', 'link/secret'];

function assertSymlinkKept(d: CaseDirs, name: string, to: string): void {
  // The symlink itself is a legitimate item inside the target; it must just never be followed.
  const st = lstatSync(join(d.target, name), { throwIfNoEntry: false });
  if (st) {
    assert.ok(st.isSymbolicLink(), `${name} should be a symlink`);
    assert.equal(readlinkSync(join(d.target, name)), to);
  }
}

describe('symlink escapes', () => {
  for (const p of ['unencrypted', 'encrypted'] as const) {
    test(`link → absolute outside/, then link/pwned and friends (${p})`, async () => {
      const { d, outcome } = await runCase({ pool: p === 'encrypted' ? encrypted : plain, entries: symlinkEscapeEntries });
      assertRefusedOrReported(d, outcome, { unsafe: SYMLINK_ESCAPE_UNSAFE, safeFiles: { 'safe.txt': SAFE_CONTENT } });
      assertSymlinkKept(d, 'link', d.outside);
    });
  }

  test('CLI: link → outside/, link/pwned → exit 3 (or 7/8)', async () => {
    const { d, outcome } = await runCase({ entries: symlinkEscapeEntries, via: 'cli' });
    assertRefusedOrReported(d, outcome, { unsafe: SYMLINK_ESCAPE_UNSAFE, safeFiles: { 'safe.txt': SAFE_CONTENT } });
  });

  test('relative symlinks to .., ../.. and ../outside', async () => {
    const { d, outcome } = await runCase({
      entries: () =>
        inWalkOrder([
          root(),
          symlink('up', '..'),
          file('up/escaped', 'pwned'),
          dir('up/outside'),
          file('up/outside/pwned', 'pwned'),
          file('up/outside/secret', 'overwritten!'),
          symlink('up2', '../..'),
          file(`up2/${BAIT}-escaped`, 'pwned'),
          symlink('rel', '../outside'),
          file('rel/pwned', 'pwned'),
          dir('rel/sub'),
          file('rel/sub/keep', 'overwritten!'),
          safe(),
        ]),
    });
    assertRefusedOrReported(d, outcome, {
      unsafe: ['up/escaped', 'up/outside', 'up/outside/pwned', 'up/outside/secret', `up2/${BAIT}-escaped`, 'rel/pwned', 'rel/sub', 'rel/sub/keep'],
      safeFiles: { 'safe.txt': SAFE_CONTENT },
    });
  });

  test('symlink d → outside/, then directory d again (duplicate) and d/pwned', async () => {
    const { d, outcome } = await runCase({
      entries: (d) => [root(), symlink('d', d.outside), dir('d'), file('d/pwned', 'pwned'), safe()],
      craft: { requireOrder: false },
    });
    assertRefusedOrReported(d, outcome, { unsafe: ['d', 'd/pwned'], refusal: { codes: ['integrity'], message: /out of order/ } });
  });

  test('directory d, then symlink d → outside/ (duplicate), then d/pwned', async () => {
    const { d, outcome } = await runCase({
      entries: (d) => [root(), dir('d'), symlink('d', d.outside), file('d/pwned', 'pwned'), safe()],
      craft: { requireOrder: false },
    });
    assertRefusedOrReported(d, outcome, { unsafe: ['d'], mayReport: ['d/pwned'], refusal: { codes: ['integrity'], message: /out of order/ } });
  });

  test('symlink d → outside/, then d/pwned on the next manifest page', async () => {
    const { d, outcome } = await runCase({
      entries: (d) => inWalkOrder([root(), symlink('d', d.outside), file('d/pwned', 'pwned'), safe()]),
      craft: { pageSizes: [2] },
    });
    assertRefusedOrReported(d, outcome, { unsafe: ['d/pwned'], safeFiles: { 'safe.txt': SAFE_CONTENT } });
  });
});

// ---------------------------------------------------------------- walk order and duplicates

describe('entries out of walk order or duplicated are refused as tampering', () => {
  const ORDER_REFUSAL = { codes: ['integrity'] as ErrorCode[], message: /out of order|tamper/ };
  const cases: ReadonlyArray<{ name: string; entries: (d: CaseDirs) => CraftEntry[]; pageSizes?: number[]; unsafe: string[]; via?: 'cli' }> = [
    { name: 'b then a', entries: () => [root(), file('b', 'b'), file('a', 'a')], unsafe: ['a'] },
    { name: 'b then a across a page boundary', entries: () => [root(), file('b', 'b'), file('a', 'a')], pageSizes: [2], unsafe: ['a'] },
    {
      name: 'symlink link → outside/, then a, then link/pwned',
      entries: (d) => [root(), symlink('link', d.outside), file('a', 'a'), file('link/pwned', 'pwned')],
      unsafe: ['a', 'link/pwned'],
    },
    { name: 'duplicate file path', entries: () => [root(), file('dup', 'one'), file('dup', 'pwned')], unsafe: ['dup'] },
    { name: 'duplicate root', entries: () => [root(), root(), file('a', 'a')], unsafe: ['.'] },
    { name: 'child before the root', entries: () => [file('a', 'a'), root()], unsafe: ['.'] },
    { name: 'CLI: directory a, a/x, then a again → exit 7', entries: () => [root(), dir('a'), file('a/x', 'x'), dir('a'), file('a/pwned', 'pwned')], unsafe: ['a'], via: 'cli' },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const { d, outcome } = await runCase({
        entries: c.entries,
        craft: { requireOrder: false, ...(c.pageSizes ? { pageSizes: c.pageSizes } : {}) },
        ...(c.via ? { via: c.via } : {}),
      });
      assertRefusedOrReported(d, outcome, { unsafe: c.unsafe, mayReport: ['a/pwned'], refusal: ORDER_REFUSAL });
    });
  }
});

// ---------------------------------------------------------------- hard links

describe('hard links never link to files outside the target', () => {
  test('targets via .., absolute paths, symlinked directories, symlinks and bad syntax', async () => {
    const { d, outcome } = await runCase({
      entries: (d) =>
        inWalkOrder([
          root(),
          symlink('link', d.outside),
          symlink('up', '..'),
          symlink('ls', d.secret),
          hardlink('h1', '../outside/secret'),
          hardlink('h2', d.secret),
          hardlink('h3', 'link/secret'),
          hardlink('h4', 'up/outside/secret'),
          hardlink('h5', 'ls'),
          hardlink('h6', ''),
          hardlink('h7', Buffer.from('safe.txt\0')),
          hardlink('h8', 'a/../../outside/secret'),
          hardlink('link/pwned', 'safe.txt'),
          hardlink('ok', 'safe.txt'),
          safe(),
        ]),
    });
    const how = assertRefusedOrReported(d, outcome, {
      unsafe: ['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'h7', 'h8', 'link/pwned'],
      mayReport: ['link/secret', 'up/outside/secret'],
      safeFiles: { 'safe.txt': SAFE_CONTENT },
    });
    if (how === 'partial') {
      // The legitimate hard link is restored.
      assert.equal(lstatSync(join(d.target, 'ok')).ino, lstatSync(join(d.target, 'safe.txt')).ino);
    }
  });

  test('encrypted pool: hard link through a symlinked directory', async () => {
    const { d, outcome } = await runCase({
      pool: encrypted,
      entries: (d) => inWalkOrder([root(), symlink('link', d.outside), hardlink('h', 'link/secret'), hardlink('h2', d.secret), safe()]),
    });
    assertRefusedOrReported(d, outcome, { unsafe: ['h', 'h2'], mayReport: ['link/secret'], safeFiles: { 'safe.txt': SAFE_CONTENT } });
  });
});

// ---------------------------------------------------------------- pre-existing symlinks in the target

function prepareTrap(d: CaseDirs): void {
  symlinkSync(d.outside, join(d.target, 'pre')); // directory symlink
  symlinkSync(d.secret, join(d.target, 'pref')); // file symlink
  symlinkSync(join(d.outside, 'pwned-dangle'), join(d.target, 'dangle')); // dangling: O_CREAT would create outside/pwned-dangle
  symlinkSync(join(d.outside, 'pwned-hl'), join(d.target, 'dangle-hl'));
  symlinkSync(join(d.outside, 'pwned-kb'), join(d.target, 'dangle.restored')); // keep-both's first choice of name
}

function trapEntries(): CraftEntry[] {
  return inWalkOrder([
    root(),
    file('dangle', 'new content\n'),
    hardlink('dangle-hl', 'safe.txt'),
    dir('pre'),
    file('pre/pwned', 'pwned'),
    dir('pre/sub'),
    file('pre/sub/keep', 'overwritten!'),
    file('pre/secret', 'overwritten!'),
    fifo('pre/pwned-fifo'),
    file('pref', 'new content\n'),
    safe(),
  ]);
}

function isLinkTo(path: string, to: string): boolean {
  const st = lstatSync(path, { throwIfNoEntry: false });
  return st !== undefined && st.isSymbolicLink() && readlinkSync(path) === to;
}

describe('symlinks already in the target are never followed', () => {
  const modes: ReadonlyArray<{ conflict: Conflict; via?: 'cli' }> = [
    { conflict: 'overwrite' },
    { conflict: 'skip' },
    { conflict: 'keep-both' },
    { conflict: 'keep-both', via: 'cli' },
  ];
  for (const m of modes) {
    test(`target/pre → outside/, manifest dir pre + pre/pwned, --conflict ${m.conflict}${m.via ? ' (CLI)' : ''}`, async () => {
      const { d, outcome } = await runCase({ entries: trapEntries, prepare: prepareTrap, conflict: m.conflict, ...(m.via ? { via: m.via } : {}) });
      const how = assertRefusedOrReported(d, outcome, {
        unsafe: ['pre/pwned', 'pre/sub', 'pre/sub/keep', 'pre/secret', 'pre/pwned-fifo', ...(m.conflict === 'skip' ? [] : ['pre'])],
        mayReport: ['pre'],
        safeFiles: { 'safe.txt': SAFE_CONTENT },
      });
      const t = d.target;
      assert.ok(isLinkTo(join(t, 'pre'), d.outside), 'target/pre is still the symlink (a directory cannot replace it safely)');
      if (how !== 'partial') return;
      const regular = (rel: string): boolean => lstatSync(join(t, rel)).isFile();
      if (m.conflict === 'overwrite') {
        for (const rel of ['pref', 'dangle']) {
          assert.ok(regular(rel), `${rel} replaced by a regular file`);
          assert.equal(readFileSync(join(t, rel), 'utf8'), 'new content\n');
        }
        assert.equal(lstatSync(join(t, 'dangle-hl')).ino, lstatSync(join(t, 'safe.txt')).ino);
      } else if (m.conflict === 'skip') {
        assert.ok(isLinkTo(join(t, 'pref'), d.secret));
        assert.ok(isLinkTo(join(t, 'dangle'), join(d.outside, 'pwned-dangle')));
        assert.ok(isLinkTo(join(t, 'dangle-hl'), join(d.outside, 'pwned-hl')));
        if (outcome.kind === 'done') assert.ok(outcome.report.skipped >= 3, `skipped ${outcome.report.skipped}`);
      } else {
        assert.ok(isLinkTo(join(t, 'pref'), d.secret));
        assert.ok(isLinkTo(join(t, 'dangle'), join(d.outside, 'pwned-dangle')));
        assert.ok(isLinkTo(join(t, 'dangle.restored'), join(d.outside, 'pwned-kb')));
        for (const rel of ['pref.restored', 'dangle.restored-2']) {
          assert.ok(regular(rel), `${rel} restored beside the symlink`);
          assert.equal(readFileSync(join(t, rel), 'utf8'), 'new content\n');
        }
        assert.equal(lstatSync(join(t, 'dangle-hl.restored')).ino, lstatSync(join(t, 'safe.txt')).ino);
      }
    });
  }
});

describe('hard links already in the target are never written through', () => {
  for (const conflict of ['overwrite', 'skip', 'keep-both'] as const) {
    test(`target/prehl is a hard link to outside/linked, manifest file prehl, --conflict ${conflict}`, async () => {
      const { d, outcome } = await runCase({
        prepare: (d) => {
          writeFileSync(join(d.outside, 'linked'), 'linked\n');
          linkSync(join(d.outside, 'linked'), join(d.target, 'prehl'));
        },
        // Replacing target/prehl drops outside/linked's link count: that is fine, its content is what matters.
        loose: ['outside/linked'],
        entries: () => inWalkOrder([root(), file('prehl', 'new content\n'), safe()]),
        conflict,
      });
      assert.equal(readFileSync(join(d.outside, 'linked'), 'utf8'), 'linked\n', 'written through a hard link');
      assert.equal(outcome.kind, 'done', describeOutcome(outcome));
      if (outcome.kind !== 'done') return;
      assert.deepEqual(outcome.report.errors, []);
      const restored = join(d.target, conflict === 'keep-both' ? 'prehl.restored' : 'prehl');
      if (conflict !== 'skip') assert.equal(readFileSync(restored, 'utf8'), 'new content\n');
    });
  }
});

// ---------------------------------------------------------------- names that are not UTF-8

/*
 * Regression: fifos and device files used to be created by running
 * mkfifo/mknod with `p.toString()`, which turns every invalid UTF-8 byte of
 * the checked path into U+FFFD, so the item was created at a different path
 * than the one checked: with a symlink named "a\uFFFD" → outside/ and a
 * directory "a\xff", the fifo "a\xff/pwned-fifo" landed in outside/. Nodes
 * are now made under a temporary name and renamed to their exact bytes.
 */
describe('names that are not UTF-8 are created under their own bytes', () => {
  const raw = Buffer.from([0x61, 0xff]); // "a\xff", not UTF-8
  const mangled = Buffer.from('a\uFFFD'); // what raw.toString() decodes to
  const isRoot = process.getuid?.() === 0;
  const cases: ReadonlyArray<{ name: string; item: CraftEntry; skip?: string | false }> = [
    { name: 'fifo a\\xff/pwned-fifo beside a symlink a\\uFFFD → outside/', item: fifo(Buffer.concat([raw, Buffer.from('/pwned-fifo')])) },
    {
      name: 'char device a\\xff/pwned-dev beside a symlink a\\uFFFD → outside/ (as root)',
      item: { path: Buffer.concat([raw, Buffer.from('/pwned-dev')]), type: 'char', mode: 0o666, extra: { rdev: (1 << 8) | 3 } },
      skip: !isRoot && 'device files are restored only as root',
    },
  ];
  for (const c of cases) {
    test(c.name, { skip: c.skip || false }, async () => {
      const { d, outcome } = await runCase({
        entries: (d) => inWalkOrder([root(), symlink(mangled, d.outside), dir(raw), c.item, safe()]),
      });
      // Nothing here is unsafe in itself: the item belongs inside the real directory "a\xff".
      if (outcome.kind === 'done' && outcome.report.errors.length === 0) {
        const st = lstatSync(Buffer.concat([Buffer.from(d.target + '/'), c.item.path as Buffer]));
        assert.ok(c.item.type === 'fifo' ? st.isFIFO() : st.isCharacterDevice(), `${c.item.type} not restored under its own name`);
      }
    });
  }
});

// ---------------------------------------------------------------- the root entry

describe('the root entry must be a directory', () => {
  const ROOT_REFUSAL = { codes: ['unsafe-path', 'integrity'] as ErrorCode[], message: /root/ };
  const cases: ReadonlyArray<{ name: string; root: (d: CaseDirs) => CraftEntry; via?: 'cli' }> = [
    { name: 'root is a symlink to outside/', root: (d) => symlink('', d.outside) },
    { name: 'root is a symlink to .. (CLI)', root: () => symlink('', '..'), via: 'cli' },
    { name: 'root is a file', root: () => file('', 'pwned') },
    { name: 'root is a hard link to outside/secret', root: (d) => hardlink('', d.secret) },
    { name: 'root is a fifo', root: () => fifo('') },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const { d, outcome } = await runCase({
        entries: (d) => [c.root(d), ...inWalkOrder([file('pwned', 'pwned'), file('secret', 'overwritten!'), safe()])],
        ...(c.via ? { via: c.via } : {}),
      });
      // A partial restore may restore the children (they land inside the real target directory).
      assertRefusedOrReported(d, outcome, { unsafe: ['.'], refusal: ROOT_REFUSAL, safeFiles: { 'safe.txt': SAFE_CONTENT } });
    });
  }
});
