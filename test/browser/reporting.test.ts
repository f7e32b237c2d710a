/**
 * The console's Reporting area in a real browser (Debian's Chromium through
 * playwright-core) against a real protection server and a real agent: the
 * status report's chart and numbers (the same the CLI prints), a CSV
 * downloaded and read back, and a viewer who sees reports but no schedules.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { Report } from '../../src/protocol/rest/index.js';
import { addConsoleUsers, launchBrowser, signInWindow, type TestBrowser } from '../helpers/browser.js';
import { attachAgent, startServer, stopAllProcesses, waitIdle, type TestServer } from '../helpers/server.js';
import { cleanupTempDirs, makeTempDir, writeTree } from '../helpers/tree.js';

const PASSWORD = 'correct horse battery staple';

describe('the Reporting area in a browser', () => {
  let server: TestServer;
  let browser: TestBrowser;

  before(async () => {
    server = await startServer();
    const agent = await attachAgent(server, 'pc1');
    await agent.start();
    const dir = join((await makeTempDir('custos-reporting-src-')).path, 'data');
    await writeTree(dir, { 'a.txt': 'alpha\n' });
    const g = await server.cli(['group', 'create', 'office', '--source', `pc1:fs:${dir}`, '--sync', '24h', '--points', '23:00', '--rpo-target', '1d', '--rto-target', '4h']);
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

  const signIn = async (name: string): Promise<Page> => {
    const page = await signInWindow(browser, server.url, name, PASSWORD);
    await page.getByRole('link', { name: 'Reporting', exact: true }).click();
    return page;
  };

  test('the status report: its chart and numbers, and a CSV download', async () => {
    const cli = await server.cliJson<Report>(['report', 'show', 'status', '--json']);
    assert.equal(cli.report, 'status');
    const office = cli.report === 'status' ? cli.rows.filter((r) => r.group === 'office') : [];
    assert.ok(office.some((r) => r.succeeded > 0), 'the first synchronization of office is counted');
    const page = await signIn('ada');
    const report = page.getByRole('article', { name: 'Status report' });
    await report.getByText(/\d+ jobs succeeded, 0 failed, 0 cancelled/).waitFor();
    const bars = report.locator('svg rect[data-series="succeeded"]');
    assert.ok((await bars.count()) >= 1, 'a bar for the day of the jobs');
    const table = report.getByRole('table', { name: 'Jobs by protection group, day and kind' });
    for (const r of office) {
      const row = table.locator('tr', { hasText: 'office' }).filter({ hasText: r.kind });
      assert.equal(await row.locator('td').nth(3).textContent(), String(r.succeeded), `${r.kind} succeeded as the CLI says`);
    }
    await browser.screenshot(page, 'reporting-status');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
    assert.match(download.suggestedFilename(), /^custos-status-\d{4}-\d{2}-\d{2}\.csv$/);
    const file = join((await makeTempDir('custos-reporting-dl-')).path, download.suggestedFilename());
    await download.saveAs(file);
    const lines = (await readFile(file, 'utf8')).split('\r\n');
    assert.equal(lines[0], 'Group,Day,Kind,Succeeded,Failed,Cancelled');
    for (const r of office) assert.ok(lines.some((l) => l.startsWith(`office,${r.day},${r.kind},${r.succeeded},`)), `${r.kind} in the CSV`);
    // The SLA report draws the targets set on the command line.
    await page.getByLabel('Report').first().selectOption('sla');
    const sla = page.getByRole('article', { name: 'SLA report' });
    await sla.getByRole('cell', { name: '24 h', exact: true }).first().waitFor();
    await sla.getByRole('cell', { name: '4 h', exact: true }).first().waitFor();
    await browser.screenshot(page, 'reporting-sla');
    assert.equal(await page.getByRole('region', { name: 'Scheduled reports' }).count(), 1, 'an admin manages schedules');
  });

  test('a viewer reads reports but sees no schedules', async () => {
    const page = await signIn('vic');
    await page.getByRole('article', { name: 'Status report' }).getByText(/jobs succeeded/).waitFor();
    assert.equal(await page.getByRole('region', { name: 'Scheduled reports' }).count(), 0);
    await browser.screenshot(page, 'reporting-viewer');
  });
});
