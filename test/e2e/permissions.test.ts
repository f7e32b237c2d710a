/**
 * The server's data directory and an agent's are readable by their owner
 * only: directories 0700, the catalog (and its -wal, -shm), keys and tokens
 * 0600 — on first start in an existing directory, and again at every start
 * when someone loosened them.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupTempDirs, makeTempDir } from '../helpers/tree.js';
import { attachAgent, startServer, stopAllProcesses } from '../helpers/server.js';

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

function serverSecrets(dir: string): string[] {
  return ['catalog.sqlite', 'catalog.sqlite-wal', 'catalog.sqlite-shm', 'pool.key', 'admin.token', 'tls/ca-key.pem', 'tls/server-key.pem']
    .map((f) => join(dir, f))
    .filter((f) => existsSync(f));
}

function assertServerPrivate(dir: string): void {
  assert.equal(mode(dir), '700', dir);
  assert.equal(mode(join(dir, 'tls')), '700');
  const secrets = serverSecrets(dir);
  assert.ok(secrets.some((f) => f.endsWith('catalog.sqlite')) && secrets.length >= 5, secrets.join(' '));
  for (const f of secrets) assert.equal(mode(f), '600', f);
}

describe('data directory permissions', () => {
  after(async () => {
    await stopAllProcesses();
    await cleanupTempDirs();
  });

  test('the server makes an existing data directory 0700 and its catalog, keys and tokens 0600, at every start', async () => {
    const dir = join((await makeTempDir('custos-perm-')).path, 'server');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const first = await startServer({ dataDir: dir });
    assertServerPrivate(dir);
    await first.process.stop();

    chmodSync(dir, 0o755);
    chmodSync(join(dir, 'tls'), 0o755);
    for (const f of serverSecrets(dir)) chmodSync(f, 0o644);
    const second = await startServer({ dataDir: dir });
    assertServerPrivate(dir);

    // An agent's directory too: made private at attach (it existed, 0755), and again at start.
    const agentDir = join((await makeTempDir('custos-perm-agent-')).path, 'agent');
    mkdirSync(agentDir, { mode: 0o755 });
    chmodSync(agentDir, 0o755);
    const agent = await attachAgent(second, 'perm', agentDir);
    assert.equal(mode(agentDir), '700');
    assert.equal(mode(join(agentDir, 'key.pem')), '600');
    chmodSync(agentDir, 0o755);
    chmodSync(join(agentDir, 'key.pem'), 0o644);
    await agent.start();
    assert.equal(mode(agentDir), '700');
    assert.equal(mode(join(agentDir, 'key.pem')), '600');
  });
});
