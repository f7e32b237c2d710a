/**
 * The console at fleet size: with 10,000 data sources and 100,000 jobs in
 * the catalog, the data source list and the job list open in under a
 * second in a real browser (the bar; the best of three openings is
 * taken, so a busy moment of the machine alone does not fail it), and the
 * first load transfers at most 300 KB of compressed script. The figures
 * are printed for the record.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startInProcessServer, type InProcessServer } from '../helpers/in-process-server.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tree.js';

const SOURCES = 10_000;
const JOBS = 100_000;
const PASSWORD = 'fleet of ten thousand';

describe('the console at fleet size', () => {
  let s: InProcessServer;
  let browser: TestBrowser;
  let page: Page;

  before(async () => {
    s = await startInProcessServer(join((await makeTempDir('custos-fleet-')).path, 'server'), { tickMs: 3_600_000 });
    const db = s.running.context.catalog.db;
    const now = new Date().toISOString();
    await db.transaction().execute(async (tx) => {
      for (let i = 0; i < SOURCES; i++) {
        await tx.insertInto('data_sources').values({
          id: `pc${String(i % 500).padStart(3, '0')}:fs:/srv/data${i}`, agent: `pc${String(i % 500).padStart(3, '0')}`, kind: 'fs', path: `/srv/data${i}`,
          group_name: null, replica_state: i % 50 === 0 ? 'inconsistent' : 'ok', allocation_bytes: 10 * 2 ** 30, used_bytes: (i % 100) * 2 ** 27, created_at: now,
          last_sync_started_at: null, last_sync_ok_at: now, last_point_slot: null, last_check_slot: null, added_to_group_at: null,
        }).execute();
      }
      for (let i = 0; i < JOBS; i++) {
        await tx.insertInto('jobs').values({
          kind: i % 3 === 0 ? 'recovery-point' : 'sync', state: i % 97 === 0 ? 'failed' : 'succeeded', source_id: `pc${String(i % 500).padStart(3, '0')}:fs:/srv/data${i % SOURCES}`,
          agent: `pc${String(i % 500).padStart(3, '0')}`, created_at: now, started_at: now, finished_at: now, attempts: 1, next_attempt_at: now,
          progress: JSON.stringify({ phase: '', filesDone: 0, bytesDone: 0, bytesTotal: null }), error: i % 97 === 0 ? 'the agent went away' : null,
          result: JSON.stringify({ bytesAdded: i }), params: '{}', slot: null,
        }).execute();
      }
    });
    const pw = join((await makeTempDir('custos-fleet-pw-')).path, 'pw');
    await (await import('node:fs/promises')).writeFile(pw, PASSWORD + '\n');
    const r = await s.server.cli(['user', 'add', 'ops', '--role', 'admin', '--password-file', pw]);
    assert.equal(r.code, 0, r.stderr);
    browser = await launchBrowser();
    ({ page } = await browser.open(s.running.url));
    await page.getByLabel('User name').fill('ops');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Alerts' }).waitFor();
  });

  after(async () => {
    await browser?.close();
    await s?.close();
    await cleanupTempDirs();
  });

  /** Best of three: time from the click on `open` until `ready` is on the page. */
  const opening = async (open: () => Promise<void>, ready: string, away: () => Promise<void>): Promise<number> => {
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      await away();
      const t0 = performance.now();
      await open();
      await page.locator(ready).first().waitFor({ timeout: 30_000 });
      times.push(performance.now() - t0);
    }
    return Math.min(...times);
  };

  test('the first load transfers at most 300 KB of compressed script', async () => {
    const scripts = await page.evaluate(() =>
      (performance.getEntriesByType('resource') as unknown as Array<{ initiatorType: string; name: string; transferSize: number; encodedBodySize: number }>).filter((e) => e.initiatorType === 'script' || e.name.endsWith('.js')).map((e) => ({ name: e.name, bytes: e.transferSize || e.encodedBodySize })),
    );
    const total = scripts.reduce((n, e) => n + e.bytes, 0);
    console.log(`console script on first load: ${(total / 1024).toFixed(1)} KB compressed (${scripts.length} file(s))`);
    assert.ok(scripts.length > 0 && total > 10_000, 'the script was measured');
    assert.ok(total <= 300 * 1024, `${total} bytes of script`);
  });

  test(`the list of ${SOURCES.toLocaleString('en-US')} data sources opens in under a second`, async () => {
    const ms = await opening(
      () => page.getByRole('link', { name: 'Protection', exact: true }).click(),
      '[data-row]',
      async () => {
        await page.getByRole('link', { name: 'Monitoring', exact: true }).click();
        await page.getByRole('heading', { name: 'Alerts' }).waitFor();
      },
    );
    console.log(`data source list (${SOURCES} in the catalog) opened in ${ms.toFixed(0)} ms (best of 3)`);
    assert.ok(ms < 1000, `${ms} ms`);
    // Filtered on the server: the inconsistent ones only.
    await page.getByLabel('Replica').selectOption('inconsistent');
    await page.getByText(`${SOURCES / 50} data sources`).waitFor();
    // Scrolling to the end reads the next pages; rows in the page stay few.
    await page.getByLabel('Replica').selectOption('');
    await page.getByText('500 data sources+').waitFor();
    await page.locator('.vbody').evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await page.getByText('1,000 data sources+').waitFor();
    assert.ok((await page.locator('[data-row]').count()) < 100, 'only the rows in view are in the page');
  });

  test(`the job list opens in under a second with ${JOBS.toLocaleString('en-US')} jobs`, async () => {
    const ms = await opening(
      async () => {
        await page.getByRole('link', { name: 'Monitoring', exact: true }).click();
        await page.getByRole('link', { name: 'Jobs' }).click();
      },
      'tr[data-job]',
      async () => {
        await page.getByRole('link', { name: 'Protection', exact: true }).click();
        await page.getByRole('heading', { name: 'Data sources' }).waitFor();
      },
    );
    console.log(`job list (${JOBS} in the catalog) opened in ${ms.toFixed(0)} ms (best of 3)`);
    assert.ok(ms < 1000, `${ms} ms`);
    // Filtered on the server: once the answer is in, only failed jobs are listed
    // (waiting for a failed badge alone raced the unfiltered list, which has some).
    await page.getByLabel('State').selectOption('failed');
    await page.waitForFunction(
      () => {
        const count = (selector: string): number => (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll(selector).length;
        return count('tr[data-job] .badge.failed') > 0 && count('tr[data-job] .badge:not(.failed)') === 0;
      },
      undefined,
      { timeout: 30_000 },
    );
  });
});
