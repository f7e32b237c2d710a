import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority, issueServerCertificate } from '../../protocol/index.js';
import { ServerClient } from '../client.js';
import { downloadRecovery, parseRecoveryTarget } from './recover-targets.js';

test('--to: downloads by file name, server folders, agents', () => {
  assert.deepEqual(parseRecoveryTarget('download:out/home.tar'), { kind: 'download', file: 'out/home.tar', format: 'tar' });
  assert.deepEqual(parseRecoveryTarget('download:home.tar.zst'), { kind: 'download', file: 'home.tar.zst', format: 'tar.zst' });
  assert.deepEqual(parseRecoveryTarget('download:/tmp/a.zip'), { kind: 'download', file: '/tmp/a.zip', format: 'zip' });
  assert.deepEqual(parseRecoveryTarget('server:/srv/recoveries/x'), { kind: 'server', path: '/srv/recoveries/x' });
  assert.deepEqual(parseRecoveryTarget('laptop:/tmp/x'), { kind: 'agent', to: 'laptop:/tmp/x' });
  for (const bad of ['download:home.tgz', 'download:.zip', 'download:', 'download:home.zst']) {
    assert.throws(() => parseRecoveryTarget(bad), (e: Error & { code?: string }) => e.code === 'usage' && /must end in \.tar, \.tar\.zst or \.zip/.test(e.message), bad);
  }
  assert.throws(() => parseRecoveryTarget('server:relative'), /absolute path/);
});

/**
 * downloadRecovery against a stand-in HTTPS server that answers as a real
 * one would, or breaks off: FILE appears only when the summary says the
 * archive is complete; otherwise no FILE and no FILE.partial are left.
 */
describe('downloadRecovery: FILE only for a complete archive', () => {
  let server: Server;
  let url = '';
  let caPem = '';
  let dir = '';
  let behave: (res: ServerResponse) => void = () => undefined;

  before(async () => {
    const ca = await createCertificateAuthority('test CA');
    const cert = await issueServerCertificate(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    caPem = ca.certPem;
    server = createServer({ key: cert.keyPem, cert: cert.certPem }, (req, res) => {
      req.resume();
      req.on('end', () => behave(res));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dir = mkdtempSync(join(tmpdir(), 'custos-dl-'));
    writeFileSync(join(dir, 'ca.pem'), caPem);
  });

  after(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const client = () => new ServerClient({ server: url, token: 'ctk_test', ca: join(dir, 'ca.pem') });
  const summary = (complete: boolean) => JSON.stringify({ complete, point: 'p', files: 1, dirs: 0, others: 0, bytes: 5, leftOut: 0, warnings: [], warningCount: 0, errors: [], errorCount: 0, error: complete ? null : 'manifest page damaged' });
  const streamed = (body: string, trailer: string | null) => (res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/x-tar', ...(trailer !== null ? { trailer: 'x-custos-summary' } : {}) });
    res.write(body);
    if (trailer !== null) res.addTrailers({ 'x-custos-summary': trailer });
    res.end();
  };

  test('complete: FILE holds the bytes; an existing FILE is refused without force', async () => {
    behave = streamed('hello', summary(true));
    const file = join(dir, 'ok.tar');
    await downloadRecovery(client(), 'a:fs:/x', { point: 'p' }, { file, format: 'tar' }, { json: true });
    assert.equal(readFileSync(file, 'utf8'), 'hello');
    assert.equal(existsSync(`${file}.partial`), false);
    await assert.rejects(downloadRecovery(client(), 'a:fs:/x', { point: 'p' }, { file, format: 'tar' }, {}), (e: Error & { code?: string }) => e.code === 'exists');
  });

  test('no summary (the stream broke off), a summary saying incomplete, an error answer, a connection cut: no FILE, no FILE.partial', async () => {
    const cases: Array<[string, (res: ServerResponse) => void, string, RegExp]> = [
      ['no-summary.tar', streamed('hel', null), 'io', /broke off after 3 bytes/],
      ['incomplete.tar', streamed('hel', summary(false)), 'integrity', /could not finish the archive \(manifest page damaged\)/],
      ['refused.tar', (res) => { res.writeHead(404, { 'content-type': 'application/json' }); res.end(JSON.stringify({ error: { code: 'not-found', message: 'not in recovery point p: nope' } })); }, 'not-found', /not in recovery point p: nope/],
      ['cut.tar', (res) => { res.writeHead(200, { 'content-type': 'application/x-tar', trailer: 'x-custos-summary' }); res.write('partial bytes'); setTimeout(() => res.socket?.destroy(), 50); }, 'io', /broke off/],
    ];
    for (const [name, how, code, message] of cases) {
      behave = how;
      const file = join(dir, name);
      await assert.rejects(downloadRecovery(client(), 'a:fs:/x', { point: 'p' }, { file, format: 'tar' }, {}), (e: Error & { code?: string }) => e.code === code && message.test(e.message), name);
      assert.equal(existsSync(file), false, name);
      assert.equal(existsSync(`${file}.partial`), false, name);
    }
  });
});
