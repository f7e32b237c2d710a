import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { askNewPassword, readPasswordFile, readPasswordLine, type Terminal } from './password-input.js';

test('a password file gives its first line, without CR or LF; an empty first line or a missing file is a usage error', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'custos-pw-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const f = join(dir, 'pw');
  for (const [content, want] of [['secret pass\n', 'secret pass'], ['secret pass\r\nsecond line\n', 'secret pass'], ['no newline', 'no newline'], [' spaced \n', ' spaced ']] as const) {
    await writeFile(f, content);
    assert.equal(await readPasswordFile(f), want);
  }
  await writeFile(f, '\nsecret\n');
  await assert.rejects(readPasswordFile(f), (e: Error & { code?: string }) => e.code === 'usage' && /first line is empty/.test(e.message));
  await writeFile(f, 'x'.repeat(9000));
  await assert.rejects(readPasswordFile(f), /no line ending within 8192 bytes/);
  await assert.rejects(readPasswordFile(join(dir, 'missing')), (e: Error & { code?: string }) => e.code === 'usage' && /cannot read the password file/.test(e.message));
});

test('standard input that is not a terminal gives its first line', async () => {
  assert.equal(await readPasswordLine(Readable.from([Buffer.from('pass'), Buffer.from('word-1\nrest\n')])), 'password-1');
  assert.equal(await readPasswordLine(Readable.from([Buffer.from('last-line-without-newline')])), 'last-line-without-newline');
  await assert.rejects(readPasswordLine(Readable.from([])), /first line is empty/);
});

/** A terminal the test types into: raw mode recorded, output collected. */
function fakeTerminal(keys: string[]): { t: Terminal; shown: () => string; rawModes: boolean[] } {
  const input = new PassThrough() as PassThrough & { setRawMode(m: boolean): void; isRaw: boolean };
  const rawModes: boolean[] = [];
  input.isRaw = false;
  input.setRawMode = (m: boolean) => {
    rawModes.push(m);
    input.isRaw = m;
  };
  let out = '';
  const output = new PassThrough();
  output.on('data', (d: Buffer) => (out += d.toString()));
  // Each prompt reads what is typed after it is shown.
  let i = 0;
  output.on('data', (d: Buffer) => {
    if (!d.toString().endsWith(': ') || i >= keys.length) return;
    const typed = keys[i++]!;
    setImmediate(() => input.write(typed));
  });
  return { t: { input, output }, shown: () => out, rawModes };
}

test('at a terminal the password is asked twice in raw mode, never echoed; backspace edits', async () => {
  const term = fakeTerminal(['secrex\u007ft-pw\r', 'secret-pw\r']);
  assert.equal(await askNewPassword(term.t, 'alice'), 'secret-pw');
  assert.ok(!term.shown().includes('secret'), term.shown());
  assert.match(term.shown(), /new password for alice: \nthe same password again: \n/);
  assert.deepEqual(term.rawModes, [true, false, true, false]);
});

test('two different passwords, or Ctrl-C, change nothing', async () => {
  await assert.rejects(askNewPassword(fakeTerminal(['one-password\r', 'another-one\r']).t, 'bob'), (e: Error & { code?: string }) => e.code === 'usage' && /the two passwords differ/.test(e.message));
  await assert.rejects(askNewPassword(fakeTerminal(['abc\u0003']).t, 'bob'), (e: Error & { code?: string }) => e.code === 'cancelled');
});
