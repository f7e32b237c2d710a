/**
 * The server-mode CLI against a real HTTPS server started here, answering
 * fixed routes of docs/design/rest-api.md with a self-signed certificate:
 * the token goes in the Authorization header and never into the output;
 * 401/403/409 and an untrusted certificate become one clear line and their
 * exit statuses; `job wait` follows a job to 0, 13 or 15; ids are URL-encoded;
 * bodies and query strings are what the contract says.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { cleanupTempDirs, describeCli, makeTempDir, parseJsonOutput, runCli, type CliResult } from '../helpers/tree.js';

const ADMIN = 'admin-token-3f9c2a';
const VIEWER = 'viewer-token-77b1e0';
const SOURCE = 'laptop:fs:/home';
const SOURCE_ENC = 'laptop%3Afs%3A%2Fhome';

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: unknown;
}

const POINTS = [
  { id: 'a1b2c3d4', time: '2025-03-01T20:00:00.000Z', source: SOURCE, partial: false, files: 120, logicalBytes: 5_000_000, bytesAdded: 5_000_000 },
  { id: 'e5f6a7b8', time: '2025-03-02T20:00:00.000Z', source: SOURCE, partial: true, files: 121, logicalBytes: 5_100_000, bytesAdded: 100_000 },
];

function job(id: string, state: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    kind: 'sync',
    state,
    source: SOURCE,
    agent: 'laptop',
    createdAt: '2025-03-02T10:00:00.000Z',
    startedAt: state === 'queued' ? null : '2025-03-02T10:00:01.000Z',
    finishedAt: ['succeeded', 'failed', 'cancelled'].includes(state) ? '2025-03-02T10:00:13.000Z' : null,
    attempts: 1,
    progress: { phase: 'transfer', filesDone: 10, bytesDone: 1024, bytesTotal: 4096 },
    error: state === 'failed' ? 'agent laptop disconnected during the transfer' : null,
    result: null,
    log: [{ time: '2025-03-02T10:00:01.000Z', level: 'info', message: 'started' }],
    ...extra,
  };
}

const GROUP = {
  name: 'laptops',
  sources: [SOURCE],
  retentionDays: 5,
  syncMinutes: 15,
  pointTimes: ['08:00', '20:00'],
  days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
  excludes: ['*.mp3'],
  replica: 'now',
  check: 'auto',
  endUserRecovery: false,
  createdAt: '2025-03-01T09:00:00.000Z',
};

describe('server-mode CLI client', () => {
  let dir: string;
  let server: Server;
  let url: string;
  let env: Record<string, string>;
  const seen: Seen[] = [];
  const polls = new Map<string, number>();

  function send(res: import('node:http').ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  function route(method: string, url: string, auth: string | undefined, body: unknown, res: import('node:http').ServerResponse): void {
    if (auth !== `Bearer ${ADMIN}` && auth !== `Bearer ${VIEWER}`) return send(res, 401, { error: { code: 'denied', message: 'unknown token' } });
    if (auth === `Bearer ${VIEWER}` && method !== 'GET') return send(res, 403, { error: { code: 'denied', message: 'viewer tokens may only read' } });
    const path = url.split('?')[0]!;
    const key = `${method} ${path}`;
    const jobMatch = /^GET \/api\/jobs\/([^/]+)$/.exec(key);
    if (jobMatch) {
      const id = decodeURIComponent(jobMatch[1]!);
      const n = (polls.get(id) ?? 0) + 1;
      polls.set(id, n);
      if (id === '101') return send(res, 200, job(id, n >= 2 ? 'succeeded' : 'running'));
      if (id === '102') return send(res, 200, job(id, n >= 2 ? 'failed' : 'running'));
      if (id === '103') return send(res, 200, job(id, 'cancelled'));
      if (id === '104') return send(res, 200, job(id, n >= 2 ? 'succeeded' : 'running'));
      return send(res, 404, { error: { code: 'not-found', message: `no job ${id}` } });
    }
    switch (key) {
      case `GET /api/data-sources/${SOURCE_ENC}/recovery-points`:
        return send(res, 200, POINTS);
      case `POST /api/data-sources/${SOURCE_ENC}/sync`:
        return send(res, 200, job('104', 'queued'));
      case 'POST /api/protection-groups': {
        const name = (body as { name?: string }).name;
        if (name === 'dup') return send(res, 409, { error: { code: 'exists', message: 'protection group dup already exists' } });
        return send(res, 200, { group: { ...GROUP, name }, warnings: ['8 recovery points a day for 10 days is 80 recovery points: more than the 64 kept per file data source'] });
      }
      case 'DELETE /api/protection-groups/laptops':
        return send(res, 200, { deleted: 'laptops', recoveryPointsDeleted: 0, replicaOnlyPointsDeleted: 0 });
      case 'POST /api/agents/enrollment-tokens':
        return send(res, 200, { token: 'enroll-xyz', expiresAt: '2025-03-02T11:00:00.000Z' });
      case 'POST /api/recoveries':
        return send(res, 200, job('105', 'queued', { kind: 'recovery' }));
      case 'GET /api/data-sources':
        return send(res, 200, [
          { id: SOURCE, agent: 'laptop', kind: 'fs', path: '/home', group: 'laptops', replicaState: 'ok', newestPoint: '2025-03-02T20:00:00.000Z', recoveryPoints: 2, allocationBytes: 10 * 1024 ** 3, usedBytes: 1024 ** 3, lastSynchronized: '2025-03-02T21:15:00.000Z' },
        ]);
      default:
        return send(res, 404, { error: { code: 'not-found', message: `no route ${key}` } });
    }
  }

  before(async () => {
    dir = (await makeTempDir('custos-cli-client-')).path;
    const cert = (name: string) =>
      execFileSync(
        'openssl',
        ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
          '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
          '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.pem`)],
        { stdio: 'ignore' },
      );
    cert('server');
    cert('other'); // a CA that did not sign the server's certificate
    writeFileSync(join(dir, 'admin.token'), `${ADMIN}\n`);
    server = createServer({ key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.pem')) }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const body = text === '' ? undefined : (JSON.parse(text) as unknown);
        const s: Seen = { method: req.method!, url: req.url!, authorization: req.headers.authorization, contentType: req.headers['content-type'], body };
        seen.push(s);
        route(s.method, s.url, s.authorization, body, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    env = { CUSTOS_SERVER: url, CUSTOS_TOKEN: ADMIN, CUSTOS_CA: join(dir, 'server.pem'), TZ: 'UTC' };
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await cleanupTempDirs();
  });

  async function cli(args: string[], extraEnv: Record<string, string | undefined> = {}): Promise<CliResult> {
    return runCli(args, { env: { ...env, ...extraEnv }, timeoutMs: 30_000 });
  }

  function last(method: string, pathPrefix: string): Seen {
    const s = seen.filter((x) => x.method === method && x.url.startsWith(pathPrefix)).at(-1);
    assert.ok(s, `the server saw no ${method} ${pathPrefix}…: ${JSON.stringify(seen.map((x) => `${x.method} ${x.url}`))}`);
    return s;
  }

  test('point list --json prints the API array; the id is URL-encoded and the token sent as a bearer', async () => {
    const args = ['point', 'list', SOURCE, '--json'];
    const r = await cli(args);
    assert.equal(r.code, 0, describeCli(args, r));
    assert.deepEqual(parseJsonOutput(args, r), POINTS);
    const s = last('GET', `/api/data-sources/${SOURCE_ENC}/recovery-points`);
    assert.equal(s.authorization, `Bearer ${ADMIN}`);
  });

  test('human output is an aligned table with headers and local short times', async () => {
    const args = ['point', 'list', SOURCE];
    const r = await cli(args);
    assert.equal(r.code, 0, describeCli(args, r));
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 3, r.stdout);
    assert.match(lines[0]!, /^ID\s+TIME\s+FILES\s+SIZE\s+ADDED$/);
    assert.match(lines[1]!, /^a1b2c3d4\s+2025-03-01 20:00\s+120\s+4\.8 MiB\s+4\.8 MiB$/);
    assert.match(lines[2]!, /partial$/);
    assert.equal(lines[1]!.indexOf('2025'), lines[0]!.indexOf('TIME'));
    const src = await cli(['source', 'list']);
    assert.equal(src.code, 0, describeCli(['source', 'list'], src));
    assert.match(src.stdout, /^ID\s+GROUP\s+REPLICA\s+NEWEST POINT\s+POINTS\s+LAST SYNC\s+ALLOCATION\n/);
    assert.match(src.stdout, /laptop:fs:\/home\s+laptops\s+ok\s+2025-03-02 20:00\s+2\s+2025-03-02 21:15\s+1\.0 GiB \/ 10\.0 GiB\n$/);
    const all = await cli(['point', 'list', SOURCE, '--all', '--json']);
    assert.equal(all.code, 0, describeCli(['point', 'list', '--all'], all));
    assert.equal(last('GET', `/api/data-sources/${SOURCE_ENC}/recovery-points`).url, `/api/data-sources/${SOURCE_ENC}/recovery-points?all=true`);
  });

  test('--token-file and --server/--ca options stand in for the environment', async () => {
    const args = ['point', 'list', SOURCE, '--json', '--server', url, '--token-file', join(dir, 'admin.token'), '--ca', join(dir, 'server.pem')];
    const r = await cli(args, { CUSTOS_SERVER: undefined, CUSTOS_TOKEN: 'some-other-token', CUSTOS_CA: undefined });
    assert.equal(r.code, 0, describeCli(args, r));
    assert.equal(last('GET', `/api/data-sources/${SOURCE_ENC}/recovery-points`).authorization, `Bearer ${ADMIN}`);
  });

  test('missing settings: status 2 and what to set', async () => {
    const args = ['source', 'list'];
    const r = await cli(args, { CUSTOS_SERVER: undefined, CUSTOS_TOKEN: undefined, CUSTOS_CA: undefined });
    assert.equal(r.code, 2, describeCli(args, r));
    assert.match(r.stderr, /^custos: no protection server configured: set CUSTOS_SERVER .*CUSTOS_TOKEN .*CUSTOS_CA .*export CUSTOS_SERVER=https:\/\/127\.0\.0\.1:8440/);
  });

  test('401: status 12, one line, and the token is never printed', async () => {
    const args = ['source', 'list'];
    const r = await cli(args, { CUSTOS_TOKEN: 'not-a-valid-token-123' });
    assert.equal(r.code, 12, describeCli(args, r));
    assert.equal(r.stderr, 'custos: the server refused the token (401): set CUSTOS_TOKEN to a valid token\n');
    assert.equal(r.stdout, '');
    assert.ok(!r.stderr.includes('not-a-valid-token-123'));
  });

  test("403: status 12 with the server's reason", async () => {
    const args = ['sync', SOURCE];
    const r = await cli(args, { CUSTOS_TOKEN: VIEWER });
    assert.equal(r.code, 12, describeCli(args, r));
    assert.equal(r.stderr, "custos: not allowed for this token's role (403): viewer tokens may only read\n");
    assert.ok(!r.stderr.includes(VIEWER));
  });

  test("409: the server's code (exists, status 9) and message", async () => {
    const args = ['group', 'create', 'dup', '--source', SOURCE];
    const r = await cli(args);
    assert.equal(r.code, 9, describeCli(args, r));
    assert.equal(r.stderr, 'custos: protection group dup already exists\n');
  });

  test('a certificate not signed by CUSTOS_CA: status 14 with the CUSTOS_CA hint, and no request reaches the server', async () => {
    const before = seen.length;
    const args = ['source', 'list'];
    const r = await cli(args, { CUSTOS_CA: join(dir, 'other.pem') });
    assert.equal(r.code, 14, describeCli(args, r));
    assert.match(r.stderr, /^custos: cannot verify the certificate of the server at https:\/\/127\.0\.0\.1:\d+ \(.+\): set CUSTOS_CA .*ca\.pem.*\n$/);
    assert.equal(seen.length, before);
  });

  test('connection refused: status 14 naming the URL', async () => {
    const args = ['source', 'list'];
    const r = await cli(args, { CUSTOS_SERVER: 'https://127.0.0.1:1' });
    assert.equal(r.code, 14, describeCli(args, r));
    assert.match(r.stderr, /^custos: cannot reach the protection server at https:\/\/127\.0\.0\.1:1 \(.*ECONNREFUSED.*\)/);
  });

  test('job wait: 0 once the job succeeds (after two polls), 13 when it fails, 15 when cancelled', async () => {
    const okArgs = ['job', 'wait', '101', '--json'];
    const ok = await cli(okArgs);
    assert.equal(ok.code, 0, describeCli(okArgs, ok));
    assert.equal(parseJsonOutput<{ state: string }>(okArgs, ok).state, 'succeeded');
    assert.equal(polls.get('101'), 2);

    const failArgs = ['job', 'wait', '102'];
    const fail = await cli(failArgs);
    assert.equal(fail.code, 13, describeCli(failArgs, fail));
    assert.equal(fail.stderr, 'custos: job 102 (sync of laptop:fs:/home) failed: agent laptop disconnected during the transfer\n');

    const cancelArgs = ['job', 'wait', '103'];
    const cancel = await cli(cancelArgs);
    assert.equal(cancel.code, 15, describeCli(cancelArgs, cancel));
    assert.match(cancel.stderr, /^custos: job 103 .*was cancelled\n$/);

    const missingArgs = ['job', 'wait', '999'];
    const missing = await cli(missingArgs);
    assert.equal(missing.code, 4, describeCli(missingArgs, missing));
    assert.equal(missing.stderr, 'custos: no job 999\n');

    const badArgs = ['job', 'wait', 'nope'];
    const bad = await cli(badArgs);
    assert.equal(bad.code, 2, describeCli(badArgs, bad));
    assert.equal(bad.stderr, 'custos: not a job id: "nope" (see custos job list)\n');
  });

  test('sync prints the job id; sync --wait follows the job to the end', async () => {
    const args = ['sync', SOURCE];
    const r = await cli(args);
    assert.equal(r.code, 0, describeCli(args, r));
    assert.equal(r.stdout, '104\n');
    assert.equal(last('POST', `/api/data-sources/${SOURCE_ENC}/sync`).body, undefined);
    polls.delete('104');
    const waitArgs = ['sync', SOURCE, '--wait'];
    const w = await cli(waitArgs);
    assert.equal(w.code, 0, describeCli(waitArgs, w));
    assert.match(w.stdout, /^job 104 succeeded: sync of laptop:fs:\/home in 12 s\n/);
  });

  test('group delete needs exactly one of --keep-points / --delete-points (status 2, nothing sent)', async () => {
    const before = seen.length;
    for (const extra of [[], ['--keep-points', '--delete-points']]) {
      const args = ['group', 'delete', 'laptops', ...extra];
      const r = await cli(args);
      assert.equal(r.code, 2, describeCli(args, r));
      assert.match(r.stderr, /--keep-points or --delete-points/);
    }
    assert.equal(seen.length, before);
    const args = ['group', 'delete', 'laptops', '--keep-points'];
    const r = await cli(args);
    assert.equal(r.code, 0, describeCli(args, r));
    assert.equal(last('DELETE', '/api/protection-groups/laptops').url, '/api/protection-groups/laptops?points=keep');
  });

  test('group create sends a GroupInput and prints warnings to stderr', async () => {
    const args = ['group', 'create', 'laptops', '--source', SOURCE, 'other:fs:/srv', '--retention', '10d', '--sync', '1h', '--points', '08:00,20:00', '--exclude', '*.mp3', '--exclude', 'cache', '--json'];
    const r = await cli(args);
    assert.equal(r.code, 0, describeCli(args, r));
    const s = last('POST', '/api/protection-groups');
    assert.equal(s.contentType, 'application/json');
    assert.deepEqual(s.body, { name: 'laptops', sources: [SOURCE, 'other:fs:/srv'], retention: 10, sync: 60, points: '08:00,20:00', excludes: ['*.mp3', 'cache'] });
    assert.match(r.stderr, /^warning: 8 recovery points a day/);
    assert.equal(parseJsonOutput<{ group: { name: string } }>(args, r).group.name, 'laptops');
  });

  test('recover posts source, point, target, items and conflict mode; "latest" is the newest point', async () => {
    const args = ['recover', SOURCE, '--point', 'latest', '--to', 'laptop:/tmp/restored', '--item', 'ann/notes.txt', '--conflict', 'keep-both', '--json'];
    const r = await cli(args);
    assert.equal(r.code, 0, describeCli(args, r));
    assert.deepEqual(last('POST', '/api/recoveries').body, { source: SOURCE, point: 'e5f6a7b8', to: 'laptop:/tmp/restored', items: ['ann/notes.txt'], conflict: 'keep-both' });
    assert.equal(parseJsonOutput<{ id: string }>(args, r).id, '105');
    const bad = ['recover', SOURCE, '--point', 'e5f6a7b8', '--to', '/tmp/restored'];
    const b = await cli(bad);
    assert.equal(b.code, 2, describeCli(bad, b));
    // A prefix goes to the server as given (it resolves it among the source's points); "original" is sent as it is.
    const prefix = ['recover', SOURCE, '--point', 'E5F6', '--to', 'original', '--json'];
    const p = await cli(prefix);
    assert.equal(p.code, 0, describeCli(prefix, p));
    assert.deepEqual(last('POST', '/api/recoveries').body, { source: SOURCE, point: 'e5f6', to: 'original' });
    const short = ['recover', SOURCE, '--point', 'e5f', '--to', 'original'];
    const sh = await cli(short);
    assert.equal(sh.code, 2, describeCli(short, sh));
    assert.match(sh.stderr, /^custos: "e5f" is not a recovery point id: give the whole id or its first 4 or more hex digits\n$/);
  });

  test('recover posts --security and each --throttle as given; --help shows the one conflict default, in restore too', async () => {
    const args = ['recover', SOURCE, '--point', 'e5f6a7b8', '--to', 'laptop:/tmp/restored', '--security', 'target', '--throttle', '20MiB/s', '--throttle', '5MiB/s@mon-fri,08:00-18:00', '--json'];
    const r = await cli(args);
    assert.equal(r.code, 0, describeCli(args, r));
    assert.deepEqual(last('POST', '/api/recoveries').body, { source: SOURCE, point: 'e5f6a7b8', to: 'laptop:/tmp/restored', security: 'target', throttle: ['20MiB/s', '5MiB/s@mon-fri,08:00-18:00'] });
    for (const command of ['recover', 'restore']) {
      const help = await cli([command, '--help']);
      const text = help.stdout.replace(/\s+/g, ' ');
      assert.match(text, /--conflict <mode> .*keep-both \(write the recovered file beside it as NAME\.restored.*\(default: overwrite\)/, command);
      assert.match(text, /--security <mode> .*\(default: point\)/, command);
      assert.match(text, /--throttle <rate> .*5MiB\/s@mon-fri,08:00-18:00/, command);
    }
  });

  test('recover --at sends the time as an ISO instant (the whole minute, local unless an offset); --at latest is the newest point', async () => {
    const to = ['--to', 'laptop:/tmp/restored', '--json'];
    for (const [at, sent] of [['2025-03-02T20:00', '2025-03-02T20:00:59.999Z'], ['2025-03-02T21:00:30+01:00', '2025-03-02T20:00:30.999Z']] as const) {
      const args = ['recover', SOURCE, '--at', at, ...to];
      const r = await cli(args);
      assert.equal(r.code, 0, describeCli(args, r));
      assert.deepEqual(last('POST', '/api/recoveries').body, { source: SOURCE, at: sent, to: 'laptop:/tmp/restored' });
    }
    const local = ['recover', SOURCE, '--at', '2025-03-02T20:00', ...to];
    const k = await cli(local, { TZ: 'Pacific/Kiritimati' });
    assert.equal(k.code, 0, describeCli(local, k));
    assert.equal((last('POST', '/api/recoveries').body as { at: string }).at, '2025-03-02T06:00:59.999Z', 'local time of the CLI: +14:00');
    const latest = ['recover', SOURCE, '--at', 'latest', ...to];
    assert.equal((await cli(latest)).code, 0);
    assert.deepEqual(last('POST', '/api/recoveries').body, { source: SOURCE, point: 'e5f6a7b8', to: 'laptop:/tmp/restored' });
  });

  test('recover with both --point and --at, neither, or a bad time is a usage error (exit 2) and sends nothing', async () => {
    const to = ['--to', 'laptop:/tmp/restored'];
    for (const [args, message] of [
      [['recover', SOURCE, '--point', 'e5f6a7b8', '--at', 'latest', ...to], /exactly one of --point/],
      [['recover', SOURCE, ...to], /exactly one of --point/],
      [['recover', SOURCE, '--at', 'tomorrow 08:00', ...to], /is not a time/],
      [['recover', SOURCE, '--at', '2025-02-30T10:00', ...to], /is not a time/],
      [['recover', SOURCE, '--at', `2025-03-02T20:00${'0'.repeat(100_000)}`, ...to], /is not a time/],
    ] as const) {
      const before = seen.length;
      const r = await cli([...args]);
      assert.equal(r.code, 2, describeCli([...args].map((a) => a.slice(0, 60)), r));
      assert.match(r.stderr, message);
      assert.ok(r.stderr.length < 1000, 'the error does not echo a huge argument');
      assert.equal(seen.length, before, 'nothing was sent');
    }
  });

  test('point list --calendar: the days with recovery points in the local time zone of the CLI, and how many', async () => {
    const args = ['point', 'list', SOURCE, '--calendar', '--month', '2025-03', '--json'];
    const r = await cli(args);
    assert.equal(r.code, 0, describeCli(args, r));
    assert.deepEqual(parseJsonOutput(args, r), { month: '2025-03', days: [{ date: '2025-03-01', recoveryPoints: 1 }, { date: '2025-03-02', recoveryPoints: 1 }] });
    // 20:00 UTC is 10:00 the next day at +14:00
    const text = ['point', 'list', SOURCE, '--calendar', '--month', '2025-03'];
    const k = await cli(text, { TZ: 'Pacific/Kiritimati' });
    assert.equal(k.code, 0, describeCli(text, k));
    assert.match(k.stdout, /^DATE +RECOVERY POINTS\n2025-03-02 +1\n2025-03-03 +1\n$/);
    const empty = ['point', 'list', SOURCE, '--calendar', '--month', '2025-04'];
    assert.match((await cli(empty)).stdout, /no recovery points of .* in 2025-04/);
    for (const bad of [['--month', '2025-03'], ['--calendar', '--month', '2025-13']]) {
      const before = seen.length;
      const b = await cli(['point', 'list', SOURCE, ...bad]);
      assert.equal(b.code, 2, describeCli(bad, b));
      assert.equal(seen.length, before, 'nothing was sent');
    }
  });

  test('agent token prints the token and the attach command to run', async () => {
    const args = ['agent', 'token', '--expires', '2h'];
    const r = await cli(args);
    assert.equal(r.code, 0, describeCli(args, r));
    assert.deepEqual(last('POST', '/api/agents/enrollment-tokens').body, { expires: '2h' });
    assert.match(r.stdout, /enroll-xyz/);
    assert.ok(r.stdout.includes(`custos agent attach --server ${url} --token enroll-xyz --data /var/lib/custos-agent`), r.stdout);
    const jsonArgs = ['agent', 'token', '--json'];
    const j = await cli(jsonArgs);
    assert.deepEqual(parseJsonOutput(jsonArgs, j), { token: 'enroll-xyz', expiresAt: '2025-03-02T11:00:00.000Z' });
  });
});
