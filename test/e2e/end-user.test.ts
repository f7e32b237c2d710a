/**
 * End-user recovery (`custos my`) end to end, with real local users: a real
 * protection server process, a real agent process listening on a user
 * socket, and `custos my` run as users made here with useradd (setpriv
 * gives each process the user's uid, gid and groups, as a login would).
 *
 * Alice must not see, list or recover anything of Bob's private files — not
 * by name, through `..`, a symbolic link, a hard link to his file, a
 * directory renamed between two points, a crafted request, or a recovery
 * `--to` a place she cannot write — and she recovers her own file next to
 * the original. A group without end-user recovery refuses plainly.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CLI_PATH, REPO_ROOT, cleanupTempDirs, makeTempDir, type CliResult } from '../helpers/tree.js';
import { addLocalAccount, canAddAccounts, removeLocalAccounts, type LocalAccount } from '../helpers/local-accounts.js';
import { attachAgent, startServer, stopAllProcesses, waitFor, type ApiPoint, type TestAgent, type TestServer } from '../helpers/server.js';

const hasSetfacl = existsSync('/usr/bin/setfacl');
const canRun = canAddAccounts && existsSync('/usr/bin/setpriv');

type User = LocalAccount;
const addUser = addLocalAccount;

describe('end-user recovery (custos my)', { skip: canRun ? false : 'needs root, useradd and setpriv', timeout: 600_000 }, () => {
  const tag = randomBytes(3).toString('hex');
  let alice: User;
  let bob: User;
  let server: TestServer;
  let agent: TestAgent;
  let socket: string;
  let src: string;
  let source: string;
  let p1: ApiPoint;
  let p2: ApiPoint;

  /** `custos my ARGS` run as `user` (uid, gid and the groups of the group database), from `cwd`. */
  function my(user: User | 'root', args: readonly string[], cwd = src): Promise<CliResult & { json<T>(): T }> {
    const prefix = user === 'root' ? [] : ['setpriv', '--reuid', String(user.uid), '--regid', String(user.gid), '--init-groups', '--'];
    const argv = [...prefix, process.execPath, CLI_PATH, 'my', ...args];
    return new Promise((resolve) => {
      const child = spawn(argv[0]!, argv.slice(1), { cwd, env: { PATH: process.env['PATH'], CUSTOS_AGENT_SOCKET: socket, TZ: 'UTC', HOME: '/' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      const started = Date.now();
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, durationMs: Date.now() - started, json: <T>() => JSON.parse(stdout) as T }));
    });
  }

  const show = (args: readonly string[], r: CliResult) => `custos my ${args.join(' ')} → ${r.code}\n${r.stdout}\n${r.stderr}`;

  async function expectCode(user: User | 'root', args: readonly string[], code: number, message?: RegExp, cwd?: string): Promise<CliResult> {
    const r = await my(user, args, cwd);
    assert.equal(r.code, code, show(args, r));
    if (message) assert.match(r.stderr, message, show(args, r));
    return r;
  }

  async function point(): Promise<ApiPoint> {
    const r = await server.cli(['point', 'create', source, '--wait', '--json', '--timeout', '3m'], { timeoutMs: 200_000 });
    assert.equal(r.code, 0, r.stderr);
    const points = await server.cliJson<ApiPoint[]>(['point', 'list', source, '--json']);
    return points.at(-1)!;
  }

  before(async () => {
    alice = addUser(`cua${tag}`);
    bob = addUser(`cub${tag}`);
    const work = (await makeTempDir('custos-e2e-my-')).path;
    chmodSync(work, 0o755);
    socket = join(work, 'agent.sock');
    src = join(work, 'src');
    mkdirSync(src, { mode: 0o755 });
    chmodSync(src, 0o755);
    const own = (p: string, u: User, mode: number) => { chownSync(p, u.uid, u.gid); chmodSync(p, mode); };
    // Alice's home-like directory and Bob's, each 0700; files 0600.
    mkdirSync(join(src, 'alice'));
    own(join(src, 'alice'), alice, 0o700);
    writeFileSync(join(src, 'alice', 'notes.txt'), 'alice v1\n');
    own(join(src, 'alice', 'notes.txt'), alice, 0o600);
    mkdirSync(join(src, 'bob'));
    own(join(src, 'bob'), bob, 0o700);
    writeFileSync(join(src, 'bob', 'secret.txt'), 'bob secret\n');
    own(join(src, 'bob', 'secret.txt'), bob, 0o600);
    // A directory everyone may write: Bob's private file, a hard link to his secret, a symlink into his directory.
    mkdirSync(join(src, 'shared'));
    chmodSync(join(src, 'shared'), 0o1777);
    writeFileSync(join(src, 'shared', 'bob-only.txt'), 'bob only\n');
    own(join(src, 'shared', 'bob-only.txt'), bob, 0o600);
    writeFileSync(join(src, 'shared', 'for-all.txt'), 'for all\n');
    own(join(src, 'shared', 'for-all.txt'), bob, 0o644);
    linkSync(join(src, 'bob', 'secret.txt'), join(src, 'shared', 'hardlink'));
    symlinkSync('../bob', join(src, 'shared', 'to-bob'));
    symlinkSync(join(src, 'bob'), join(src, 'alice', 'bobs'));
    // Bob's public directory at the first point; at the second, his private directory takes its name.
    mkdirSync(join(src, 'bob-pub'));
    own(join(src, 'bob-pub'), bob, 0o755);
    writeFileSync(join(src, 'bob-pub', 'plan.txt'), 'public plan\n');
    own(join(src, 'bob-pub', 'plan.txt'), bob, 0o644);

    // POSIX ACLs as the kernel writes them: Bob may search Alice's directory and read one file in it.
    mkdirSync(join(src, 'acl'));
    own(join(src, 'acl'), alice, 0o700);
    writeFileSync(join(src, 'acl', 'for-bob.txt'), 'bob may read this\n');
    own(join(src, 'acl', 'for-bob.txt'), alice, 0o600);
    writeFileSync(join(src, 'acl', 'not-for-bob.txt'), 'nor this\n');
    own(join(src, 'acl', 'not-for-bob.txt'), alice, 0o600);
    if (hasSetfacl) {
      execFileSync('setfacl', ['-m', `u:${bob.uid}:x`, join(src, 'acl')]);
      execFileSync('setfacl', ['-m', `u:${bob.uid}:r`, join(src, 'acl', 'for-bob.txt')]);
    }

    server = await startServer();
    agent = await attachAgent(server, `eu${tag}`);
    await agent.start(true, ['--user-socket', socket]);
    await waitFor('the user socket', async () => existsSync(socket), 30_000, 100);
    source = `eu${tag}:fs:${src}`;
    const g = await server.cli(['group', 'create', `eu-${tag}`, '--source', source, '--sync', '24h', '--points', '23:00', '--json']);
    assert.equal(g.code, 0, g.stderr);
    await waitFor('the initial replica', async () => (await server.cliJson<ApiPoint[]>(['point', 'list', source, '--json'])).length > 0, 180_000);
    p1 = await point();
    writeFileSync(join(src, 'alice', 'notes.txt'), 'alice v2, longer\n');
    renameSync(join(src, 'bob-pub'), join(src, 'bob-old'));
    renameSync(join(src, 'bob'), join(src, 'bob-pub'));
    mkdirSync(join(src, 'bob'));
    own(join(src, 'bob'), bob, 0o700);
    writeFileSync(join(src, 'bob-pub', 'plan.txt'), 'bob private now\n');
    own(join(src, 'bob-pub', 'plan.txt'), bob, 0o644);
    p2 = await point();
  });

  after(async () => {
    await stopAllProcesses();
    removeLocalAccounts();
    await cleanupTempDirs();
  });

  test('a group without end-user recovery refuses plainly; the group shows the setting', async () => {
    await expectCode(alice, ['versions', 'alice/notes.txt'], 12, /end-user recovery is switched off/);
    const shown = await server.cli(['group', 'show', `eu-${tag}`]);
    assert.match(shown.stdout, /end-user recovery:\s+off/);
    const on = await server.cli(['group', 'update', `eu-${tag}`, '--end-user-recovery', 'on']);
    assert.equal(on.code, 0, on.stderr);
    assert.match(on.stdout, /end-user recovery:\s+on/);
    const bad = await server.cli(['group', 'update', `eu-${tag}`, '--end-user-recovery', 'maybe']);
    assert.equal(bad.code, 2, bad.stderr);
  });

  test('alice sees the versions of her own file and browses her own directory', async () => {
    const r = await my(alice, ['versions', 'alice/notes.txt', '--json']);
    assert.equal(r.code, 0, show(['versions'], r));
    const v = r.json<{ versions: Array<{ size: number; points: Array<{ id: string }> }> }>().versions;
    assert.deepEqual(v.map((x) => x.size), [9, 17]);
    assert.ok(v[1]!.points.some((p) => p.id === p2.id));
    const b = await my(alice, ['browse', join(src, 'alice'), '--json']);
    assert.equal(b.code, 0, show(['browse'], b));
    assert.deepEqual(b.json<{ items: Array<{ name: string }> }>().items.map((i) => i.name).sort(), ['bobs', 'notes.txt']);
  });

  test("alice cannot see Bob's files: by name, through .., a symbolic link, a hard link, or by listing", async () => {
    const secret = join(src, 'bob', 'secret.txt');
    const unseen = /no recovery point holds it, or you could not read it there/;
    await expectCode(alice, ['versions', secret], 4, unseen);
    await expectCode(alice, ['versions', `${src}/alice/../bob/secret.txt`], 4, unseen);
    await expectCode(alice, ['versions', '../bob/secret.txt'], 4, unseen, join(src, 'shared'));
    await expectCode(alice, ['versions', join(src, 'alice', 'bobs', 'secret.txt')], 4, unseen);
    await expectCode(alice, ['versions', join(src, 'shared', 'to-bob', 'secret.txt')], 4, unseen);
    await expectCode(alice, ['versions', join(src, 'shared', 'hardlink')], 4, unseen);
    await expectCode(alice, ['versions', join(src, 'shared', 'bob-only.txt')], 4, unseen);
    await expectCode(alice, ['browse', join(src, 'bob')], 4, unseen);
    await expectCode(alice, ['browse', join(src, 'bob'), '--point', p1.id], 4, unseen);
    const listed = await my(alice, ['browse', join(src, 'shared'), '--json']);
    assert.equal(listed.code, 0, show(['browse shared'], listed));
    assert.deepEqual(listed.json<{ items: Array<{ name: string }> }>().items.map((i) => i.name).sort(), ['for-all.txt', 'to-bob']);
    // The same files are Bob's to see (the refusals above are about Alice, not about the files).
    const bobs = await my(bob, ['versions', join(src, 'shared', 'hardlink'), '--json']);
    assert.equal(bobs.code, 0, show(['versions hardlink as bob'], bobs));
    // Root on this computer gets no bypass through the user socket.
    await expectCode('root', ['versions', secret], 4, unseen);
  });

  test("search finds what alice could read and nothing of Bob's", async () => {
    const r = await my(alice, ['search', '*', src, '--json']);
    assert.equal(r.code, 0, show(['search'], r));
    const paths = r.json<{ hits: Array<{ path: string }> }>().hits.map((h) => h.path.slice(src.length + 1)).sort();
    for (const mine of ['alice', 'alice/notes.txt', 'shared/for-all.txt', 'bob-pub/plan.txt']) assert.ok(paths.includes(mine), `${mine} in ${paths.join(', ')}`);
    for (const hidden of ['bob', 'bob/secret.txt', 'bob-pub/secret.txt', 'shared/bob-only.txt', 'shared/hardlink']) assert.ok(!paths.includes(hidden), `${hidden} found`);
    const scoped = await my(alice, ['search', '*.txt', join(src, 'bob'), '--json']);
    assert.equal(scoped.code, 0, show(['search in bob'], scoped));
    assert.deepEqual(scoped.json<{ hits: unknown[] }>().hits, []);
    const bobs = await my(bob, ['search', 'secret*', src, '--json']);
    assert.ok(bobs.json<{ hits: Array<{ path: string }> }>().hits.some((h) => h.path === join(src, 'bob', 'secret.txt')), 'Bob finds his own');
  });

  test('POSIX ACLs the backup captured: a named user entry grants search and read, nothing more', { skip: hasSetfacl ? false : 'needs setfacl' }, async () => {
    const r = await my(bob, ['versions', join(src, 'acl', 'for-bob.txt'), '--json']);
    assert.equal(r.code, 0, show(['versions for-bob as bob'], r));
    await expectCode(bob, ['versions', join(src, 'acl', 'not-for-bob.txt')], 4);
    await expectCode(bob, ['browse', join(src, 'acl')], 4, /could not read it/);
    const got = await my(bob, ['recover', join(src, 'acl', 'for-bob.txt'), '--to', join(src, 'shared', `for-bob-${tag}.txt`), '--json']);
    assert.equal(got.code, 0, show(['recover for-bob as bob'], got));
    assert.equal(readFileSync(join(src, 'shared', `for-bob-${tag}.txt`), 'utf8'), 'bob may read this\n');
    assert.equal(statSync(join(src, 'shared', `for-bob-${tag}.txt`)).uid, bob.uid);
  });

  test('a directory renamed between two points: each point is judged as it was', async () => {
    const plan = join(src, 'bob-pub', 'plan.txt');
    const r = await my(alice, ['versions', plan, '--json']);
    assert.equal(r.code, 0, show(['versions plan'], r));
    const v = r.json<{ versions: Array<{ points: Array<{ id: string }> }> }>().versions;
    assert.deepEqual(v.flatMap((x) => x.points.map((p) => p.id)).includes(p2.id), false, 'the point where plan.txt sits in a 0700 directory is not shown');
    await expectCode(alice, ['recover', plan, '--point', p2.id.slice(0, 8)], 4);
    const out = join(src, 'shared');
    const ok = await my(alice, ['recover', plan, '--point', p1.id, '--to', join(out, `plan-${tag}.txt`), '--json']);
    assert.equal(ok.code, 0, show(['recover plan p1'], ok));
    assert.equal(readFileSync(join(out, `plan-${tag}.txt`), 'utf8'), 'public plan\n');
  });

  test('alice recovers her own file next to the original, as herself; a second time does not overwrite', async () => {
    const notes = join(src, 'alice', 'notes.txt');
    const r = await my(alice, ['recover', notes, '--point', p1.id, '--json']);
    assert.equal(r.code, 0, show(['recover notes'], r));
    const to = r.json<{ to: string }>().to;
    assert.match(to, new RegExp(`^${join(src, 'alice')}/notes\\.txt \\(recovered \\d{4}-\\d\\d-\\d\\d \\d{4}\\)$`));
    assert.equal(readFileSync(to, 'utf8'), 'alice v1\n');
    const st = statSync(to);
    assert.equal(st.uid, alice.uid);
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(readFileSync(notes, 'utf8'), 'alice v2, longer\n', 'the original is untouched');
    const again = await my(alice, ['recover', notes, '--point', p1.id, '--to', to]);
    assert.equal(again.code, 9, show(['recover again'], again));
    const over = await my(alice, ['recover', notes, '--point', p1.id, '--conflict', 'overwrite']);
    assert.equal(over.code, 0, show(['recover --conflict overwrite'], over));
    assert.equal(readFileSync(notes, 'utf8'), 'alice v1\n');
    assert.ok(!readdirSync(join(src, 'alice')).some((n) => n.includes('.custos-')), 'no temporary file is left');
  });

  test("alice cannot recover Bob's file, nor write her own where she could not write", async () => {
    const before = readdirSync(join(src, 'bob'));
    await expectCode(alice, ['recover', join(src, 'shared', 'hardlink'), '--to', join(src, 'shared', `x-${tag}`)], 4);
    assert.equal(existsSync(join(src, 'shared', `x-${tag}`)), false);
    await expectCode(alice, ['recover', join(src, 'alice', 'notes.txt'), '--to', join(src, 'bob', 'stolen.txt')], 12, /may not write there/);
    await expectCode(alice, ['recover', join(src, 'alice', 'notes.txt'), '--to', '/etc/custos-my-test'], 12);
    assert.deepEqual(readdirSync(join(src, 'bob')), before);
    assert.equal(existsSync('/etc/custos-my-test'), false);
  });

  test('a crafted request cannot name another user or a relative path', async () => {
    const ask = (line: string) => new Promise<string>((resolve, reject) => {
      const c = createConnection(socket);
      let got = '';
      c.on('connect', () => c.write(line + '\n'));
      c.on('data', (d) => (got += d.toString()));
      c.on('end', () => resolve(got));
      c.on('error', reject);
    });
    const spoof = JSON.parse(await ask(JSON.stringify({ op: 'versions', path: join(src, 'bob', 'secret.txt'), uid: bob.uid }))) as { ok: boolean; error: { code: string; message: string } };
    assert.equal(spoof.ok, false);
    assert.match(spoof.error.message, /unknown field "uid"/);
    const relative = JSON.parse(await ask(JSON.stringify({ op: 'versions', path: 'bob/secret.txt' }))) as { ok: boolean; error: { message: string } };
    assert.match(relative.error.message, /must be absolute/);
    const junk = JSON.parse(await ask('not json')) as { ok: boolean; error: { code: string } };
    assert.equal(junk.error.code, 'usage');
    // Only this computer's data sources: a path no source of this agent protects.
    await expectCode(alice, ['versions', join(REPO_ROOT, 'package.json')], 4, /not protected on this computer/);
  });
});
