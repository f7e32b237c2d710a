/**
 * Walks a tree depth-first with each directory's names sorted bytewise — the
 * manifest's walk order — using raw byte paths so no name is ever mangled.
 */
import { lstatSync, readdirSync, type BigIntStats } from 'node:fs';
import { isErrno } from '../../base/index.js';

export interface WalkItem {
  /** Path relative to the root ('' for the root itself). */
  readonly rel: Buffer;
  readonly abs: Buffer;
  readonly st: BigIntStats;
  /** Set when a directory could not be listed. */
  readonly error?: string;
}

const SLASH = Buffer.from('/');
export const EMPTY_PATH = Buffer.alloc(0);

function join(a: Buffer, b: Buffer): Buffer {
  return a.length === 0 ? b : Buffer.concat([a, SLASH, b]);
}

function listSorted(abs: Buffer): Buffer[] {
  const names = readdirSync(abs, { encoding: 'buffer' });
  return names.sort(Buffer.compare);
}

interface Frame {
  readonly abs: Buffer;
  readonly rel: Buffer;
  readonly names: Buffer[];
  i: number;
}

/** `exclude` is asked before an item is yielded; an excluded directory is not descended. */
export function* walk(root: Buffer, exclude: (rel: Buffer, isDir: boolean) => boolean): Generator<WalkItem> {
  const rootSt = lstatSync(root, { bigint: true });
  const stack: Frame[] = [];
  const enter = (abs: Buffer, rel: Buffer, st: BigIntStats): WalkItem => {
    try {
      stack.push({ abs, rel, names: listSorted(abs), i: 0 });
      return { rel, abs, st };
    } catch (err) {
      return { rel, abs, st, error: `cannot list directory: ${(err as Error).message}` };
    }
  };
  yield rootSt.isDirectory() ? enter(root, EMPTY_PATH, rootSt) : { rel: EMPTY_PATH, abs: root, st: rootSt };
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.i >= top.names.length) {
      stack.pop();
      continue;
    }
    const name = top.names[top.i++]!;
    const abs = Buffer.concat([top.abs, SLASH, name]);
    const rel = join(top.rel, name);
    let st: BigIntStats;
    try {
      st = lstatSync(abs, { bigint: true });
    } catch (err) {
      if (isErrno(err, 'ENOENT')) continue; // removed since the directory was listed
      throw err;
    }
    const isDir = st.isDirectory();
    if (exclude(rel, isDir)) continue;
    yield isDir ? enter(abs, rel, st) : { rel, abs, st };
  }
}
