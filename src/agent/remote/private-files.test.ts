import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makePrivateDir, makePrivateFiles } from './private-files.js';

const mode = (p: string) => statSync(p).mode & 0o777;

test('an existing open directory becomes 0700 and secret files 0600; tighter modes are kept; missing files are no error', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'custos-private-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const dir = join(base, 'data');
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  const secret = join(dir, 'key.pem');
  const readOnly = join(dir, 'token');
  writeFileSync(secret, 'k');
  chmodSync(secret, 0o644);
  writeFileSync(readOnly, 't');
  chmodSync(readOnly, 0o440);
  const warnings: string[] = [];
  await makePrivateDir(dir, (m) => warnings.push(m));
  await makePrivateFiles([secret, readOnly, join(dir, 'not-there')], (m) => warnings.push(m));
  assert.equal(mode(dir), 0o700);
  assert.equal(mode(secret), 0o600);
  assert.equal(mode(readOnly), 0o400);
  assert.equal(warnings.length, 0, warnings.join('; '));

  const fresh = join(base, 'new', 'nested');
  await makePrivateDir(fresh, (m) => warnings.push(m));
  assert.equal(mode(fresh), 0o700);
});

test('what cannot be made private is warned about, naming it, and the caller goes on', async () => {
  // /proc/1 is 0555 and its mode cannot be changed, not even by root.
  const warnings: string[] = [];
  await makePrivateFiles(['/proc/1'], (m) => warnings.push(m));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /^cannot make \/proc\/1 private \(mode 0500 instead of 0555\): .*other users of this computer may read it$/);
});
