/**
 * BlobStore: the tiny storage interface the pool is built on. Names are
 * '/'-separated relative paths. Contract: `put` is atomic and durable — after
 * it resolves the whole object is on stable storage under its name, and a
 * crash at any instant leaves either nothing or the whole object there.
 */
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { CustosError, isErrno } from '../base/index.js';

export interface BlobInfo {
  readonly name: string;
  readonly size: number;
  readonly mtimeMs: number;
}

export interface BlobStore {
  put(name: string, data: Uint8Array | readonly Uint8Array[]): Promise<void>;
  get(name: string): Promise<Buffer>;
  getRange(name: string, offset: number, length: number): Promise<Buffer>;
  /** Objects directly under `prefix` (one level of fan-out directories is descended). */
  list(prefix: string): Promise<BlobInfo[]>;
  delete(name: string): Promise<void>;
  /** The local file behind a name, when there is one (lets workers read packs themselves). */
  localPath?(name: string): string;
}

/** Fsync a directory so a rename or unlink in it is durable. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export class LocalBlobStore implements BlobStore {
  private readonly madeDirs = new Set<string>();
  constructor(readonly root: string) {}

  localPath(name: string): string {
    return join(this.root, name);
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.madeDirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    this.madeDirs.add(dir);
  }

  put(name: string, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    // Two steps so the data is released once written: waiting for fsync holds no memory.
    return this.writeTemp(name, data).then((tmp) => this.commit(tmp, name));
  }

  private async writeTemp(name: string, data: Uint8Array | readonly Uint8Array[]): Promise<string> {
    const tmpDir = join(this.root, 'tmp');
    await this.ensureDir(tmpDir);
    await this.ensureDir(dirname(this.localPath(name)));
    const tmp = join(tmpDir, `${randomBytes(8).toString('hex')}.tmp`);
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writev((data instanceof Uint8Array ? [data] : data) as Uint8Array[]);
    } catch (err) {
      await fh.close();
      await unlink(tmp).catch(() => {});
      throw new CustosError('io', `cannot write ${this.localPath(name)}: ${(err as Error).message}`, { cause: err, transient: true });
    }
    await fh.close();
    return tmp;
  }

  /** Makes a written temporary file durable and moves it to its name. */
  private async commit(tmp: string, name: string): Promise<void> {
    const final = this.localPath(name);
    const fh = await open(tmp, 'r+');
    try {
      await fh.sync();
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw new CustosError('io', `cannot write ${final}: ${(err as Error).message}`, { cause: err, transient: true });
    } finally {
      await fh.close();
    }
    await rename(tmp, final);
    fsyncDir(dirname(final));
  }

  async get(name: string): Promise<Buffer> {
    try {
      return await readFile(this.localPath(name));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new CustosError('not-found', `${name} is missing from the pool`);
      throw err;
    }
  }

  async getRange(name: string, offset: number, length: number): Promise<Buffer> {
    let fh;
    try {
      fh = await open(this.localPath(name), 'r');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new CustosError('not-found', `${name} is missing from the pool`);
      throw err;
    }
    try {
      const buf = Buffer.allocUnsafe(length);
      const { bytesRead } = await fh.read(buf, 0, length, offset);
      return bytesRead === length ? buf : buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  }

  async list(prefix: string): Promise<BlobInfo[]> {
    const out: BlobInfo[] = [];
    const walk = async (rel: string, depth: number): Promise<void> => {
      let names;
      try {
        names = await readdir(join(this.root, rel), { withFileTypes: true });
      } catch (err) {
        if (isErrno(err, 'ENOENT')) return;
        throw err;
      }
      for (const d of names) {
        const child = `${rel}/${d.name}`;
        if (d.isDirectory() && depth === 0) await walk(child, 1);
        else if (d.isFile()) {
          try {
            const s = await stat(join(this.root, child));
            out.push({ name: child, size: s.size, mtimeMs: s.mtimeMs });
          } catch (err) {
            if (!isErrno(err, 'ENOENT')) throw err; // removed since listed (a lock released, a point forgotten)
          }
        }
      }
    };
    await walk(prefix, 0);
    return out;
  }

  async delete(name: string): Promise<void> {
    await rm(this.localPath(name), { force: true });
  }

}
