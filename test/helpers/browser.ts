/**
 * A real browser for the console's tests: Debian's Chromium (installed by
 * .ci/run; CUSTOS_CHROMIUM names another binary) driven by playwright-core,
 * headless, with a fresh profile per launch. Screenshots go to
 * test-output/screenshots/ (kept with the test output) and, when
 * CUSTOS_SCREENSHOTS_TO names a directory (docs/screenshots), there too.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { makeTempDir } from './tree.js';

export const CHROMIUM = process.env['CUSTOS_CHROMIUM'] ?? '/usr/bin/chromium';
const SHOTS = resolve('test-output', 'screenshots');

export interface TestBrowser {
  readonly browser: Browser;
  /** A new window (its own cookies) on `url`. */
  open(url: string): Promise<{ context: BrowserContext; page: Page }>;
  /** Saves a screenshot of `page` as NAME.png (full page). */
  screenshot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium package (apt-get install chromium; .ci/run does) or set CUSTOS_CHROMIUM`);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // This machine's network is closed: Chromium's own background connections only fail and slow it down.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  const contexts: BrowserContext[] = [];
  return {
    browser,
    async open(url) {
      // The server's certificate is issued by its own CA, which this fresh profile does not know.
      const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 }, locale: 'en-GB', timezoneId: 'UTC' });
      contexts.push(context);
      const page = await context.newPage();
      await page.goto(url);
      return { context, page };
    },
    async screenshot(page, name) {
      await mkdir(SHOTS, { recursive: true });
      const file = join(SHOTS, `${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      const to = process.env['CUSTOS_SCREENSHOTS_TO'];
      if (to) {
        await mkdir(to, { recursive: true });
        await copyFile(file, join(to, `${name}.png`));
      }
      return file;
    },
    async close() {
      for (const c of contexts) await c.close().catch(() => undefined);
      await browser.close();
    },
  };
}

/** What `addConsoleUsers` needs of a server: its CLI. */
interface CliServer {
  cli(args: readonly string[]): Promise<{ code: number | null; stderr: string }>;
}

/** Adds console users with `custos user add` (as an admin would), all with `password`; each entry is [name, role, ...more options]. */
export async function addConsoleUsers(server: CliServer, password: string, users: ReadonlyArray<readonly [string, string, ...string[]]>): Promise<void> {
  const file = join((await makeTempDir('custos-console-pw-')).path, 'pw');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  for (const [name, role, ...extra] of users) {
    const r = await server.cli(['user', 'add', name, '--role', role, '--password-file', file, ...extra]);
    if (r.code !== 0) throw new Error(`custos user add ${name} failed: ${r.stderr}`);
  }
}

/** Opens the console in a new window and submits the sign-in form (the caller waits for what should follow). */
export async function signInWindow(browser: TestBrowser, url: string, name: string, password: string): Promise<Page> {
  const { page } = await browser.open(url);
  await page.getByLabel('User name').fill(name);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  return page;
}
