import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustosError } from '../../../base/index.js';
import { binDirFor, portInUse } from './new-instance.js';

test('a port is free for a new instance only when no socket lock names it and nothing answers on it', async () => {
  const sockets = mkdtempSync(join(tmpdir(), 'custos-sock-'));
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const taken = (server.address() as { port: number }).port;
  try {
    assert.match((await portInUse(taken, [sockets])) ?? '', new RegExp(`something answers on 127.0.0.1 port ${taken}`));
    await new Promise<void>((r) => server.close(() => r()));
    assert.equal(await portInUse(taken, [sockets]), null);
    writeFileSync(join(sockets, `.s.PGSQL.${taken}.lock`), '');
    assert.match((await portInUse(taken, [sockets])) ?? '', new RegExp(`has its socket for port ${taken} in ${sockets}`));
  } finally {
    server.close();
    rmSync(sockets, { recursive: true, force: true });
  }
});

test('a major version whose binaries are not installed is refused, naming the package', () => {
  assert.throws(() => binDirFor(99, ['/nonexistent/99/bin']), (e: unknown) => e instanceof CustosError && e.code === 'usage' && /install postgresql-99, or recover to a folder/.test(e.message));
});
