/**
 * My files in a real browser: console users linked to real local accounts
 * (made here with useradd) on a computer protected by a real agent. Alice,
 * an end-user, sees only what her account could read — her own directory
 * and the shared file, never Bob's — browses, searches and downloads her
 * file; every way around it through the API answers as if Bob's files did
 * not exist. An admin without a link gets no My files; linking needs the
 * account to exist on that computer.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { addConsoleUsers, launchBrowser, signInWindow, type TestBrowser } from '../helpers/browser.js';
import { addLocalAccount, canAddAccounts, removeLocalAccounts, type LocalAccount } from '../helpers/local-accounts.js';
import { attachAgent, startServer, stopAllProcesses, type TestServer } from '../helpers/server.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tree.js';

const PASSWORD = 'correct horse battery staple';
describe('My files in the console', { skip: canAddAccounts ? false : 'needs root and useradd', timeout: 600_000 }, () => {
  const tag = randomBytes(3).toString('hex');
  let server: TestServer;
  let browser: TestBrowser;
  let src: string;
  let alice: LocalAccount;

  before(async () => {
    alice = addLocalAccount(`cwa${tag}`);
    const bob = addLocalAccount(`cwb${tag}`);
    const work = (await makeTempDir('custos-my-files-')).path;
    chmodSync(work, 0o755);
    src = join(work, 'home');
    mkdirSync(src, { mode: 0o755 });
    chmodSync(src, 0o755);
    const own = (p: string, a: LocalAccount, mode: number) => {
      chownSync(p, a.uid, a.gid);
      chmodSync(p, mode);
    };
    mkdirSync(join(src, 'alice'));
    own(join(src, 'alice'), alice, 0o700);
    writeFileSync(join(src, 'alice', 'thesis.txt'), 'chapter one\n'.repeat(500));
    own(join(src, 'alice', 'thesis.txt'), alice, 0o600);
    mkdirSync(join(src, 'bob'));
    own(join(src, 'bob'), bob, 0o700);
    writeFileSync(join(src, 'bob', 'salary.txt'), 'bob secret\n');
    own(join(src, 'bob', 'salary.txt'), bob, 0o600);
    writeFileSync(join(src, 'bob-private.txt'), 'bob only\n');
    own(join(src, 'bob-private.txt'), bob, 0o600);
    writeFileSync(join(src, 'menu.txt'), 'for everyone\n');
    own(join(src, 'menu.txt'), bob, 0o644);

    server = await startServer();
    const agent = await attachAgent(server, 'pc1');
    await agent.start();
    const source = `pc1:fs:${src}`;
    const g = await server.cli(['group', 'create', 'homes', '--source', source, '--end-user-recovery', 'on']);
    assert.equal(g.code, 0, g.stderr);
    const p = await server.cli(['point', 'create', source, '--wait', '--timeout', '3m'], { timeoutMs: 200_000 });
    assert.equal(p.code, 0, p.stderr);
    await addConsoleUsers(server, PASSWORD, [['alice', 'end-user', '--link', `pc1:${alice.name}`], ['ada', 'admin']]);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await stopAllProcesses();
    await cleanupTempDirs();
    removeLocalAccounts();
  });

  const signIn = (name: string): Promise<Page> => signInWindow(browser, server.url, name, PASSWORD);

  test('linking needs an account that exists on that computer; the link shows who the account is', async () => {
    const pw = join((await makeTempDir('custos-my-pw-')).path, 'pw');
    writeFileSync(pw, `${PASSWORD}\n`, { mode: 0o600 });
    const r = await server.cli(['user', 'add', 'nobody-here', '--role', 'end-user', '--link', `pc1:no${tag}`, '--password-file', pw]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`no account no${tag} on this computer`));
    const unlinked = await server.cli(['user', 'add', 'eu2', '--role', 'end-user', '--password-file', pw]);
    assert.notEqual(unlinked.code, 0);
    assert.match(unlinked.stderr, /--link AGENT:ACCOUNT/);
    const users = await server.cliJson<Array<{ name: string; link: { account: string; uid: number; gid: number; groups: number[] } | null }>>(['user', 'list', '--json']);
    const a = users.find((u) => u.name === 'alice')!;
    assert.deepEqual({ account: a.link?.account, uid: a.link?.uid, gid: a.link?.gid }, { account: alice.name, uid: alice.uid, gid: alice.gid });
    assert.ok(a.link!.groups.includes(alice.gid));
    assert.equal(users.find((u) => u.name === 'ada')!.link, null);
    assert.ok(!users.some((u) => u.name === 'nobody-here' || u.name === 'eu2'), 'nothing was made of the refused users');
  });

  test('an end-user sees only My files, and in it only what the account could read', async () => {
    const page = await signIn('alice');
    await page.getByRole('heading', { name: 'My files' }).waitFor();
    const areas = await page.getByRole('navigation', { name: 'Task areas' }).getByRole('link').allTextContents();
    assert.deepEqual(areas, ['My files']);
    const rows = page.locator('tr[data-my-item]');
    await rows.first().waitFor();
    const seen = (await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-my-item')))).sort();
    assert.deepEqual(seen, [join(src, 'alice'), join(src, 'menu.txt')]);
    await page.getByRole('button', { name: 'alice/' }).click();
    await page.locator(`tr[data-my-item="${join(src, 'alice', 'thesis.txt')}"]`).waitFor();
    await browser.screenshot(page, 'my-files');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download thesis.txt' }).click()]);
    assert.equal(download.suggestedFilename(), 'thesis.txt');
    const file = join((await makeTempDir('custos-my-dl-')).path, 'thesis.txt');
    await download.saveAs(file);
    assert.equal(await readFile(file, 'utf8'), 'chapter one\n'.repeat(500));
    await page.getByRole('status').filter({ hasText: 'Saved thesis.txt' }).waitFor();

    await page.getByRole('button', { name: 'Search all points' }).click();
    await page.getByLabel('Pattern').fill('*.txt');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.locator('tr[data-my-hit]').first().waitFor();
    const hits = (await page.locator('tr[data-my-hit]').evaluateAll((els) => els.map((e) => e.getAttribute('data-my-hit')))).sort();
    assert.deepEqual(hits, [join(src, 'alice', 'thesis.txt'), join(src, 'menu.txt')]);
  });

  test("Bob's files answer as if they did not exist, by every way through the API; other calls are refused", async () => {
    const page = await signIn('alice');
    await page.getByRole('heading', { name: 'My files' }).waitFor();
    const get = (url: string) => page.evaluate(async (u) => {
      const r = await fetch(u, { credentials: 'same-origin' });
      return { status: r.status, text: await r.text() };
    }, url);
    const q = (p: string) => encodeURIComponent(p);
    for (const path of [join(src, 'bob', 'salary.txt'), join(src, 'bob-private.txt')]) {
      const r = await get(`/api/my/download?path=${q(path)}`);
      assert.equal(r.status, 404, r.text);
      assert.match(r.text, /no recovery point holds it, or you could not read it there/);
      assert.equal((await get(`/api/my/versions?path=${q(path)}`)).status, 404);
    }
    assert.equal((await get(`/api/my/files?path=${q(join(src, 'bob'))}`)).status, 404);
    const notFound = await get(`/api/my/download?path=${q(join(src, 'no-such-file'))}`);
    assert.equal(notFound.status, 404, 'a file that does not exist gets the same answer');
    assert.equal((await get(`/api/my/download?path=${q(`${src}/alice/../bob/salary.txt`)}`)).status, 400);
    assert.equal((await get(`/api/my/files?path=${q('/etc')}`)).status, 404, 'a path outside every protected directory');
    const search = JSON.parse((await get(`/api/my/search?path=${q(src)}&pattern=${q('**')}`)).text) as { hits: Array<{ path: string }> };
    assert.ok(!search.hits.some((h) => h.path.includes('bob')), JSON.stringify(search.hits));
    for (const url of ['/api/data-sources', '/api/jobs', '/api/agents', '/api/users']) assert.equal((await get(url)).status, 403, url);
  });

  test('an admin without a link has no My files; a download is in the audit log', async () => {
    const page = await signIn('ada');
    await page.getByRole('heading', { name: 'Alerts' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'My files' }).count(), 0);
    const r = await page.evaluate(async () => {
      const res = await fetch('/api/my', { credentials: 'same-origin' });
      return { status: res.status, text: await res.text() };
    });
    assert.equal(r.status, 404);
    assert.match(r.text, /is not linked to an account/);
    const audit = await server.cliJson<Array<{ action: string; actor: string; outcome: string; detail: string }>>(['audit', 'list', '--json']);
    const d = audit.find((e) => e.action === 'my.download' && e.outcome === 'ok');
    assert.ok(d, 'my.download audited');
    assert.equal(d.actor, 'user alice');
    assert.match(d.detail, new RegExp(`pc1:${alice.name}`));
  });
});
