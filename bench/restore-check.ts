/** Finds the backed-up directory inside a restore target and compares it with the expected manifest. */
import { existsSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { RestoreCheck } from './report.js';
import { buildManifest, compareManifests, type Manifest, topLevelNames } from './tree-manifest.js';

/**
 * Tools differ in where a restore puts things: restic and borg recreate the
 * absolute source path below the target, others restore the directory's
 * contents or the directory itself. Tries those layouts and returns the one
 * whose top-level names match the source's.
 */
export async function locateRestoredRoot(target: string, source: string, expected: Manifest): Promise<string | null> {
  const want = topLevelNames(expected).join('\0');
  const candidates = [join(target, source), join(target, basename(source)), target];
  for (const dir of candidates) {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) continue;
    const names = (await readdir(dir)).sort();
    if (names.join('\0') === want) return dir;
  }
  return null;
}

export async function checkRestore(target: string, source: string, expected: Manifest): Promise<RestoreCheck> {
  const root = await locateRestoredRoot(target, source, expected);
  if (root === null) {
    const found = (await readdir(target)).slice(0, 10).join(', ') || '(empty)';
    return {
      ok: false,
      root: null,
      entries: expected.size,
      mismatchCount: expected.size,
      mismatches: [`could not find the restored tree in ${target}; top level holds: ${found}`],
    };
  }
  return { ...compareManifests(expected, await buildManifest(root)), root };
}
