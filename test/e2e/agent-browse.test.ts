/**
 * Browsing a protected computer's live file system through its agent, with
 * a real server process and a real agent process: a temporary directory
 * listed through REST (pages, types, sizes, a link not followed, a name
 * that is not text) and through `custos agent browse`; an unknown agent
 * (404), one attached but not connected (503 at once), a viewer (403), bad
 * paths (400), the agent's own refusals passed through; an agent that
 * speaks the protocol but not questions (one older than them) gets a 503
 * saying so after the timeout, and a hostile answer fails cleanly without
 * disturbing anything; every browse is in the audit log with its path.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import WebSocket from 'ws';
import { PROTOCOL_VERSION, type LiveDirectory } from '../../src/protocol/index.js';
import { cleanupTempDirs, describeCli, makeTempDir } from '../helpers/tree.js';
import { attachAgent, startServer, stopAllProcesses, type TestAgent, type TestServer } from '../helpers/server.js';

/** An agent connection made by hand (a real certificate): hello, then whatever the test answers to questions. */
async function handAgent(server: TestServer, agent: TestAgent, onAsk: (m: { req: number; body: unknown }, send: (m: unknown) => void) => void): Promise<WebSocket> {
  const ws = new WebSocket(`${server.url.replace(/^https/, 'wss')}/api/agent/connect`, {
    ca: readFileSync(server.caPath, 'utf8'),
    cert: readFileSync(join(agent.dataDir, 'cert.pem'), 'utf8'),
    key: readFileSync(join(agent.dataDir, 'key.pem'), 'utf8'),
    servername: '',
  } as WebSocket.ClientOptions);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) return;
    const m = JSON.parse(data.toString('utf8')) as { t: string; req: number; body: unknown };
    if (m.t === 'ask') onAsk(m, (out) => ws.send(JSON.stringify(out)));
  });
  ws.send(JSON.stringify({ t: 'hello', protocol: PROTOCOL_VERSION, version: '0.0.9', hostname: 'old' }));
  return ws;
}

describe('server mode: browsing a protected computer through its agent', { timeout: 300_000 }, () => {
  let server: TestServer;
  let dir: string;
  let viewer: string;
  let waitConnected: (name: string) => Promise<void>;

  const files = (agent: string, query: string, token = server.adminToken) => server.request('GET', `/api/agents/${agent}/files${query}`, { token });

  before(async () => {
    dir = join((await makeTempDir('custos-e2e-browse-')).path, 'tree');
    await mkdir(join(dir, 'docs', 'deep'), { recursive: true });
    await writeFile(join(dir, 'a.txt'), 'twelve bytes');
    await writeFile(join(dir, 'b.bin'), Buffer.alloc(3000));
    await symlink('/etc', join(dir, 'etc-link'));
    await writeFile(Buffer.concat([Buffer.from(`${dir}/`), Buffer.from([0x6e, 0xff])]), 'x');
    server = await startServer();
    const laptop = await attachAgent(server, 'laptop');
    await laptop.start();
    await attachAgent(server, 'offline');
    viewer = (await server.cli(['token', 'create', '--name', 'watcher', '--role', 'viewer'])).stdout.trim();
    waitConnected = async (name) => {
      for (let i = 0; i < 100; i++) {
        const agents = (await server.request('GET', '/api/agents', { token: server.adminToken })).json<Array<{ name: string; status: string }>>();
        if (agents.find((a) => a.name === name)?.status === 'connected') return;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.fail(`${name} never connected`);
    };
  });

  after(async () => {
    await stopAllProcesses();
    await cleanupTempDirs();
  });

  test('REST: a directory listed in byte order, a page at a time; types, sizes, a link not followed, a name that is not text', async () => {
    const r = await files('laptop', `?path=${encodeURIComponent(dir)}`);
    assert.equal(r.status, 200, r.text);
    const all = r.json<LiveDirectory>();
    assert.deepEqual(all, {
      agent: 'laptop',
      path: dir,
      entries: [
        { name: 'a.txt', type: 'file', size: 12 },
        { name: 'b.bin', type: 'file', size: 3000 },
        { name: 'docs', type: 'dir', size: 0 },
        { name: 'etc-link', type: 'symlink', size: 0 },
        { name: 'n\ufffd', nameBase64: Buffer.from([0x6e, 0xff]).toString('base64'), type: 'file', size: 1 },
      ],
      next: null,
    });
    const seen: string[] = [];
    let after = '';
    for (let page = 0; page < 10; page++) {
      const p = (await files('laptop', `?path=${encodeURIComponent(dir)}&limit=2${after}`)).json<LiveDirectory>();
      assert.ok(p.entries.length <= 2);
      seen.push(...p.entries.map((e) => e.name));
      if (p.next === null) break;
      after = `&after=${encodeURIComponent(p.next)}`;
    }
    assert.deepEqual(seen, all.entries.map((e) => e.name));
    const root = (await files('laptop', '')).json<LiveDirectory>();
    assert.equal(root.path, '/', 'no path: the root');
    assert.ok(root.entries.some((e) => e.name === 'proc' && e.type === 'dir'));
  });

  test('CLI: custos agent browse prints type, size and name, marks directories and mount points; --json is the API answer', async () => {
    const text = await server.cli(['agent', 'browse', 'laptop', dir]);
    assert.equal(text.code, 0, describeCli(['agent', 'browse'], text));
    const lines = text.stdout.trimEnd().split('\n');
    assert.equal(lines[0], `laptop:${dir}`);
    assert.match(lines[1]!, /^TYPE\s+SIZE\s+NAME$/);
    assert.match(lines[2]!, /^file\s+12 B\s+a\.txt$/);
    assert.match(lines[4]!, /^dir\s+-\s+docs\/$/);
    assert.match(lines[5]!, /^symlink\s+-\s+etc-link$/);
    assert.match(lines[6]!, /^file\s+1 B\s+n\ufffd {2}\(not text; bytes base64:bv8=\)$/);
    const paged = await server.cli(['agent', 'browse', 'laptop', dir, '--limit', '2']);
    assert.match(paged.stdout, new RegExp(`more: custos agent browse laptop ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} --after b\\.bin\\n$`));
    const next = await server.cli(['agent', 'browse', 'laptop', dir, '--limit', '2', '--after', 'b.bin']);
    assert.match(next.stdout, /docs\/\n.*etc-link\n/);
    const root = await server.cli(['agent', 'browse', 'laptop', '/']);
    assert.match(root.stdout, /^dir\s+-\s+proc\/ {2}\(mount point: another file system\)$/m);
    const json = await server.cliJson<LiveDirectory>(['agent', 'browse', 'laptop', dir, '--json']);
    assert.equal(json.entries.length, 5);
    assert.equal(json.entries[2]!.name, 'docs');
  });

  test('unknown agent 404, agent not connected 503 at once, viewer 403, bad paths 400, the agent’s refusals with its name', async () => {
    const unknown = await files('ghost', '?path=/');
    assert.equal(unknown.status, 404, unknown.text);
    assert.match(unknown.text, /agent ghost does not exist/);

    const t0 = Date.now();
    const offline = await files('offline', '?path=/');
    assert.equal(offline.status, 503, offline.text);
    assert.equal(offline.json<{ error: { message: string } }>().error.message, 'agent offline is not connected');
    assert.ok(Date.now() - t0 < 5_000, 'a disconnected agent is not waited for');
    const cli = await server.cli(['agent', 'browse', 'offline', '/']);
    assert.equal(cli.code, 14, describeCli(['agent', 'browse', 'offline'], cli));
    assert.match(cli.stderr, /agent offline is not connected/);

    const refused = await files('laptop', `?path=${encodeURIComponent(dir)}`, viewer);
    assert.equal(refused.status, 403, refused.text);
    assert.equal((await server.cli(['agent', 'browse', 'laptop', dir], { token: viewer })).code, 12);

    const bad: Array<[string, RegExp]> = [
      ['relative/x', /must be absolute/],
      [`${dir}/../etc`, /must not contain '\.\.'/],
      [`${dir}//docs/`, /written without empty or '\.' components: .*\/docs"/],
      [`${dir}\u0000`, /NUL/],
      ['', /path/],
    ];
    for (const [path, message] of bad) {
      const r = await files('laptop', `?path=${encodeURIComponent(path)}`);
      assert.equal(r.status, 400, `${JSON.stringify(path)}: ${r.text}`);
      assert.match(r.text, message);
    }
    for (const query of [`?path=/&after=${encodeURIComponent('Li4=')}`, '?path=/&after=%2F%2F%2F', '?path=/&limit=0', '?path=/&limit=1001', '?path=/&follow=1']) {
      assert.equal((await files('laptop', query)).status, 400, query);
    }

    const missing = await files('laptop', `?path=${encodeURIComponent(join(dir, 'nope'))}`);
    assert.equal(missing.status, 404, missing.text);
    assert.equal(missing.json<{ error: { message: string } }>().error.message, `agent laptop: no such directory: ${join(dir, 'nope')}`);
    const notDir = await files('laptop', `?path=${encodeURIComponent(join(dir, 'a.txt'))}`);
    assert.equal(notDir.status, 400, notDir.text);
    assert.match(notDir.text, /agent laptop: not a directory: /);
    const cliMissing = await server.cli(['agent', 'browse', 'laptop', join(dir, 'nope')]);
    assert.notEqual(cliMissing.code, 0);
    assert.match(cliMissing.stderr, /agent laptop: no such directory: /);
  });

  test('an agent that does not know questions: 503 after the timeout, saying so; a hostile answer fails cleanly; the real agent still browses', async () => {
    const old = await attachAgent(server, 'old-agent');
    const asked: unknown[] = [];
    const ws = await handAgent(server, old, (m) => asked.push(m.body));
    await waitConnected('old-agent');
    const t0 = Date.now();
    const silent = await files('old-agent', '?path=/home');
    assert.equal(silent.status, 503, silent.text);
    assert.ok(Date.now() - t0 >= 9_000, 'gave up before the timeout');
    assert.match(silent.text, /agent old-agent did not answer within 10 s: .*update the agent.*type the path/);
    assert.deepEqual(asked, [{ kind: 'list-dir', path: '/home', limit: 1000 }]);
    ws.close();

    const hostile = await attachAgent(server, 'hostile');
    const hws = await handAgent(server, hostile, (m, send) => {
      send({ t: 'answer', req: m.req + 7, ok: true, body: { kind: 'list-dir', path: '/', entries: [], next: null } }); // a question never asked
      send({ t: 'answer', req: m.req, ok: true, body: { kind: 'list-dir', path: '/etc', entries: [{ name: 'x\u001b[2J', type: 'file', size: 1 }], next: null } });
      send({ t: 'answer', req: m.req, ok: true, body: { kind: 'list-dir', path: '/etc', entries: [], next: null } }); // twice
    });
    await waitConnected('hostile');
    const r = await files('hostile', '?path=/etc');
    assert.equal(r.status, 503, r.text);
    assert.match(r.text, /agent hostile sent an answer the server refuses \(invalid agent message: answer\.body\.entries\[0\]\.name is not the displayed form of its bytes\)/);
    hws.close();

    const still = await files('laptop', `?path=${encodeURIComponent(dir)}`);
    assert.equal(still.status, 200, still.text);
    const health = await server.request('GET', '/api/health');
    assert.equal(health.status, 200);
  });

  test('every browse is in the audit log with its agent and path', async () => {
    const entries = await server.cliJson<Array<{ actor: string; action: string; target: string | null; outcome: string; detail: unknown }>>(['audit', 'list', '--json', '--limit', '1000']);
    const browses = entries.filter((e) => e.action === 'agent.browse');
    const detail = (e: { detail: unknown }) => (typeof e.detail === 'string' ? e.detail : JSON.stringify(e.detail));
    assert.ok(browses.some((e) => e.target === 'laptop' && e.outcome === 'ok' && detail(e).includes(`"path":${JSON.stringify(dir)}`)), 'the listing of the tree');
    assert.ok(browses.some((e) => e.target === 'offline' && e.outcome === 'failed'), 'the one refused for an agent not connected');
    assert.ok(entries.some((e) => e.outcome === 'denied' && detail(e).includes('/api/agents/:name/files')), "the viewer's refusal");
  });
});
