import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { ConsoleAssets } from '../console-assets.js';
import { CONSOLE_CSP, installSecurityHeaders, registerConsoleRoutes } from './console.js';
import { cleanupTempDirs, makeTempDir } from '../../../test/helpers/tree.js';

async function builtConsole(): Promise<string> {
  const dir = (await makeTempDir('custos-console-')).path;
  await mkdir(join(dir, 'assets'));
  await writeFile(join(dir, 'index.html'), '<!doctype html><script type="module" src="/assets/index-abc.js"></script>');
  await writeFile(join(dir, 'assets', 'index-abc.js'), 'console.log("custos");\n'.repeat(200));
  await writeFile(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  await writeFile(join(dir, 'secret.key'), 'not served: unknown type');
  await writeFile(join(dir, '..', 'outside.js'), 'not served: outside the build');
  return dir;
}

async function app(assets: ConsoleAssets | null) {
  const a = Fastify();
  installSecurityHeaders(a);
  registerConsoleRoutes(a, assets);
  await a.ready();
  return a;
}

test('the console page and its assets are served from memory, compressed, with cache rules and a CSP', async (t) => {
  t.after(cleanupTempDirs);
  const dir = await builtConsole();
  const assets = (await ConsoleAssets.load(dir))!;
  const a = await app(assets);
  t.after(() => a.close());

  const page = await a.inject({ method: 'GET', url: '/', headers: { 'accept-encoding': 'gzip, deflate, br' } });
  assert.equal(page.statusCode, 200);
  assert.equal(page.headers['content-encoding'], 'br');
  assert.match(brotliDecompressSync(page.rawPayload).toString(), /index-abc\.js/);
  assert.equal(page.headers['content-security-policy'], CONSOLE_CSP);
  assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
  assert.equal(page.headers['cache-control'], 'no-cache');
  assert.equal(page.headers['x-frame-options'], 'DENY');
  assert.equal(page.headers['x-content-type-options'], 'nosniff');

  const again = await a.inject({ method: 'GET', url: '/', headers: { 'if-none-match': String(page.headers['etag']) } });
  assert.equal(again.statusCode, 304);

  const js = await a.inject({ method: 'GET', url: '/assets/index-abc.js', headers: { 'accept-encoding': 'gzip' } });
  assert.equal(js.statusCode, 200);
  assert.equal(js.headers['content-encoding'], 'gzip');
  assert.match(String(js.headers['content-type']), /^text\/javascript/);
  assert.match(String(js.headers['cache-control']), /immutable/);
  assert.equal(gunzipSync(js.rawPayload).toString(), 'console.log("custos");\n'.repeat(200));
  const plain = await a.inject({ method: 'GET', url: '/assets/index-abc.js' });
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.equal(plain.body, 'console.log("custos");\n'.repeat(200));

  assert.equal((await a.inject({ method: 'GET', url: '/favicon.svg' })).statusCode, 200);
  assert.ok(assets.scriptBytes().brotli < assets.scriptBytes().raw);
});

test('nothing but the built files is served, however the path is spelled', async (t) => {
  t.after(cleanupTempDirs);
  const a = await app(await ConsoleAssets.load(await builtConsole()));
  t.after(() => a.close());
  for (const url of [
    '/assets/missing.js',
    '/assets/..%2Foutside.js',
    '/assets/%2e%2e%2foutside.js',
    '/assets/..%2F..%2Fetc%2Fpasswd',
    '/assets/index-abc.js%00',
    '/secret.key',
    '/assets/secret.key',
    '/index.html',
    '/assets/',
  ]) {
    const r = await a.inject({ method: 'GET', url });
    assert.ok(r.statusCode === 404 || r.statusCode === 400, `${url}: ${r.statusCode}`);
    assert.doesNotMatch(r.body, /not served/, url);
  }
});

test('without a built console the page says how to build it, and nothing else changes', async (t) => {
  const a = await app(null);
  t.after(() => a.close());
  const r = await a.inject({ method: 'GET', url: '/' });
  assert.equal(r.statusCode, 503);
  assert.match(r.body, /npm run build/);
  assert.equal((await a.inject({ method: 'GET', url: '/assets/index-abc.js' })).statusCode, 404);
  assert.equal(await ConsoleAssets.load('/nonexistent/console'), null);
});
