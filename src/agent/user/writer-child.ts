/**
 * The process that writes a file recovered by `custos my recover`. The
 * agent (root) starts it with the asking user's uid, gid and supplementary
 * groups (setpriv, no capabilities, no new privileges), so every path it
 * opens is checked by the kernel against that user: the file cannot land
 * anywhere the user could not write. It runs as `node -e` with this file's
 * compiled text (a user need not be able to read the agent's install
 * directory), so it imports node:* modules only.
 *
 * Protocol: argv[1] is a JSON WriterSpec; the content arrives on stdin; once
 * stdin ends, fd 3 carries one JSON WriterCommit (or ends empty: abort).
 * The content goes to a new temporary file in the target directory (O_EXCL,
 * O_NOFOLLOW), then becomes the target: by link() when nothing may be
 * replaced (atomic, never over an existing name or symbolic link), by
 * rename() with `overwrite` (which replaces a link itself, never its
 * target). One JSON line on stdout says what happened.
 */
import { closeSync, constants, createReadStream, fchmodSync, fsyncSync, futimesSync, linkSync, lstatSync, openSync, realpathSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

export interface WriterSpec {
  /** Absolute path of the file to create, or of an existing directory to create `name` in (when intoDirectory). */
  readonly target: string;
  readonly name: string;
  readonly intoDirectory: boolean;
  readonly overwrite: boolean;
  /** Refuse when the target's directory, as written, passes a symbolic link (the default target next to the original). */
  readonly noLinksOnTheWay: boolean;
}

export interface WriterCommit {
  readonly mode: number;
  readonly mtimeMs: number;
}

export type WriterAnswer = { ok: true; path: string; bytes: number } | { ok: false; code: string; message: string };

function fail(code: string, message: string): never {
  throw Object.assign(new Error(message), { answerCode: code });
}

function finalPath(spec: WriterSpec): string {
  if (spec.intoDirectory) {
    let isDir = false;
    try {
      isDir = statSync(spec.target).isDirectory();
    } catch {
      // absent: the target names the file
    }
    if (isDir) return join(spec.target, spec.name);
  }
  return spec.target;
}

async function readAll(fd: number): Promise<string> {
  let text = '';
  for await (const chunk of createReadStream('', { fd, encoding: 'utf8' })) text += chunk;
  return text;
}

async function run(spec: WriterSpec): Promise<WriterAnswer> {
  const target = finalPath(spec);
  const dir = dirname(target);
  const base = basename(target);
  if (spec.noLinksOnTheWay && realpathSync(dir) !== dir) fail('unsafe-path', `${dir} passes a symbolic link: give --to`);
  const temp = join(dir, `.${base.slice(0, 200)}.custos-${randomBytes(6).toString('hex')}`);
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  let bytes = 0;
  let done = false;
  try {
    for await (const chunk of process.stdin) {
      const b = chunk as Buffer;
      for (let off = 0; off < b.length;) off += writeSync(fd, b, off, b.length - off);
      bytes += b.length;
    }
    const text = await readAll(3);
    if (text.trim() === '') fail('cancelled', 'the recovery was abandoned');
    const commit = JSON.parse(text) as WriterCommit;
    fchmodSync(fd, commit.mode & 0o777);
    futimesSync(fd, commit.mtimeMs / 1000, commit.mtimeMs / 1000);
    fsyncSync(fd);
    closeSync(fd);
    done = true;
    if (spec.overwrite) {
      let existing: ReturnType<typeof lstatSync> | undefined;
      try {
        existing = lstatSync(target);
      } catch {
        existing = undefined;
      }
      if (existing && !existing.isFile() && !existing.isSymbolicLink()) fail('exists', `${target} exists and is not a file`);
      renameSync(temp, target);
    } else {
      try {
        linkSync(temp, target);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') fail('exists', `${target} exists: choose another --to, or give --conflict overwrite`);
        throw err;
      }
      unlinkSync(temp);
    }
    return { ok: true, path: target, bytes };
  } catch (err) {
    if (!done) closeSync(fd);
    try {
      unlinkSync(temp);
    } catch {
      // already gone (renamed, or never linked)
    }
    throw err;
  }
}

/** Runs when this text is the child's program (`node -e`), never when the agent imports it for its types. */
if (process.env['CUSTOS_WRITER_CHILD'] === '1') {
  const spec = JSON.parse(process.argv[1] ?? '{}') as WriterSpec;
  run(spec).then(
    (answer) => process.stdout.write(JSON.stringify(answer) + '\n'),
    (err: unknown) => {
      const e = err as NodeJS.ErrnoException & { answerCode?: string };
      const code = e.answerCode ?? (e.code === 'EACCES' || e.code === 'EPERM' ? 'denied' : e.code === 'ENOENT' || e.code === 'ENOTDIR' ? 'not-found' : e.code === 'ELOOP' ? 'unsafe-path' : 'io');
      const answer: WriterAnswer = { ok: false, code, message: e.message };
      process.stdout.write(JSON.stringify(answer) + '\n');
      process.exitCode = 1;
    },
  );
}
