/**
 * Reading a new password for `custos user add|passwd`: from a file
 * (`--password-file`, its first line), typed at a terminal (asked twice,
 * nothing echoed), or as one line of standard input when it is a pipe. A
 * password never appears on the command line, where `ps` would show it.
 */
import { open } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { CustosError, errorMessage } from '../base/index.js';

/** More than any password the server accepts (1024 characters of up to 4 bytes), less than a mistake like a binary file. */
const MAX_BYTES = 8192;

/** The first line of a file, without its line ending. */
export async function readPasswordFile(path: string): Promise<string> {
  let text: string;
  try {
    const f = await open(path, 'r');
    try {
      const buf = Buffer.alloc(MAX_BYTES + 1);
      const { bytesRead } = await f.read(buf, 0, buf.length, 0);
      text = buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await f.close();
    }
  } catch (err) {
    throw new CustosError('usage', `cannot read the password file ${path}: ${errorMessage(err)}`);
  }
  return firstLine(text, `the password file ${path}`);
}

/** One line of a stream that is not a terminal (a pipe, a file): the password, without its line ending. */
export async function readPasswordLine(input: Readable): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    parts.push(b);
    size += b.length;
    if (b.includes(0x0a) || size > MAX_BYTES) break;
  }
  return firstLine(Buffer.concat(parts).toString('utf8'), 'standard input');
}

function firstLine(text: string, where: string): string {
  const nl = text.indexOf('\n');
  if (nl < 0 && Buffer.byteLength(text) > MAX_BYTES) throw new CustosError('usage', `${where}: no line ending within ${MAX_BYTES} bytes: give the password on one line`);
  const line = (nl < 0 ? text : text.slice(0, nl)).replace(/\r$/, '');
  if (line === '') throw new CustosError('usage', `${where}: the first line is empty: give the password on one line`);
  return line;
}

/** What a terminal prompt needs: a readable TTY in raw mode, and where to write the prompt. */
export interface Terminal {
  readonly input: Readable & { setRawMode(mode: boolean): unknown; isRaw?: boolean };
  readonly output: Writable;
}

/** Asks once at a terminal, echoing nothing; Ctrl-C or Ctrl-D cancels. */
export function promptHidden(t: Terminal, prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chars: string[] = [];
    const wasRaw = t.input.isRaw ?? false;
    const done = (err: Error | null) => {
      t.input.off('data', onData);
      t.input.setRawMode(wasRaw);
      t.input.pause();
      t.output.write('\n');
      if (err) reject(err);
      else resolve(chars.join(''));
    };
    const onData = (data: Buffer | string) => {
      for (const ch of String(data)) {
        if (ch === '\r' || ch === '\n') return done(null);
        if (ch === '\u0003' || ch === '\u0004') return done(new CustosError('cancelled', 'no password given: cancelled'));
        if (ch === '\u007f' || ch === '\b') chars.pop();
        else if (ch === '\u0015') chars.length = 0; // Ctrl-U: start again
        else if (ch >= ' ') chars.push(ch);
        if (chars.length > 4096) return done(new CustosError('usage', 'the password is too long'));
      }
    };
    t.output.write(prompt);
    t.input.setRawMode(true);
    t.input.setEncoding('utf8');
    t.input.on('data', onData);
    t.input.resume();
  });
}

/** A new password typed twice at a terminal; the two must be the same. */
export async function askNewPassword(t: Terminal, forWhom: string): Promise<string> {
  const first = await promptHidden(t, `new password for ${forWhom}: `);
  if (first === '') throw new CustosError('usage', 'no password given');
  const second = await promptHidden(t, 'the same password again: ');
  if (first !== second) throw new CustosError('usage', 'the two passwords differ: nothing was changed');
  return first;
}

/**
 * The new password of a `user add|passwd` command: `--password-file`, else
 * the terminal (asked twice), else one line of standard input.
 */
export async function newPassword(opts: { passwordFile?: string }, forWhom: string, stdin: NodeJS.ReadStream = process.stdin, stderr: Writable = process.stderr): Promise<string> {
  if (opts.passwordFile !== undefined) return readPasswordFile(opts.passwordFile);
  if (stdin.isTTY) return askNewPassword({ input: stdin, output: stderr }, forWhom);
  return readPasswordLine(stdin);
}
