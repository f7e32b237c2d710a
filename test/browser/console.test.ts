/**
 * The web console in a real browser (Debian's Chromium through
 * playwright-core) against a real protection server and a real agent, both
 * separate processes: sign-in and its refusals, jobs that appear and finish
 * on the page without a reload, an alert whose button fixes its cause, what
 * a viewer may not do, and sign-out. Screenshots of each area are written
 * to test-output/screenshots/.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { addConsoleUsers, launchBrowser, signInWindow, type TestBrowser } from '../helpers/browser.js';
import { MailTrap } from '../helpers/mail-trap.js';
import { formatBytes } from '../../src/protocol/rest/present.js';
import { attachAgent, startServer, stopAllProcesses, waitFor, waitIdle, type ApiJob, type TestServer } from '../helpers/server.js';
import { cleanupTempDirs, makeTempDir, writeTree } from '../helpers/tree.js';

const PASSWORD = 'correct horse battery staple';

describe('the console in a browser', () => {
  let server: TestServer;
  let browser: TestBrowser;
  let sourceDir: string;
  let source: string;

  before(async () => {
    server = await startServer();
    const agent = await attachAgent(server, 'pc1');
    await agent.start();
    sourceDir = join((await makeTempDir('custos-console-src-')).path, 'data');
    await writeTree(sourceDir, { 'a.txt': 'alpha\n', 'docs/b.txt': 'beta\n'.repeat(1000) });
    source = `pc1:fs:${sourceDir}`;
    const g = await server.cli(['group', 'create', 'office', '--source', source, '--sync', '24h', '--points', '23:00']);
    assert.equal(g.code, 0, g.stderr);
    await waitIdle(server, 120_000);
    await addConsoleUsers(server, PASSWORD, [['ada', 'admin'], ['vic', 'viewer']]);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await stopAllProcesses();
    await cleanupTempDirs();
  });

  const signIn = (name: string, password = PASSWORD): Promise<Page> => signInWindow(browser, server.url, name, password);

  test('a wrong password is refused with a message; the right one opens Monitoring', async () => {
    const page = await signIn('ada', 'not the password');
    await page.getByRole('alert').filter({ hasText: 'wrong user name or password' }).waitFor();
    await browser.screenshot(page, 'sign-in');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Alerts' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Monitoring', exact: true }).getAttribute('aria-current'), 'page');
    await page.getByText('ada', { exact: false }).first().waitFor();
  });

  test('a job started elsewhere appears and finishes on the page without a reload, with its log', async () => {
    const page = await signIn('ada');
    await page.getByRole('link', { name: 'Jobs' }).click();
    await page.getByRole('heading', { name: 'Jobs' }).waitFor();
    const job = await server.cliJson<ApiJob>(['sync', source, '--json']);
    const row = page.locator(`tr[data-job="${job.id}"]`);
    await row.waitFor({ timeout: 10_000 });
    await row.getByText('succeeded').waitFor({ timeout: 60_000 });
    await browser.screenshot(page, 'monitoring-jobs');
    await row.getByRole('link', { name: String(job.id) }).click();
    await page.getByRole('heading', { name: `Job ${job.id}: sync` }).waitFor();
    await page.getByRole('heading', { name: 'Log' }).waitFor();
    assert.ok((await page.locator('ol.log li').count()) > 0, 'the job log is shown');
    await browser.screenshot(page, 'monitoring-job');
  });

  test('an alert shows its recommended action; its button fixes the cause and the alert goes away', async () => {
    const page = await signIn('ada');
    await page.getByRole('heading', { name: 'Alerts' }).waitFor();
    const moved = `${sourceDir}.away`;
    await rename(sourceDir, moved);
    const failing = await server.cliJson<ApiJob>(['sync', source, '--json']);
    await waitFor(`sync job ${failing.id} to fail`, async () => {
      const j = await server.cliJson<ApiJob>(['job', 'show', String(failing.id), '--json']);
      return j.state === 'failed' ? j : undefined;
    }, 120_000);
    const row = page.locator('tr[data-alert="replica-inconsistent"]');
    await row.waitFor({ timeout: 10_000 }); // live: no reload
    await page.locator('tr[data-alert="sync-failed"]').waitFor();
    await row.getByText('custos check').waitFor();
    await browser.screenshot(page, 'monitoring-alerts');
    await rename(moved, sourceDir);
    await row.getByRole('button', { name: 'Run a consistency check' }).click();
    await page.getByRole('status').filter({ hasText: 'consistency-check' }).waitFor();
    await row.waitFor({ state: 'detached', timeout: 120_000 });
    await page.locator('tr[data-alert="sync-failed"]').waitFor({ state: 'detached', timeout: 10_000 });
    await page.getByText('No active alerts.').waitFor();
  });

  test('a file recovered from the calendar lands on the agent; another is downloaded whole', async () => {
    const page = await signIn('ada');
    await page.getByRole('link', { name: 'Recovery', exact: true }).click();
    await page.getByRole('link', { name: source }).click();
    await page.getByRole('heading', { name: `Recover from ${source}` }).waitFor();
    // Today is bold in the calendar and chosen; its times are listed.
    const today = page.locator('.calendar .day.has-points[aria-pressed="true"]');
    await today.waitFor(); // the points arrive after the heading
    assert.equal(await today.count(), 1);
    assert.match(String(await today.getAttribute('aria-label')), /recovery point/);
    await page.locator('tr[data-item="a.txt"]').waitFor();
    await page.getByLabel('Select a.txt').check();
    await browser.screenshot(page, 'recovery');
    await page.getByRole('button', { name: 'Recover 1 item…' }).click();
    await page.getByLabel('A folder on a protected computer').check();
    const to = join((await makeTempDir('custos-console-to-')).path, 'out');
    await page.getByRole('textbox', { name: 'Folder on the computer' }).fill(to);
    await page.getByRole('button', { name: 'Recover', exact: true }).click();
    await page.locator('[data-recovery-job][data-state="succeeded"]').waitFor({ timeout: 60_000 });
    assert.equal(await readFile(join(to, 'a.txt'), 'utf8'), 'alpha\n');
    await page.getByRole('button', { name: 'Close' }).click();

    await page.getByLabel('Select a.txt').uncheck();
    await page.getByRole('button', { name: 'docs/' }).click();
    await page.getByLabel('Select b.txt').check();
    await page.getByRole('button', { name: 'Recover 1 item…' }).click();
    await page.getByLabel('Download an archive to this browser').check();
    await page.getByLabel('Format').selectOption('tar');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download' }).click()]);
    const file = join((await makeTempDir('custos-console-dl-')).path, download.suggestedFilename());
    await download.saveAs(file);
    const listed = spawnSync('tar', ['-xOf', file, 'docs/b.txt'], { encoding: 'utf8' });
    assert.equal(listed.status, 0, listed.stderr);
    assert.equal(listed.stdout, 'beta\n'.repeat(1000));
    await page.getByRole('status').filter({ hasText: /^Saved / }).waitFor();
  });

  test('the group wizard creates a group whose replica is made while the page watches; stop protection keeps the points', async () => {
    const dir = join((await makeTempDir('custos-console-wizard-')).path, 'projects');
    await writeTree(dir, { 'plan.txt': 'the plan\n', 'scratch.tmp': 'left out\n' });
    const page = await signIn('ada');
    await page.getByRole('link', { name: 'Protection', exact: true }).click();
    await page.getByRole('link', { name: 'New protection group…' }).click();
    await page.getByRole('heading', { name: 'Create a protection group' }).waitFor();
    await page.getByLabel('Computer').selectOption('pc1');
    // Browse the computer's live file system down to the folder, and tick it.
    const parts = dir.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      await page.locator(`[data-live="/${parts.slice(0, i).join('/')}"] button`).click();
    }
    await page.getByLabel(`Protect ${dir}`, { exact: true }).check();
    await page.getByText(`pc1:fs:${dir}`).waitFor();
    const next = () => page.getByRole('button', { name: 'Next' }).click();
    await next();
    await page.getByLabel('Group name').fill('projects');
    await next();
    await page.getByLabel('Retention range (days)').fill('3');
    await page.getByLabel('Synchronization frequency').selectOption('1h');
    await next();
    await page.getByLabel('Exclusion pattern').fill('*.tmp');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await next();
    await page.getByText('1.5 × its size').waitFor();
    await next();
    await page.getByLabel('Now').check();
    await next();
    await next();
    await page.getByRole('heading', { name: 'Summary' }).waitFor();
    await browser.screenshot(page, 'protection-wizard');
    await page.getByRole('button', { name: 'Create group' }).click();
    await page.getByRole('heading', { name: 'Protection group projects created' }).waitFor();
    await page.locator(`tr[data-source="pc1:fs:${dir}"][data-replica="ok"]`).waitFor({ timeout: 120_000 }); // live: the replica job ends while the page is open
    const g = await server.cliJson<{ retentionDays: number; syncMinutes: number; excludes: string[]; replica: string }>(['group', 'show', 'projects', '--json']);
    assert.deepEqual([g.retentionDays, g.syncMinutes, g.excludes, g.replica], [3, 60, ['*.tmp'], 'now']);

    await page.getByRole('link', { name: 'Go to the group' }).click();
    await page.getByRole('button', { name: 'Stop protection…' }).click();
    await page.getByLabel(/Keep them/).check();
    await page.getByRole('button', { name: 'Stop protection', exact: true }).click();
    await page.getByRole('heading', { name: 'Data sources', exact: true }).waitFor();
    const groups = await server.cliJson<Array<{ name: string }>>(['group', 'list', '--json']);
    assert.ok(!groups.some((x) => x.name === 'projects'), 'the group is gone');
    const points = await server.cliJson<unknown[]>(['point', 'list', `pc1:fs:${dir}`, '--json']);
    assert.equal(points.length, 1, 'its recovery point is kept');
  });

  test('notifications set in the console: a test mail and an alert mail reach a real SMTP server', async () => {
    const trap = await new MailTrap().start();
    try {
      const page = await signIn('ada');
      await page.goto(`${server.url}/#/management/notifications`);
      await page.getByRole('heading', { name: 'Notifications' }).waitFor();
      await page.getByRole('button', { name: 'Set the mail server' }).click();
      await page.getByLabel('Host').fill('127.0.0.1');
      await page.getByLabel('Port').fill(String(trap.port));
      await page.getByLabel('Security').selectOption('none');
      await page.getByLabel('Sender address').fill('custos@example.com');
      await page.getByRole('button', { name: 'Save mail server' }).click();
      await page.getByText(`127.0.0.1:${trap.port} (none), from custos@example.com`).waitFor();
      await page.getByLabel('Address', { exact: true }).fill('ops@example.com');
      await page.getByLabel('Alerts from').selectOption('critical');
      await page.getByRole('button', { name: 'Add recipient' }).click();
      await page.locator('tr[data-recipient="ops@example.com"]').waitFor();
      await page.getByRole('button', { name: 'Send a test now' }).click();
      await page.locator('[data-test-result="ok"]').waitFor({ timeout: 30_000 });
      await browser.screenshot(page, 'management-notifications');
      await waitFor('the test mail', async () => trap.to('ops@example.com').length > 0, 30_000, 200);

      // A critical alert about the data source is mailed to the recipient (moving its folder away makes its replica inconsistent and its synchronization fail).
      const moved = `${sourceDir}.gone`;
      await rename(sourceDir, moved);
      try {
        await server.cli(['sync', source]);
        const mail = await waitFor('the alert mail', async () => trap.to('ops@example.com').find((m) => /CRITICAL/i.test(m.subject) && (m.subject + m.body).includes(source)), 120_000, 300);
        assert.match(mail.body, /Recommended action|custos (check|sync)/i, mail.body);
      } finally {
        await rename(moved, sourceDir);
      }
      await server.cli(['check', source, '--wait']);
    } finally {
      await trap.stop();
    }
  });

  test('the storage calculator page gives the figures custos plan storage gives', async () => {
    const page = await signIn('ada');
    await page.goto(`${server.url}/#/protection/plan`);
    await page.getByRole('heading', { name: 'Plan storage' }).waitFor();
    await page.getByRole('spinbutton', { name: 'Data size' }).fill('1000');
    await page.getByLabel('Daily change (%)').fill('3');
    await page.getByLabel('Retention (days)').fill('10');
    await page.getByLabel('Synchronization').selectOption('60');
    await page.getByLabel('Recovery point times').fill('08:00,20:00');
    await page.getByLabel('Yearly growth (%)').fill('20');
    await page.getByLabel('Years ahead').fill('2');
    await page.getByLabel(/Add the protection groups/).uncheck();
    await page.getByRole('button', { name: 'Calculate' }).click();
    const planned = await page.locator('[data-figure="planned"]').textContent({ timeout: 10_000 });
    const cli = await server.cliJson<{ plan: { pool: { plannedBytes: number; recommendedMinBytes: number } } }>(
      ['plan', 'storage', '--size', '1000GiB', '--change', '3%', '--retention', '10d', '--sync', '1h', '--points', '08:00,20:00', '--growth', '20%', '--years', '2', '--json'],
    );
    assert.equal(planned, formatBytes(cli.plan.pool.plannedBytes));
    assert.match(String(await page.locator('[data-figure="recommended"]').textContent()), new RegExp(`^${formatBytes(cli.plan.pool.recommendedMinBytes).replace('.', '\\.')} to `));
    await browser.screenshot(page, 'protection-plan');
  });

  test('a viewer sees jobs and alerts but no button that changes anything', async () => {
    const page = await signIn('vic');
    await page.getByRole('heading', { name: 'Alerts' }).waitFor();
    await page.getByLabel('Show').selectOption('resolved');
    await page.locator('tr[data-alert="replica-inconsistent"]').first().waitFor();
    assert.equal(await page.getByRole('button', { name: /Run a consistency check|Resolve|Synchronize/ }).count(), 0);
    await page.getByRole('link', { name: 'Jobs' }).click();
    await page.locator('tr[data-job]').first().waitFor();
    await page.locator('tr[data-job] a').first().click();
    await page.getByRole('heading', { name: /^Job \d+/ }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Cancel job' }).count(), 0);
  });

  test('signing out ends the session: the old cookie opens nothing', async () => {
    const page = await signIn('ada');
    await page.getByRole('heading', { name: 'Alerts' }).waitFor();
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === '__Host-custos_session');
    assert.ok(session, 'a session cookie');
    assert.equal(session.httpOnly, true);
    assert.equal(session.secure, true);
    assert.equal(session.sameSite, 'Strict');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    const r = await server.request('GET', '/api/session', { headers: { cookie: `__Host-custos_session=${session.value}` } });
    assert.equal(r.status, 401);
  });
});
