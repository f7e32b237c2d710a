/**
 * The recovery targets that are not an agent, end to end (a real protection
 * server, a real agent process, the real CLI):
 *
 * - `--to download:FILE.tar|.tar.zst|.zip`: the archive the server streams
 *   is extracted with GNU tar (xattrs and ACLs included) and unzip, and the
 *   tree compared bit for bit with the protected one: contents, modes,
 *   owners, times (to the nanosecond through tar), symlinks, hard links,
 *   xattrs, POSIX ACLs, a 300-byte path and a name that is not UTF-8;
 *   items, an existing FILE, a missing item, a scope, the audit log;
 * - `--to server:/path`: a recovery job on the server into a folder under
 *   --recovery-dir, and refusals for a path outside, one that escapes by
 *   `..` or by a symbolic link, a role that may not, and a server with no
 *   recovery directories.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTempDirs, describeCli, diffDigests, makeTempDir, treeDigest, treePath, writeTree } from '../helpers/tree.js';
import { attachAgent, stopAllProcesses, type ApiJob, type ApiPoint } from '../helpers/server.js';
import { protectAndWaitFirstPoint, startInProcessServer, type InProcessServer } from '../helpers/in-process-server.js';

const T1 = Date.UTC(2026, 1, 20, 9, 30, 0, 123);
const isRoot = process.getuid?.() === 0;
const longDir = 'L'.repeat(200);
const longFile = 'f'.repeat(99);
const rawName = Buffer.from([0x72, 0x61, 0x77, 0xe9, 0xff]); // "raw\xe9\xff": not UTF-8
const NS_MTIME = '1767225600.123456789';

describe('recovery targets: downloads and server folders', { timeout: 300_000, skip: !isRoot && 'owners, xattrs and ACLs need root' }, () => {
  let s: InProcessServer;
  let work: string;
  let src: string;
  let source: string;
  let point: ApiPoint;
  let recoveryDir: string;

  before(async () => {
    work = (await makeTempDir('custos-e2e-targets-')).path;
    recoveryDir = join(work, 'recovered');
    mkdirSync(recoveryDir);
    s = await startInProcessServer(join(work, 'server'), { recoveryDirs: [recoveryDir] });
    const agent = await attachAgent(s.server, 't1');
    await agent.start();
    src = join(work, 'src');
    await writeTree(src, [
      ['a.txt', { content: 'alpha\n', mode: 0o640 }],
      ['bin/run', { content: '#!/bin/sh\necho hi\n', mode: 0o4755 }],
      ['big.bin', { random: { size: 3 * 1024 * 1024 + 17, seed: 'big' }, mode: 0o600 }],
      ['empty', ''],
      ['sub', { type: 'dir', mode: 0o750 }],
      ['sub/b.txt', 'bravo\n'],
      ['sub/link', { type: 'symlink', target: '../a.txt' }],
      ['sub/hard', { type: 'hardlink', target: 'a.txt' }],
      [`${longDir}/${longFile}`, 'a path of 300 bytes\n'],
      [Buffer.concat([Buffer.from('sub/'), rawName]), 'not utf-8\n'],
    ], { mtimeMs: T1 });
    chownSync(join(src, 'sub/b.txt'), 1234, 2345);
    execFileSync('setfattr', ['-n', 'user.colour', '-v', 'blue', join(src, 'a.txt')]);
    execFileSync('setfattr', ['-n', 'user.note', '-v', 'a directory', join(src, 'sub')]);
    execFileSync('setfacl', ['-m', 'u:4:r', join(src, 'sub/b.txt')]);
    execFileSync('touch', ['-h', '-d', `@${NS_MTIME}`, join(src, 'empty')]);
    execFileSync('mkfifo', [join(src, 'pipe')]);
    execFileSync('touch', ['-d', `@${T1 / 1000}`, join(src, 'pipe'), src]);
    source = `t1:fs:${src}`;
    point = await protectAndWaitFirstPoint(s, 'targets', source);
  });

  after(async () => {
    await stopAllProcesses();
    await s?.close();
    await cleanupTempDirs();
  });

  const download = (file: string, extra: string[] = [], token?: string) =>
    s.server.cli(['recover', source, '--point', point.id, '--to', `download:${file}`, ...extra], { timeoutMs: 120_000, ...(token ? { token } : {}) });

  async function expectSameTree(out: string, leave: string[] = []): Promise<void> {
    const want = await treeDigest(src, { owner: true });
    const got = await treeDigest(out, { owner: true });
    for (const k of leave) want.delete(k);
    assert.deepEqual(diffDigests(want, got), []);
  }

  const attr = (path: string, name: string) => execFileSync('getfattr', ['--only-values', '-n', name, path]).toString();

  test('tar: GNU tar extracts the protected tree bit for bit (owners, ns times, links, xattrs, ACLs, long and raw names)', async () => {
    const file = join(work, 'point.tar');
    const r = await download(file);
    assert.equal(r.code, 0, describeCli(['recover'], r));
    assert.match(r.stdout, new RegExp(`recovery point ${point.id} written to ${file}`));
    assert.ok(!existsSync(`${file}.partial`));
    assert.equal(lstatSync(file).mode & 0o777, 0o600);
    const out = join(work, 'from-tar');
    mkdirSync(out);
    const x = spawnSync('tar', ['--xattrs', '--xattrs-include=*', '--acls', '--numeric-owner', '-xpf', file, '-C', out]);
    assert.equal(x.status, 0, x.stderr.toString());
    await expectSameTree(out);
    assert.equal(lstatSync(join(out, 'sub/hard')).ino, lstatSync(join(out, 'a.txt')).ino, 'the hard link is a hard link');
    assert.equal(lstatSync(join(out, 'empty'), { bigint: true }).mtimeNs, lstatSync(join(src, 'empty'), { bigint: true }).mtimeNs);
    assert.equal(attr(join(out, 'a.txt'), 'user.colour'), 'blue');
    assert.equal(attr(join(out, 'sub'), 'user.note'), 'a directory');
    assert.match(execFileSync('getfacl', ['-cn', join(out, 'sub/b.txt')]).toString(), /user:4:r--/);
    assert.equal(readFileSync(treePath(out, Buffer.concat([Buffer.from('sub/'), rawName]))).toString(), 'not utf-8\n');
  });

  test('tar.zst: the same tree through zstd', async () => {
    const file = join(work, 'point.tar.zst');
    const r = await download(file);
    assert.equal(r.code, 0, describeCli(['recover'], r));
    assert.equal(readFileSync(file).readUInt32LE(0), 0xfd2fb528, 'a zstd frame');
    const out = join(work, 'from-zst');
    mkdirSync(out);
    const x = spawnSync('tar', ['--zstd', '--xattrs', '--xattrs-include=*', '--acls', '--numeric-owner', '-xpf', file, '-C', out]);
    assert.equal(x.status, 0, x.stderr.toString());
    await expectSameTree(out);
  });

  test('zip: unzip extracts contents, modes, times, owners and symlinks; python sees the raw name; what zip cannot hold is left out with a warning', async () => {
    const file = join(work, 'point.zip');
    const r = await download(file);
    assert.equal(r.code, 0, describeCli(['recover'], r));
    assert.match(r.stderr, /pipe: left out: a zip archive cannot hold a fifo/);
    const out = join(work, 'from-zip');
    const x = spawnSync('unzip', ['-q', '-X', '-K', file, '-d', out]);
    assert.equal(x.status, 0, x.stderr.toString());
    // Left aside: the root (zip has no entry for it), the fifo, and the raw name (Debian's unzip drops its 0xff byte);
    // zip keeps times to the second (checked below).
    const want = await treeDigest(src, { owner: true, root: false, mtime: false });
    const got = await treeDigest(out, { owner: true, root: false, mtime: false });
    for (const k of ['pipe', `sub/${rawName.toString('latin1')}`]) want.delete(k);
    for (const k of [...got.keys()].filter((k) => k.startsWith('sub/raw'))) got.delete(k);
    assert.deepEqual(diffDigests(want, got), []);
    const names = execFileSync('python3', ['-c', 'import sys, zipfile; [print(i.orig_filename.encode("cp437" if not i.flag_bits & 0x800 else "utf-8").hex()) for i in zipfile.ZipFile(sys.argv[1]).infolist()]', file]).toString();
    assert.equal(lstatSync(join(out, 'a.txt')).mtimeMs, Math.floor(T1 / 1000) * 1000);
    assert.ok(names.split('\n').includes(Buffer.concat([Buffer.from('sub/'), rawName]).toString('hex')), 'the raw name is stored byte for byte');
  });

  test('items, an existing file, a missing item, a scope, and the audit log', async () => {
    const file = join(work, 'sub.tar');
    const r = await download(file, ['--item', 'sub', '--item', `${src}/a.txt`]);
    assert.equal(r.code, 0, describeCli(['recover'], r));
    const listing = execFileSync('tar', ['--quoting-style=literal', '-tf', file]).toString().split('\n').filter(Boolean).sort();
    assert.deepEqual(listing, ['a.txt', 'sub/', 'sub/b.txt', 'sub/hard', 'sub/link', `sub/${rawName.toString('latin1')}`].map((n) => Buffer.from(n, 'latin1').toString()).sort());

    const again = await download(file, ['--item', 'sub']);
    assert.equal(again.code, 9, describeCli(['recover'], again));
    assert.match(again.stderr, /exists: give another file name, or --force/);
    const forced = await download(file, ['--item', 'sub', '--force']);
    assert.equal(forced.code, 0, describeCli(['recover'], forced));

    const missing = join(work, 'missing.zip');
    const m = await download(missing, ['--item', 'nope/none']);
    assert.equal(m.code, 4, describeCli(['recover'], m));
    assert.match(m.stderr, /not in recovery point .*nope\/none/);
    assert.ok(!existsSync(missing) && !existsSync(`${missing}.partial`));

    const other = (await s.server.cli(['token', 'create', '--name', 'helpdesk', '--role', 'recovery-operator', '--scope', `source:${source}`])).stdout.trim();
    const scoped = await download(join(work, 'scoped.tar'), [], other);
    assert.equal(scoped.code, 0, describeCli(['recover'], scoped));
    const viewer = (await s.server.cli(['token', 'create', '--name', 'viewer', '--role', 'viewer'])).stdout.trim();
    const refused = await download(join(work, 'viewer.tar'), [], viewer);
    assert.equal(refused.code, 12, describeCli(['recover'], refused));

    const audit = await s.server.cliJson<Array<{ actor: string; outcome: string; target: string; detail: string }>>(['audit', 'list', '--action', 'recovery.download', '--json']);
    const ok = audit.filter((a) => a.outcome === 'ok');
    assert.ok(ok.length >= 5, JSON.stringify(audit));
    assert.ok(ok.every((a) => a.target === source));
    const detail = JSON.parse(ok.find((a) => a.actor === 'helpdesk')!.detail) as { point: string; format: string };
    assert.equal(detail.point, point.id);
    assert.equal(detail.format, 'tar');
    assert.ok(audit.some((a) => a.outcome === 'denied' && a.actor === 'viewer'));
  });

  /** `custos recover … --to server:PATH --wait --json`. */
  async function toServer(path: string, token?: string) {
    const args = ['recover', source, '--point', point.id, '--to', `server:${path}`, '--wait', '--json', '--timeout', '2m'];
    return s.server.cli(args, { timeoutMs: 150_000, ...(token ? { token } : {}) });
  }

  test('server:/path under a recovery directory: a recovery job on the server writes the tree there', async () => {
    const target = join(recoveryDir, 'first');
    const r = await toServer(target);
    assert.equal(r.code, 0, describeCli(['recover'], r));
    const job = JSON.parse(r.stdout) as ApiJob;
    assert.equal(job.kind, 'recovery');
    assert.equal(job.agent, null);
    assert.equal(job.state, 'succeeded');
    assert.equal(job.result?.['target'], target);
    assert.ok(job.log?.some((l) => l.message.includes(`recovering to ${target} on the protection server`)));
    await expectSameTree(target);
    assert.equal(attr(join(target, 'a.txt'), 'user.colour'), 'blue');
    const audit = await s.server.cliJson<Array<{ detail: string }>>(['audit', 'list', '--action', 'recovery', '--json', '--limit', '1']);
    assert.match(audit[0]!.detail, new RegExp(`server:${target}`));
  });

  test('server targets outside the recovery directories, through .. or a symbolic link, or asked by a recovery-operator are refused; nothing is written', async () => {
    const outside = join(work, 'outside');
    mkdirSync(outside);
    symlinkSync(outside, join(recoveryDir, 'escape'));
    const jobsBefore = (await s.server.cliJson<ApiJob[]>(['job', 'list', '--kind', 'recovery', '--json'])).length;
    for (const [path, why] of [
      [join(work, 'elsewhere'), /is not under a recovery directory/],
      [`${recoveryDir}/../outside/x`, /'\.\.' is not allowed/],
      [join(recoveryDir, 'escape'), /resolves to .*outside.* is not under a recovery directory/],
      [join(recoveryDir, 'escape', 'deeper'), /resolves to .*outside.* is not under a recovery directory/],
      [join(work, 'server', 'pool'), /is not under a recovery directory/],
    ] as const) {
      const r = await toServer(path);
      assert.equal(r.code, 12, describeCli(['recover', path], r));
      assert.match(r.stderr, why);
    }
    const ro = (await s.server.cli(['token', 'create', '--name', 'ro2', '--role', 'recovery-operator', '--scope', `source:${source}`])).stdout.trim();
    const byRo = await toServer(join(recoveryDir, 'ro'), ro);
    assert.equal(byRo.code, 12, describeCli(['recover'], byRo));
    assert.match(byRo.stderr, /only an admin or an operator/);
    assert.deepEqual(readdirSync(outside), []);
    assert.ok(!existsSync(join(recoveryDir, 'ro')));
    assert.equal((await s.server.cliJson<ApiJob[]>(['job', 'list', '--kind', 'recovery', '--json'])).length, jobsBefore, 'no job was queued');
  });

  test('a server started without --recovery-dir refuses server targets', async () => {
    const bare = await startInProcessServer(join(work, 'bare-server'));
    try {
      const r = await bare.server.cli(['recover', 'x:fs:/y', '--point', 'abcd', '--to', `server:${recoveryDir}/x`]);
      assert.equal(r.code, 12, describeCli(['recover'], r));
      assert.match(r.stderr, /no recovery directories: an administrator starts it with --recovery-dir/);
    } finally {
      await bare.close();
    }
    writeFileSync(join(work, 'not-a-dir'), '');
    await assert.rejects(startInProcessServer(join(work, 'bad-server'), { recoveryDirs: [join(work, 'not-a-dir')] }), /is not a directory/);
    await assert.rejects(startInProcessServer(join(work, 'bad-server2'), { recoveryDirs: [work] }), /overlaps the server's data directory/);
  });
});
