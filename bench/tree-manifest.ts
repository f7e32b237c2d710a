/**
 * Content manifests of directory trees: what a restore is checked against.
 * A manifest maps each relative path to its type, permission bits, size and
 * SHA-256 (files) or link target (symlinks). Timestamps and owners are not
 * compared.
 */
import { createHash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';

export type EntryType = 'file' | 'dir' | 'symlink' | 'other';

export interface ManifestEntry {
  readonly type: EntryType;
  readonly mode: number;
  readonly size: number;
  readonly sha256?: string;
  readonly link?: string;
}

export type Manifest = ReadonlyMap<string, ManifestEntry>;

export interface TreeStats {
  /** Regular files. */
  readonly files: number;
  /** Total bytes of regular files. */
  readonly bytes: number;
}

interface WalkItem {
  readonly rel: string;
  readonly abs: string;
  readonly dirent: Dirent;
}

/** Depth-first walk, children in sorted order; the root itself is not yielded. */
async function* walk(root: string): AsyncGenerator<WalkItem> {
  const stack: string[] = [''];
  while (stack.length) {
    const rel = stack.pop()!;
    const entries = await readdir(join(root, rel), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const subdirs: string[] = [];
    for (const dirent of entries) {
      const childRel = rel ? `${rel}/${dirent.name}` : dirent.name;
      yield { rel: childRel, abs: join(root, childRel), dirent };
      if (dirent.isDirectory()) subdirs.push(childRel);
    }
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
  }
}

/** Regular file paths (relative, sorted walk order) and their sizes. */
export async function listFiles(root: string): Promise<{ rel: string; size: number }[]> {
  const files: { rel: string; size: number }[] = [];
  for await (const item of walk(root)) {
    if (item.dirent.isFile()) files.push({ rel: item.rel, size: (await lstat(item.abs)).size });
  }
  return files;
}

export async function treeStats(root: string): Promise<TreeStats> {
  let files = 0;
  let bytes = 0;
  for (const f of await listFiles(root)) {
    files++;
    bytes += f.size;
  }
  return { files, bytes };
}

async function hashFile(path: string, buf: Buffer): Promise<string> {
  const hash = createHash('sha256');
  const fh = await open(path, 'r');
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

/** Builds a manifest of everything below `root`, hashing files with a few readers in parallel. */
export async function buildManifest(root: string, concurrency = 6): Promise<Manifest> {
  const manifest = new Map<string, ManifestEntry>();
  const pending: { rel: string; abs: string; mode: number; size: number }[] = [];
  for await (const item of walk(root)) {
    const st = await lstat(item.abs);
    const mode = st.mode & 0o7777;
    if (st.isFile()) {
      pending.push({ rel: item.rel, abs: item.abs, mode, size: st.size });
      manifest.set(item.rel, { type: 'file', mode, size: st.size });
    } else if (st.isDirectory()) {
      manifest.set(item.rel, { type: 'dir', mode, size: 0 });
    } else if (st.isSymbolicLink()) {
      manifest.set(item.rel, { type: 'symlink', mode: 0, size: 0, link: await readlink(item.abs) });
    } else {
      manifest.set(item.rel, { type: 'other', mode, size: 0 });
    }
  }
  let next = 0;
  const worker = async (): Promise<void> => {
    const buf = Buffer.allocUnsafe(1 << 20);
    while (next < pending.length) {
      const f = pending[next++]!;
      manifest.set(f.rel, { type: 'file', mode: f.mode, size: f.size, sha256: await hashFile(f.abs, buf) });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return manifest;
}

/** One digest for a whole manifest (order-independent of how it was built). */
export function manifestDigest(manifest: Manifest): string {
  const hash = createHash('sha256');
  for (const key of [...manifest.keys()].sort()) {
    const e = manifest.get(key)!;
    hash.update(`${key}\0${e.type}\0${e.mode}\0${e.size}\0${e.sha256 ?? ''}\0${e.link ?? ''}\n`);
  }
  return hash.digest('hex');
}

export interface Comparison {
  readonly ok: boolean;
  readonly entries: number;
  readonly mismatchCount: number;
  /** The first few differences, human-readable. */
  readonly mismatches: readonly string[];
}

export function compareManifests(expected: Manifest, actual: Manifest, limit = 20): Comparison {
  const mismatches: string[] = [];
  let count = 0;
  const note = (m: string): void => {
    count++;
    if (mismatches.length < limit) mismatches.push(m);
  };
  for (const [rel, want] of expected) {
    const got = actual.get(rel);
    if (!got) note(`missing: ${rel}`);
    else if (got.type !== want.type) note(`type ${got.type} != ${want.type}: ${rel}`);
    else if (want.type === 'file' && (got.size !== want.size || got.sha256 !== want.sha256))
      note(`content differs (size ${got.size} vs ${want.size}): ${rel}`);
    else if (want.type === 'symlink' && got.link !== want.link) note(`link target differs: ${rel}`);
    else if (want.type !== 'symlink' && got.mode !== want.mode)
      note(`mode ${got.mode.toString(8)} != ${want.mode.toString(8)}: ${rel}`);
  }
  for (const rel of actual.keys()) if (!expected.has(rel)) note(`unexpected: ${rel}`);
  return { ok: count === 0, entries: expected.size, mismatchCount: count, mismatches };
}

/** Top-level names of a manifest, sorted. */
export function topLevelNames(manifest: Manifest): string[] {
  return [...manifest.keys()].filter((k) => !k.includes('/')).sort();
}
