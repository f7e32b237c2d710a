/**
 * The web console's built files (Vite's output, dist/console), served by
 * the protection server itself. They are read once at start into memory
 * with their brotli and gzip forms (a few hundred KB), so a request never
 * names a file on disk: a path that is not one of the built files is simply
 * not found, whatever it spells.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

export interface ConsoleAsset {
  readonly type: string;
  readonly body: Buffer;
  readonly brotli: Buffer;
  readonly gzip: Buffer;
  readonly etag: string;
  /** Vite names these by their content hash: cacheable for good. */
  readonly immutable: boolean;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/** Where the build puts the console, beside the compiled server (dist/src/server → dist/console). */
export const BUILT_CONSOLE_DIR = fileURLToPath(new URL('../../console/', import.meta.url));

export class ConsoleAssets {
  private constructor(private readonly files: ReadonlyMap<string, ConsoleAsset>) {}

  /** Reads the built console; null when it has not been built (the server runs without it). */
  static async load(dir: string = BUILT_CONSOLE_DIR): Promise<ConsoleAssets | null> {
    if (!existsSync(join(dir, 'index.html'))) return null;
    const files = new Map<string, ConsoleAsset>();
    for (const file of await listFiles(dir)) {
      const type = TYPES[extname(file)];
      if (!type) continue;
      const body = await readFile(file);
      const name = relative(dir, file).split(sep).join('/');
      files.set(name, {
        type,
        body,
        brotli: brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } }),
        gzip: gzipSync(body, { level: 9 }),
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
        immutable: name.startsWith('assets/'),
      });
    }
    return new ConsoleAssets(files);
  }

  /** A built file by its name relative to the build directory ('index.html', 'assets/index-3f2a.js'). */
  get(name: string): ConsoleAsset | undefined {
    return this.files.get(name);
  }

  /** Bytes of script a first load transfers, compressed as a browser gets it (brotli). */
  scriptBytes(): { raw: number; brotli: number } {
    let raw = 0;
    let brotli = 0;
    for (const [name, a] of this.files) {
      if (!name.endsWith('.js')) continue;
      raw += a.body.length;
      brotli += a.brotli.length;
    }
    return { raw, brotli };
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p)));
    else if (e.isFile()) out.push(p);
  }
  return out.sort();
}
