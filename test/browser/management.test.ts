/**
 * The console's Management area in a real browser against a real protection
 * server and real agents (separate processes): a second computer attached
 * with the token and the command the page shows, then removed; a user added
 * on the page signs in; a token created on the page works with the CLI until
 * it is revoked there; a pool verification and a catalog backup followed to
 * their end; the audit log; and what a viewer and a recovery-operator are
 * not offered. Screenshots go to test-output/screenshots/management-*.png.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { addConsoleUsers, launchBrowser, signInWindow, type TestBrowser } from '../helpers/browser.js';
import { attachAgent, startAgentProcess, startServer, stopAllProcesses, waitIdle, type LiveProcess, type TestServer } from '../helpers/server.js';
import { cleanupTempDirs, describeCli, makeTempDir, runCli, writeTree } from '../helpers/tree.js';

const PASSWORD = 'correct horse battery staple';
const NO_SERVER_ENV = { CUSTOS_SERVER: undefined, CUSTOS_TOKEN: undefined, CUSTOS_CA: undefined };

describe('the Management area in a browser', () => {
  let server: TestServer;
  let browser: TestBrowser;
  let source: string;

  before(async () => {
    server = await startServer();
    const agent = await attachAgent(server, 'pc1');
    await agent.start();
    const sourceDir = join((await makeTempDir('custos-mgmt-src-')).path, 'data');
    await writeTree(sourceDir, { 'a.txt': 'alpha\n', 'docs/b.txt': 'beta\n'.repeat(1000) });
    source = `pc1:fs:${sourceDir}`;
    const g = await server.cli(['group', 'create', 'office', '--source', source, '--sync', '24h', '--points', '23:00']);
    assert.equal(g.code, 0, g.stderr);
    await waitIdle(server, 120_000);
    await addConsoleUsers(server, PASSWORD, [['ada', 'admin'], ['vic', 'viewer'], ['rita', 'recovery-operator', '--scope', 'group:office']]);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await stopAllProcesses();
    await cleanupTempDirs();
  });

  const signIn = async (name: string, password = PASSWORD): Promise<Page> => {
    const page = await signInWindow(browser, server.url, name, password);
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    return page;
  };
  const openTab = async (page: Page, tab: string, heading: string) => {
    await page.getByRole('navigation', { name: 'Task areas' }).getByRole('link', { name: 'Management' }).click();
    await page.getByRole('navigation', { name: 'Management' }).getByRole('link', { name: tab }).click();
    await page.getByRole('heading', { name: heading, exact: true }).waitFor();
  };

  test('Agents: a second computer attached with the token and command from the page appears connected, and is removed after a confirmation', async () => {
    const page = await signIn('ada');
    await openTab(page, 'Agents', 'Agents');
    await page.locator('tr[data-agent="pc1"]').getByText('connected').waitFor();
    assert.match(await page.locator('tr[data-agent="pc1"]').innerText(), new RegExp(source.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));

    await page.getByRole('button', { name: 'Attach a computer' }).click();
    await page.getByLabel('Token valid for').selectOption('30m');
    await page.getByRole('button', { name: 'Create an enrollment token' }).click();
    const commands = page.locator('[data-attach-commands]');
    await commands.waitFor();
    const token = (await page.locator('[data-enrollment-token]').innerText()).trim();
    const lines = (await commands.innerText()).trim().split('\n');
    assert.equal(lines.length, 2, lines.join('\n'));
    const origin = new URL(server.url).origin;
    assert.equal(lines[0], `npx custos agent attach --server ${origin} --token ${token} --data /var/lib/custos-agent`);
    assert.equal(lines[1], 'npx custos agent start --data /var/lib/custos-agent');
    await page.getByRole('button', { name: 'Copy the commands' }).waitFor();
    await page.getByText('Waiting for the computer to attach').waitFor();

    // Run the page's command as it is, with only the data directory (and a name) of this test.
    const args = lines[0]!.split(' ').slice(2); // without "npx custos"
    const dataDir = join((await makeTempDir('custos-mgmt-pc2-')).path, 'agent');
    args[args.indexOf('--data') + 1] = dataDir;
    const attach = await runCli([...args, '--name', 'pc2'], { env: NO_SERVER_ENV, timeoutMs: 60_000 });
    assert.equal(attach.code, 0, describeCli(args, attach));
    const pc2: LiveProcess = startAgentProcess(dataDir);
    await pc2.waitForOutput(/"msg":"connected to /, 30_000);

    const row = page.locator('tr[data-agent="pc2"]');
    await row.getByText('connected', { exact: true }).waitFor({ timeout: 20_000 }); // no reload: the list is read again while attaching
    await page.getByRole('status').filter({ hasText: 'Attached: pc2 (connected)' }).waitFor();
    await browser.screenshot(page, 'management-agents');

    // Removing asks first, in a modal dialog that Escape closes.
    await row.getByRole('button', { name: 'Remove agent pc2' }).click();
    const dialog = page.getByRole('dialog', { name: 'Remove agent pc2?' });
    await dialog.waitFor();
    assert.equal(await dialog.getAttribute('aria-modal'), 'true');
    assert.match(await dialog.innerText(), /certificate is revoked/);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await row.count(), 1, 'cancelled: still attached');
    await row.getByRole('button', { name: 'Remove agent pc2' }).click();
    await browser.screenshot(page, 'management-agent-remove');
    await dialog.getByRole('button', { name: 'Remove pc2' }).click();
    await dialog.waitFor({ state: 'detached' });
    await row.waitFor({ state: 'detached' });
    await page.getByRole('status').filter({ hasText: 'Agent pc2 removed' }).waitFor();
    const ended = await pc2.started.done;
    assert.notEqual(ended.code, 0, 'the removed agent stops');

    // pc1 has a data source in a group: the server refuses, and the dialog says why.
    await page.locator('tr[data-agent="pc1"]').getByRole('button', { name: 'Remove agent pc1' }).click();
    const refused = page.getByRole('dialog', { name: 'Remove agent pc1?' });
    await refused.getByRole('button', { name: 'Remove pc1' }).click();
    await refused.getByRole('alert').filter({ hasText: 'protection groups' }).waitFor();
    await refused.getByRole('button', { name: 'Cancel' }).click();
    await refused.waitFor({ state: 'detached' });
  });

  test('Users: a user added on the page signs in in another browser; a second add is refused next to its button; the audit log shows the creation', async () => {
    const page = await signIn('ada');
    await openTab(page, 'Users', 'Users');
    await page.locator('tr[data-user="ada"]').getByText('(you)').waitFor();
    await page.getByLabel('User name').fill('bob');
    await page.getByLabel('Role').selectOption('operator');
    await page.getByLabel('Password', { exact: true }).fill('bobs long password');
    await page.getByLabel('Password again').fill('bobs long passwort');
    await page.getByRole('alert').filter({ hasText: 'The two passwords differ.' }).first().waitFor();
    await page.getByRole('button', { name: 'Add user' }).click();
    assert.equal(await page.locator('tr[data-user="bob"]').count(), 0, 'not sent while the passwords differ');
    await page.getByLabel('Password again').fill('bobs long password');
    await page.getByRole('button', { name: 'Add user' }).click();
    const bob = page.locator('tr[data-user="bob"]');
    await bob.waitFor();
    assert.match(await bob.innerText(), /operator/);
    await browser.screenshot(page, 'management-users');

    // The server's refusal is shown beside the button that caused it.
    await page.getByLabel('User name').fill('bob');
    await page.getByLabel('Password', { exact: true }).fill('another long one');
    await page.getByLabel('Password again').fill('another long one');
    await page.getByRole('button', { name: 'Add user' }).click();
    const error = page.getByRole('alert').filter({ hasText: 'a user named bob exists' });
    await error.waitFor();
    assert.equal(await page.getByRole('button', { name: 'Add user' }).getAttribute('aria-describedby'), await error.getAttribute('id'));

    const other = await signIn('bob', 'bobs long password');
    await other.getByText('bob', { exact: false }).first().waitFor();
    await other.getByRole('link', { name: 'Management' }).click();
    await other.getByRole('heading', { name: 'Agents' }).waitFor();
    assert.equal(await other.getByRole('navigation', { name: 'Management' }).getByRole('link', { name: /Users|Tokens|Audit/ }).count(), 0, 'an operator does not manage access');

    // A role change in a dialog; it ends bob's sessions.
    await bob.getByRole('button', { name: 'Change user bob' }).click();
    const dialog = page.getByRole('dialog', { name: 'Change user bob' });
    await dialog.getByLabel('Role').selectOption('viewer');
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByRole('status').filter({ hasText: 'User bob: role viewer' }).waitFor();
    // The list reloads after the note shows: wait for the row to say so rather than read it at once.
    await bob.filter({ hasText: 'viewer' }).waitFor();

    // Five wrong passwords lock a name out; the list shows it, and a new password unlocks it.
    for (let i = 0; i < 5; i++) {
      const r = await server.request('POST', '/api/sign-in', { body: JSON.stringify({ name: 'vic', password: 'wrong' }) });
      assert.equal(r.status, 401, r.text);
    }
    await page.reload();
    const vic = page.locator('tr[data-user="vic"]');
    await vic.getByText('a new password unlocks').waitFor();
    await vic.getByRole('button', { name: 'Change user vic' }).click();
    const pw = page.getByRole('dialog', { name: 'Change user vic' });
    await pw.getByLabel('New password', { exact: true }).fill(PASSWORD);
    await pw.getByLabel('New password again').fill(PASSWORD);
    await pw.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('status').filter({ hasText: 'User vic: password changed' }).waitFor();
    await vic.getByText('a new password unlocks').waitFor({ state: 'detached' });

    await openTab(page, 'Audit log', 'Audit log');
    const created = page.locator('tr[data-audit="user.create"][data-outcome="ok"]').filter({ hasText: 'bob' });
    await created.waitFor();
    assert.match(await created.innerText(), /ada/);
    await page.locator('tr[data-audit="user.create"][data-outcome="failed"]').filter({ hasText: 'bob' }).waitFor(); // the refused second add
    await page.getByLabel('Action').fill('user.update');
    await page.locator('tr[data-audit="user.create"]').first().waitFor({ state: 'detached' });
    await page.locator('tr[data-audit="user.update"]').filter({ hasText: 'bob' }).waitFor();
    await page.getByLabel('Action').fill('');
    await created.waitFor();
    await browser.screenshot(page, 'management-audit');
  });

  test('Audit log: filtered by action, a hundred entries a page, Older reads the next page', async () => {
    for (let i = 0; i < 110; i++) {
      const r = await server.request('POST', '/api/pool/gc', { token: server.adminToken });
      assert.equal(r.status, 202, r.text);
    }
    const page = await signIn('ada');
    await openTab(page, 'Audit log', 'Audit log');
    await page.getByLabel('Action').fill('pool.gc');
    const rows = page.getByRole('table', { name: 'Audit log' }).locator('tbody tr');
    await page.locator('tr[data-audit="pool.gc"]').nth(99).waitFor();
    await page.locator('tr[data-audit="user.create"]').first().waitFor({ state: 'detached' });
    assert.equal(await rows.count(), 100);
    await page.getByRole('button', { name: 'Older' }).click();
    await page.getByRole('button', { name: 'Older' }).waitFor({ state: 'detached' });
    assert.equal(await rows.count(), 110);
    assert.equal(await page.locator('tr[data-audit="pool.gc"]').count(), 110, 'only the action asked for, none twice');
  });

  test('Tokens: a token created on the page works with the CLI; revoked on the page, the CLI is refused', async () => {
    const page = await signIn('ada');
    await openTab(page, 'Tokens', 'API tokens');
    await page.getByLabel('Token name').fill('nightly-script');
    await page.getByLabel('Role').selectOption('viewer');
    await page.getByLabel('Expires after').selectOption('30d');
    await page.getByRole('button', { name: 'Create token' }).click();
    const secret = (await page.locator('[data-token-secret]').innerText()).trim();
    assert.ok(secret.length >= 20, secret);
    await page.getByText('it is shown only once').waitFor();
    await page.getByRole('button', { name: 'Copy the secret' }).waitFor();
    await browser.screenshot(page, 'management-tokens');

    const env = { ...server.env(secret) };
    const ok = await runCli(['source', 'list'], { env, timeoutMs: 60_000 });
    assert.equal(ok.code, 0, describeCli(['source', 'list'], ok));
    assert.match(ok.stdout, /pc1:fs:/);

    await page.getByRole('button', { name: 'Done, I have copied it' }).click();
    assert.equal(await page.locator('[data-token-secret]').count(), 0, 'the secret is gone from the page');
    const row = page.locator('tr[data-token="nightly-script"]');
    await row.getByRole('button', { name: 'Revoke token nightly-script' }).click();
    const dialog = page.getByRole('dialog', { name: 'Revoke token nightly-script?' });
    await dialog.getByRole('button', { name: 'Revoke nightly-script' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByRole('status').filter({ hasText: 'Token nightly-script revoked.' }).waitFor();
    await row.waitFor({ state: 'detached' });
    await page.getByLabel('Show revoked tokens').check();
    await row.getByText('revoked').waitFor();

    const refused = await runCli(['source', 'list'], { env, timeoutMs: 60_000 });
    assert.equal(refused.code, 12, describeCli(['source', 'list'], refused));
  });

  test('Storage pool: directories with their use; a verification queued on the page finishes there', async () => {
    const page = await signIn('ada');
    await openTab(page, 'Storage pool', 'Storage pool');
    const dirs = page.getByRole('table', { name: 'Pool directories' });
    await dirs.locator('tbody tr').first().waitFor();
    assert.ok((await dirs.locator('meter').count()) >= 1, 'use shown as a meter');
    await page.getByRole('button', { name: 'Queue a verification' }).click();
    const note = page.getByRole('status').filter({ hasText: /Job \d+ \(verify\) queued/ });
    await note.waitFor();
    const id = /Job (\d+)/.exec(await note.innerText())![1]!;
    const row = page.getByRole('table', { name: 'Latest maintenance jobs' }).locator(`tr[data-job="${id}"]`);
    await row.getByText('succeeded', { exact: true }).waitFor({ timeout: 120_000 }); // live: no reload
    await browser.screenshot(page, 'management-pool');
  });

  test('Catalog backups: a backup taken on the page is followed until it has succeeded', async () => {
    const page = await signIn('ada');
    await openTab(page, 'Catalog backups', 'Catalog backups');
    await page.getByText('custos server catalog list --data DIR').waitFor();
    await page.getByRole('button', { name: 'Take a catalog backup now' }).click();
    const followed = page.locator('[data-followed-job]');
    await followed.getByText('succeeded', { exact: true }).waitFor({ timeout: 120_000 });
    const id = await followed.getAttribute('data-followed-job');
    await page.getByRole('table', { name: 'Latest catalog backup jobs' }).locator(`tr[data-job="${id}"]`).getByText('succeeded', { exact: true }).waitFor();
    await browser.screenshot(page, 'management-catalog');
  });

  test('a viewer sees no Users, Tokens or Audit tabs and no button that changes anything; a recovery-operator sees no Management', async () => {
    const page = await signIn('vic');
    await openTab(page, 'Agents', 'Agents');
    const tabs = await page.getByRole('navigation', { name: 'Management' }).getByRole('link').allInnerTexts();
    assert.deepEqual(tabs, ['Agents', 'Storage pool', 'Catalog backups', 'Notifications']);
    await page.locator('tr[data-agent="pc1"]').waitFor();
    const buttons = async () => (await page.locator('main').getByRole('button').allInnerTexts()).filter((b) => b !== 'Refresh');
    assert.deepEqual(await buttons(), [], 'Agents: nothing to change');
    await openTab(page, 'Storage pool', 'Storage pool');
    await page.getByRole('table', { name: 'Pool directories' }).waitFor();
    assert.deepEqual(await buttons(), [], 'Storage pool: nothing to change');
    await openTab(page, 'Catalog backups', 'Catalog backups');
    await page.getByRole('heading', { name: 'Latest catalog backup jobs' }).waitFor();
    assert.deepEqual(await buttons(), [], 'Catalog backups: nothing to change');
    await openTab(page, 'Notifications', 'Notifications');
    await page.getByRole('heading', { name: 'Daily digest' }).waitFor();
    assert.deepEqual(await buttons(), [], 'Notifications: seen, not changed');
    assert.ok(await page.getByRole('checkbox').first().isDisabled(), 'the digest switch is read-only');
    // Typing the address of a tab the role may not see opens the first one it may.
    await page.goto(`${server.url}/#/management/users`);
    await page.getByRole('heading', { name: 'Agents', exact: true }).waitFor();
    assert.equal(await page.getByRole('heading', { name: 'Users' }).count(), 0);

    const rita = await signIn('rita');
    await rita.getByRole('navigation', { name: 'Task areas' }).getByRole('link', { name: 'Protection', exact: true }).waitFor();
    assert.equal(await rita.getByRole('navigation', { name: 'Task areas' }).getByRole('link', { name: 'Management' }).count(), 0);
  });
});
