/** Installs the Debian packages the benchmark needs and unpacks the Linux tree once. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, rename, rm, readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CommandError, run, runChecked } from './exec.js';
import type { BenchPaths } from './paths.js';
import { treeStats } from './tree-manifest.js';

export interface Prerequisite {
  readonly pkg: string;
  /** A file whose presence means the package is installed. */
  readonly probe: string;
}

export const PREREQS = {
  time: { pkg: 'time', probe: '/usr/bin/time' },
  restic: { pkg: 'restic', probe: '/usr/bin/restic' },
  borg: { pkg: 'borgbackup', probe: '/usr/bin/borg' },
  linuxSource: { pkg: 'linux-source-6.1', probe: '/usr/src/linux-source-6.1.tar.xz' },
} as const satisfies Record<string, Prerequisite>;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** apt-get installs whatever is missing; runs `apt-get update` only if a package cannot be found. */
export async function ensurePackages(wanted: readonly Prerequisite[], log: (m: string) => void): Promise<void> {
  const missing = wanted.filter((p) => !existsSync(p.probe));
  if (missing.length === 0) return;
  const pkgs = missing.map((p) => p.pkg);
  if (process.getuid?.() !== 0) {
    throw new Error(`missing packages ${pkgs.join(' ')}; run as root or install them: apt-get install -y ${pkgs.join(' ')}`);
  }
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  let updated = false;
  for (let attempt = 1; ; attempt++) {
    log(`installing ${pkgs.join(' ')} (apt-get, attempt ${attempt})`);
    const out = await run({
      cmd: 'apt-get',
      args: ['install', '-y', '-o', 'DPkg::Lock::Timeout=600', ...pkgs],
      env,
    });
    if (out.exitCode === 0) break;
    const text = out.stderr + out.stdout;
    if (!updated && /Unable to locate package|has no installation candidate|Failed to fetch/.test(text)) {
      log('package lists look stale: apt-get update');
      await runChecked({ cmd: 'apt-get', args: ['update', '-o', 'DPkg::Lock::Timeout=600'], env });
      updated = true;
      continue;
    }
    if (attempt < 5 && /lock|dpkg was interrupted|Could not get lock/i.test(text)) {
      log('dpkg is busy (someone else installing?); waiting 20 s');
      await sleep(20_000);
      continue;
    }
    throw new CommandError({ cmd: 'apt-get', args: ['install', '-y', ...pkgs] }, out);
  }
  const still = missing.filter((p) => !existsSync(p.probe));
  if (still.length) throw new Error(`installed but still missing: ${still.map((p) => p.probe).join(', ')}`);
}

export interface UnpackInfo {
  readonly seconds: number;
  readonly files: number;
  readonly bytes: number;
  readonly unpackedAt: string;
  /** False when this run reused an earlier unpack. */
  readonly thisRun: boolean;
}

/**
 * Unpacks /usr/src/linux-source-6.1.tar.xz into paths.linuxTree once. The tree
 * is built in a sibling directory and renamed into place, so a half-finished
 * unpack is never reused.
 */
export async function ensureLinuxTree(paths: BenchPaths, log: (m: string) => void): Promise<UnpackInfo> {
  const infoFile = `${paths.linuxTree}.unpack.json`;
  if (existsSync(paths.linuxTree)) {
    if (existsSync(infoFile)) {
      return { ...(JSON.parse(readFileSync(infoFile, 'utf8')) as UnpackInfo), thisRun: false };
    }
    const stats = await treeStats(paths.linuxTree);
    const info: UnpackInfo = { seconds: NaN, ...stats, unpackedAt: 'unknown', thisRun: false };
    writeFileSync(infoFile, JSON.stringify(info, null, 2));
    return info;
  }
  const parent = dirname(paths.linuxTree);
  await mkdir(parent, { recursive: true });
  for (const name of await readdir(parent)) {
    if (name.startsWith(`${basename(paths.linuxTree)}.partial-`)) await rm(join(parent, name), { recursive: true, force: true });
  }
  const partial = `${paths.linuxTree}.partial-${process.pid}`;
  await mkdir(partial);
  log(`unpacking ${paths.linuxTarball} into ${paths.linuxTree} (one time)`);
  const start = Date.now();
  await runChecked({ cmd: 'tar', args: ['-xJf', paths.linuxTarball, '-C', partial, '--strip-components=1'] });
  const seconds = (Date.now() - start) / 1000;
  await rename(partial, paths.linuxTree);
  const stats = await treeStats(paths.linuxTree);
  const info: UnpackInfo = { seconds, ...stats, unpackedAt: new Date().toISOString(), thisRun: true };
  writeFileSync(infoFile, JSON.stringify(info, null, 2));
  log(`unpacked ${stats.files} files, ${stats.bytes} bytes in ${seconds.toFixed(1)} s`);
  return info;
}
