/**
 * Server mode, what must be refused, against a real server process and real
 * agents: agent connections without a certificate of this server's CA or
 * with a revoked one, API calls without a token or with a token whose role
 * does not allow them, malformed bodies, policies outside the allowed
 * values, a data source in two groups, an enrollment token used twice.
 * Every refusal is checked to have changed nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { createCertificateAuthority, createCertificateRequest, signClientCertificate } from '../../src/protocol/index.js';
import { cleanupTempDirs, describeCli, makeTempDir, memoryTmpBase, runCli, writeTree } from '../helpers/tree.js';
import {
  attachAgent,
  listPoints,
  startServer,
  stopAllProcesses,
  waitFor,
  type ApiAgent,
  type TestAgent,
  type TestServer,
} from '../helpers/server.js';

/** Opens the agent endpoint with the given TLS client credentials; the HTTP status of the answer (101 when it opened). */
function agentConnect(server: TestServer, creds: { cert?: string; key?: string } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const options: WebSocket.ClientOptions & { servername: string } = {
      ca: readFileSync(server.caPath, 'utf8'),
      servername: '', // an IP address is no TLS server name
      ...(creds.cert ? { cert: creds.cert, key: creds.key } : {}),
      handshakeTimeout: 15_000,
    };
    const ws = new WebSocket(`${server.url.replace(/^https/, 'wss')}/api/agent/connect`, options);
    ws.on('open', () => {
      ws.close(1000, 'test done');
      resolve({ status: 101, body: '' });
    });
    ws.on('unexpected-response', (_req, res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body: '' }));
    });
    ws.on('error', (err) => reject(err));
  });
}

function agentCreds(agent: TestAgent): { cert: string; key: string } {
  return { cert: readFileSync(join(agent.dataDir, 'cert.pem'), 'utf8'), key: readFileSync(join(agent.dataDir, 'key.pem'), 'utf8') };
}

async function groupNames(server: TestServer): Promise<string[]> {
  const r = await server.request('GET', '/api/protection-groups', { token: server.adminToken });
  assert.equal(r.status, 200, r.text);
  return r.json<Array<{ name: string }>>().map((g) => g.name);
}

async function agentList(server: TestServer): Promise<ApiAgent[]> {
  const r = await server.request('GET', '/api/agents', { token: server.adminToken });
  assert.equal(r.status, 200, r.text);
  return r.json<ApiAgent[]>();
}

describe('server mode: refusals', { timeout: 200_000 }, () => {
  let server: TestServer;
  let alpha: TestAgent;
  let bravo: TestAgent;
  let srcDir: string;
  let source: string;

  before(async () => {
    const work = await makeTempDir('custos-e2e-security-', { base: memoryTmpBase() });
    srcDir = join(work.path, 'src');
    await writeTree(srcDir, { 'x.txt': 'x\n', 'd/y.txt': 'y\n' });
    server = await startServer();
    alpha = await attachAgent(server, 'alpha');
    bravo = await attachAgent(server, 'bravo');
    // bravo listens for local users too: a removed agent must stop all the same.
    await Promise.all([alpha.start(), bravo.start(true, ['--user-socket', join(work.path, 'bravo.sock')])]);
    source = `alpha:fs:${srcDir}`;
  });

  after(async () => {
    await stopAllProcesses();
    await cleanupTempDirs();
  });

  test('the agent endpoint refuses connections without a certificate of this server', async () => {
    const none = await agentConnect(server);
    assert.equal(none.status, 401, `no client certificate: ${JSON.stringify(none)}`);
    assert.match(none.body, /certificate/);

    // A certificate from another CA, naming an attached agent.
    const otherCa = await createCertificateAuthority('Not the Custos CA');
    const req = await createCertificateRequest('alpha');
    const forged = await signClientCertificate(otherCa, req.csrPem, { commonName: 'alpha' });
    const foreign = await agentConnect(server, { cert: forged.certPem, key: req.keyPem });
    assert.equal(foreign.status, 401, `a certificate of another CA: ${JSON.stringify(foreign)}`);

    // A plain HTTPS GET of the endpoint, without the upgrade, is no way in either.
    const plain = await server.request('GET', '/api/agent/connect');
    assert.notEqual(plain.status, 101);
    assert.ok(plain.status >= 400, `plain GET /api/agent/connect answered ${plain.status}: ${plain.text}`);

    const agents = await agentList(server);
    assert.deepEqual(agents.map((a) => [a.name, a.status]), [['alpha', 'connected'], ['bravo', 'connected']]);
  });

  test('a removed agent is disconnected and refused', async () => {
    // Control: bravo's own credentials open the endpoint (the running agent is replaced, then reconnects).
    const control = await agentConnect(server, agentCreds(bravo));
    assert.equal(control.status, 101, `bravo's certificate is accepted before removal: ${JSON.stringify(control)}`);
    await waitFor('bravo to reconnect', async () => (await agentList(server)).find((a) => a.name === 'bravo' && a.status === 'connected'), 30_000, 300);

    const r = await server.cli(['agent', 'remove', 'bravo', '--json']);
    assert.equal(r.code, 0, describeCli(['agent', 'remove', 'bravo'], r));
    assert.deepEqual(JSON.parse(r.stdout), { removed: 'bravo' });

    // The running agent is cut off, tries again, and is told it was removed.
    await bravo.process!.waitForOutput(/refused the connection \(403\)/, 30_000);
    // … and gives up: the process ends, with a failure status.
    const ended = await waitFor('the removed agent to stop', async () => (bravo.process!.exited ? bravo.process!.started.done : undefined), 30_000, 200);
    assert.notEqual(ended.code, 0, `agent start after removal: ${JSON.stringify(ended)}`);
    const refused = await agentConnect(server, agentCreds(bravo));
    assert.equal(refused.status, 403, `bravo's certificate after removal: ${JSON.stringify(refused)}`);
    const agents = await agentList(server);
    assert.deepEqual(agents.map((a) => a.name), ['alpha']);
    const cliList = await server.cliJson<ApiAgent[]>(['agent', 'list', '--json']);
    assert.deepEqual(cliList.map((a) => a.name), ['alpha']);
    // Removing it again: not found.
    const again = await server.cli(['agent', 'remove', 'bravo']);
    assert.equal(again.code, 4, describeCli(['agent', 'remove', 'bravo'], again));
  });

  test('no token or an unknown token: 401, and the CLI exits 12', async () => {
    const health = await server.request('GET', '/api/health');
    assert.equal(health.status, 200, 'health needs no token');
    for (const path of ['/api/jobs', '/api/agents', '/metrics', '/api/openapi.json']) {
      const r = await server.request('GET', path);
      assert.equal(r.status, 401, `GET ${path} without a token: ${r.status} ${r.text}`);
      assert.equal(r.json<{ error: { code: string } }>().error.code, 'denied');
      const wrong = await server.request('GET', path, { token: 'ctk_not-a-real-token' });
      assert.equal(wrong.status, 401, `GET ${path} with an unknown token: ${wrong.status}`);
    }
    const post = await server.request('POST', '/api/protection-groups', { body: JSON.stringify({ name: 'sneaky', sources: [source] }) });
    assert.equal(post.status, 401);

    const cli = await server.cli(['job', 'list'], { token: 'ctk_not-a-real-token' });
    assert.equal(cli.code, 12, describeCli(['job', 'list'], cli));
    assert.match(cli.stderr, /401|token/);
    assert.doesNotMatch(cli.stderr + cli.stdout, /ctk_not-a-real-token/, 'the token is never printed');
    const missing = await runCli(['job', 'list'], { env: { ...server.env(), CUSTOS_TOKEN: undefined } });
    assert.equal(missing.code, 2, describeCli(['job', 'list'], missing));
    assert.match(missing.stderr, /CUSTOS_TOKEN/);
    assert.deepEqual(await groupNames(server), []);
  });

  test('a viewer token reads but may not change anything', async () => {
    const made = await server.cli(['token', 'create', '--role', 'viewer', '--name', 'grafana']);
    assert.equal(made.code, 0, describeCli(['token', 'create'], made));
    const viewer = made.stdout.trim();
    assert.match(viewer, /^\S{20,}$/, `the token alone on stdout: ${JSON.stringify(made.stdout)}`);

    const jobs = await server.request('GET', '/api/jobs', { token: viewer });
    assert.equal(jobs.status, 200, jobs.text);
    assert.ok(Array.isArray(jobs.json()));
    const metrics = await server.request('GET', '/metrics', { token: viewer });
    assert.equal(metrics.status, 200);

    const post = await server.request('POST', '/api/protection-groups', { token: viewer, body: JSON.stringify({ name: 'viewer-group', sources: [source] }) });
    assert.equal(post.status, 403, `${post.status} ${post.text}`);
    assert.equal(post.json<{ error: { code: string } }>().error.code, 'denied');
    const tok = await server.request('POST', '/api/tokens', { token: viewer, body: JSON.stringify({ role: 'admin' }) });
    assert.equal(tok.status, 403, 'a viewer cannot make itself an admin token');

    const cliRead = await server.cli(['job', 'list', '--json'], { token: viewer });
    assert.equal(cliRead.code, 0, describeCli(['job', 'list'], cliRead));
    const args = ['group', 'create', 'viewer-group', '--source', source];
    const cliWrite = await server.cli(args, { token: viewer });
    assert.equal(cliWrite.code, 12, describeCli(args, cliWrite));
    assert.deepEqual(await groupNames(server), []);
  });

  test('a malformed body is a 400 with a message, and creates nothing', async () => {
    const bodies = [
      '{"name": "broken", "sources": ["' + source + '"]', // truncated JSON
      'name=broken',
      JSON.stringify({ name: 'broken', sources: [source], colour: 'blue' }), // unknown field
      JSON.stringify({ name: 'broken' }), // no sources
      JSON.stringify({ name: 'broken', sources: { id: source } }), // not an array
    ];
    for (const body of bodies) {
      const r = await server.request('POST', '/api/protection-groups', { token: server.adminToken, body });
      assert.equal(r.status, 400, `body ${body}: ${r.status} ${r.text}`);
      const e = r.json<{ error?: { code?: string; message?: string } }>().error;
      assert.equal(typeof e?.message, 'string', `an error message for ${body}: ${r.text}`);
      assert.ok(e!.message!.length > 0);
    }
    assert.deepEqual(await groupNames(server), []);
    const sources = await server.request('GET', '/api/data-sources', { token: server.adminToken });
    assert.deepEqual(sources.json(), [], 'no data source was created');
  });

  test('a policy outside the allowed values is refused with a usage error', async () => {
    const sync = ['group', 'create', 'bad-sync', '--source', source, '--sync', '20m'];
    const r1 = await server.cli(sync);
    assert.equal(r1.code, 2, describeCli(sync, r1));
    for (const f of ['15m', '30m', '1h', '2h', '4h', '6h', '12h', '24h']) assert.ok(r1.stderr.includes(f), `the message names ${f}: ${r1.stderr}`);

    const nine = ['08:00', '09:00', '10:00', '11:00', '12:00', '13:00', '14:00', '15:00', '16:00'].join(',');
    const points = ['group', 'create', 'bad-points', '--source', source, '--points', nine];
    const r2 = await server.cli(points);
    assert.equal(r2.code, 2, describeCli(points, r2));
    assert.match(r2.stderr, /8/);

    const retention = ['group', 'create', 'bad-retention', '--source', source, '--retention', '449d'];
    const r3 = await server.cli(retention);
    assert.equal(r3.code, 2, describeCli(retention, r3));

    const unknownAgent = ['group', 'create', 'bad-agent', '--source', `nobody:fs:${srcDir}`];
    const r4 = await server.cli(unknownAgent);
    assert.equal(r4.code, 2, describeCli(unknownAgent, r4));
    assert.match(r4.stderr, /nobody/);
    assert.deepEqual(await groupNames(server), []);
  });

  test('a data source in another group is refused (409), and so is removing its agent', async () => {
    const create = ['group', 'create', 'first', '--source', source, '--sync', '24h', '--json'];
    const r1 = await server.cli(create);
    assert.equal(r1.code, 0, describeCli(create, r1));

    const api = await server.request('POST', '/api/protection-groups', { token: server.adminToken, body: JSON.stringify({ name: 'second', sources: [source] }) });
    assert.equal(api.status, 409, `${api.status} ${api.text}`);
    assert.match(api.json<{ error: { message: string } }>().error.message, /first/);
    const again = ['group', 'create', 'second', '--source', source];
    const r2 = await server.cli(again);
    assert.equal(r2.code, 9, describeCli(again, r2));
    assert.deepEqual(await groupNames(server), ['first']);
    const g = await server.request('GET', '/api/protection-groups/first', { token: server.adminToken });
    assert.deepEqual(g.json<{ sources: string[] }>().sources, [source]);

    // Same name again: 409 too.
    const same = await server.request('POST', '/api/protection-groups', { token: server.adminToken, body: JSON.stringify({ name: 'first', sources: [`alpha:fs:${srcDir}/d`] }) });
    assert.equal(same.status, 409);

    const remove = await server.cli(['agent', 'remove', 'alpha']);
    assert.equal(remove.code, 9, describeCli(['agent', 'remove', 'alpha'], remove));
    assert.match(remove.stderr, /group/);
    assert.equal((await agentList(server)).find((a) => a.name === 'alpha')?.status, 'connected');

    // The group still protects its source (the initial replica is made).
    await waitFor('the initial replica of the group', async () => ((await listPoints(server, source)).length === 1 ? true : undefined), 60_000);
  });

  test('an enrollment token is good for one attach only', async () => {
    const { token } = await server.cliJson<{ token: string }>(['agent', 'token', '--json']);
    const dirs = await makeTempDir('custos-e2e-enroll-');
    const attach = (name: string) =>
      runCli(['agent', 'attach', '--server', server.url, '--token', token, '--data', join(dirs.path, name), '--name', name], {
        env: { CUSTOS_SERVER: undefined, CUSTOS_TOKEN: undefined, CUSTOS_CA: undefined },
      });
    const first = await attach('charlie');
    assert.equal(first.code, 0, describeCli(['agent', 'attach', 'charlie'], first));
    const second = await attach('delta');
    assert.equal(second.code, 12, describeCli(['agent', 'attach', 'delta'], second));
    assert.match(second.stderr, /already used|expired|unknown/);
    const names = (await agentList(server)).map((a) => a.name);
    assert.ok(names.includes('charlie') && !names.includes('delta'), `agents: ${names.join(', ')}`);

    // A garbled token is refused before anything is written.
    const bad = await runCli(['agent', 'attach', '--server', server.url, '--token', 'not-a-token', '--data', join(dirs.path, 'echo'), '--name', 'echo']);
    assert.notEqual(bad.code, 0, describeCli(['agent', 'attach', 'echo'], bad));
    assert.ok(!(await agentList(server)).some((a) => a.name === 'echo'));
  });
});
