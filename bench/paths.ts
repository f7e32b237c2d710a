/** Where the benchmark keeps its caches, datasets and scratch space. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BenchPaths {
  /** Cache root, kept across runs (datasets, unpacked tree). */
  readonly root: string;
  /** Undo journals for dataset edits, so an interrupted run can be repaired. */
  readonly state: string;
  /** Scratch space for repositories, caches and restore targets; wiped between tools. */
  readonly work: string;
  /** The unpacked Linux 6.1 source tree. */
  readonly linuxTree: string;
  readonly linuxTarball: string;
}

export const DEFAULT_ROOT = '/var/tmp/custos-bench';

export function benchPaths(root: string = DEFAULT_ROOT): BenchPaths {
  return {
    root,
    state: join(root, 'state'),
    work: join(root, 'work'),
    linuxTree: join(root, 'linux-6.1'),
    linuxTarball: '/usr/src/linux-source-6.1.tar.xz',
  };
}

/** The repository root (this file compiles to dist/bench/paths.js). */
export function repoRoot(): string {
  for (const rel of ['../..', '..']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(join(dir, 'package.json'))) return dir.replace(/\/$/, '');
  }
  throw new Error('cannot locate the repository root from ' + import.meta.url);
}
