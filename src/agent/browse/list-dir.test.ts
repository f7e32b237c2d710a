/**
 * One page of a live directory: byte order, paging with a cursor until the
 * last page, lstat (a link is listed as a link, never followed), sizes,
 * names that are not text, mount points, the bound on names read, and the
 * errors an admin reads (not found, not a directory, permission denied,
 * paths that are not absolute and canonical).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalBase64, nameBytes, type DirEntry, type ListDirAnswer } from '../../protocol/index.js';
import { listDir } from './list-dir.js';
import { refusal } from '../../../test/helpers/refusal.js';

async function tree(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'custos-list-dir-'));
  await mkdir(join(dir, 'b-dir'));
  await writeFile(join(dir, 'a.txt'), 'hello');
  await writeFile(join(dir, 'B.txt'), '');
  await writeFile(join(dir, 'é.txt'), 'x'.repeat(1234));
  await symlink('/etc', join(dir, 'c-link'));
  await symlink('missing', join(dir, 'dangling'));
  await writeFile(Buffer.from(join(dir, '\u001b[31mred')), 'x');
  await writeFile(Buffer.concat([Buffer.from(dir + '/'), Buffer.from([0x7a, 0xff])]), 'bytes');
  return dir;
}

async function everything(path: string, limit: number): Promise<{ entries: DirEntry[]; pages: ListDirAnswer[] }> {
  const pages: ListDirAnswer[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await listDir(path, { limit, after });
    pages.push(page);
    assert.ok(pages.length < 100, 'paging does not end');
    if (page.next === null) break;
    after = page.next;
  }
  return { entries: pages.flatMap((p) => p.entries), pages };
}


test('entries in byte order, a page at a time, links not followed, sizes of files only, names that are not text marked', async (t) => {
  const dir = await tree();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const all = await listDir(dir, { limit: 1000 });
  assert.equal(all.next, null);
  assert.equal(all.path, dir);
  assert.deepEqual(all.entries.map((e) => nameBytes(e).toString('latin1')), [
    '\u001b[31mred', 'B.txt', 'a.txt', 'b-dir', 'c-link', 'dangling', 'z\u00ff', Buffer.from('é.txt').toString('latin1'),
  ]);
  const by = new Map(all.entries.map((e) => [e.name, e]));
  assert.deepEqual(by.get('a.txt'), { name: 'a.txt', type: 'file', size: 5 });
  assert.deepEqual(by.get('é.txt'), { name: 'é.txt', type: 'file', size: 1234 });
  assert.deepEqual(by.get('b-dir'), { name: 'b-dir', type: 'dir', size: 0 });
  assert.deepEqual(by.get('c-link'), { name: 'c-link', type: 'symlink', size: 0 }, 'a link to a directory is a link');
  assert.deepEqual(by.get('dangling'), { name: 'dangling', type: 'symlink', size: 0 });
  // Control characters and bytes that are not UTF-8: shown as U+FFFD, the bytes beside.
  assert.deepEqual(by.get('\ufffd[31mred'), { name: '\ufffd[31mred', nameBase64: Buffer.from('\u001b[31mred').toString('base64'), type: 'file', size: 1 });
  assert.deepEqual(canonicalBase64(by.get('z\ufffd')!.nameBase64!), Buffer.from([0x7a, 0xff]));

  for (const limit of [1, 2, 3, 7]) {
    const { entries, pages } = await everything(dir, limit);
    assert.deepEqual(entries, all.entries, `pages of ${limit}`);
    assert.equal(pages.length, Math.ceil(all.entries.length / limit), 'a full last page says it is the last');
    for (const p of pages.slice(0, -1)) assert.equal(p.entries.length, limit);
  }
  const page = await listDir(dir, { limit: 2, after: Buffer.from('b-dir').toString('base64') });
  assert.deepEqual(page.entries.map((e) => e.name), ['c-link', 'dangling']);
  const past = await listDir(dir, { limit: 2, after: Buffer.from([0xff]).toString('base64') });
  assert.deepEqual(past, { kind: 'list-dir', path: dir, entries: [], next: null });
});

test('a big directory is paged without error, whatever order readdir gives', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'custos-list-big-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const names = Array.from({ length: 3000 }, (_, i) => `f${((i * 7919) % 3000).toString(36)}`);
  await Promise.all(names.map((n) => writeFile(join(dir, n), '')));
  const { entries } = await everything(dir, 1000);
  assert.deepEqual(entries.map((e) => e.name), [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
  const bounded = await refusal(listDir(dir, { limit: 10, maxScannedNames: 2999 }));
  assert.equal(bounded.code, 'usage');
  assert.match(bounded.message, /holds more than 2,999 entries: too many to list in name order; type the path instead/);
});

test('mount points: an entry on another file system than its directory is marked', async () => {
  const root = await stat('/');
  const proc = await stat('/proc').catch(() => null);
  const r = await listDir('/', { limit: 1000 });
  const entry = r.entries.find((e) => e.name === 'proc');
  if (!proc || proc.dev === root.dev) {
    assert.equal(entry?.mountPoint, undefined);
    return;
  }
  assert.deepEqual(entry, { name: 'proc', type: 'dir', size: 0, mountPoint: true });
  const tmp = r.entries.find((e) => e.name === 'tmp');
  if (tmp && (await stat('/tmp')).dev === root.dev) assert.equal(tmp.mountPoint, undefined, '/tmp is on / here');
  // Inside /proc, its own entries are on its file system.
  const self = (await listDir('/proc', { limit: 1000 })).entries.find((e) => e.name === 'self');
  assert.deepEqual(self, { name: 'self', type: 'symlink', size: 0 });
});

test('errors the admin reads: not found, not a directory, not absolute or not canonical', async (t) => {
  const dir = await tree();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const cases: Array<[string, string, RegExp]> = [
    [join(dir, 'nope'), 'not-found', /^no such directory: .*\/nope$/],
    [join(dir, 'a.txt'), 'usage', /^not a directory: .*a\.txt$/],
    [join(dir, 'a.txt', 'x'), 'usage', /^not a directory: /],
    ['relative/path', 'usage', /must be absolute/],
    [`${dir}/../etc`, 'usage', /must not contain '\.\.'/],
    [`${dir}/`, 'usage', /without empty or '\.' components: /],
    [`${dir}/./b-dir`, 'usage', /without empty or '\.' components: /],
    [`${dir}\u0000`, 'usage', /NUL/],
  ];
  for (const [path, code, message] of cases) {
    const err = await refusal(listDir(path, { limit: 10 }));
    assert.equal(err.code, code, path);
    assert.match(err.message, message, path);
  }
  assert.equal((await refusal(listDir(dir, { limit: 10, after: 'Li4=' }))).code, 'usage', 'a cursor of ..');
  // The listed path itself may be a link to a directory (as `ls PATH` would); its entries are never followed.
  const viaLink = await listDir(join(dir, 'c-link'), { limit: 1000 });
  assert.ok(viaLink.entries.some((e) => e.name === 'passwd' || e.name === 'hostname'));
});

test('permission denied, as a user who may not read the directory', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'custos-list-denied-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await chmod(dir, 0o755);
  await mkdir(join(dir, 'closed'), { mode: 0o700 });
  await chmod(join(dir, 'closed'), 0o000);
  const closed = join(dir, 'closed');
  if (process.getuid?.() !== 0) {
    const err = await refusal(listDir(closed, { limit: 10 }));
    assert.equal(err.code, 'denied');
    assert.equal(err.message, `permission denied: ${closed}`);
    return;
  }
  // Root reads every local directory: run the listing as nobody (setpriv drops root's capabilities too).
  const moduleUrl = new URL('./list-dir.js', import.meta.url).href;
  const script = `import(${JSON.stringify(moduleUrl)}).then((m) => m.listDir(${JSON.stringify(closed)}, { limit: 10 })).then(() => console.log('listed'), (e) => console.log(JSON.stringify({ code: e.code, message: e.message })))`;
  let out: string;
  try {
    out = execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8' });
  } catch (err) {
    t.skip(`cannot run as nobody here (setpriv: ${(err as Error).message.split('\n')[0]})`);
    return;
  }
  assert.deepEqual(JSON.parse(out.trim()), { code: 'denied', message: `permission denied: ${closed}` });
});
