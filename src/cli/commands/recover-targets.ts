/**
 * The recovery targets of `custos recover --to` that are not an agent:
 * `download:FILE.tar|.tar.zst|.zip` (the server streams an archive, written
 * here to FILE.partial and renamed when complete) and `server:/path` (a
 * folder on the protection server, under one of its --recovery-dir
 * directories: passed to the server as it is, which checks it).
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { CustosError, isErrno } from '../../base/index.js';
import { api, type ArchiveFormat, type DownloadSummary } from '../../protocol/rest/index.js';
import type { ServerClient } from '../client.js';
import { print, printJson } from '../output.js';
import { formatBytes, ttyProgress } from '../progress.js';
import { writeWhole } from '../partial-file.js';

export type RecoveryTarget = { kind: 'download'; file: string; format: ArchiveFormat } | { kind: 'server'; path: string } | { kind: 'agent'; to: string };

/** What `--to` names: a download, a server folder, or AGENT:/path (checked further by the caller and the server). */
export function parseRecoveryTarget(to: string): RecoveryTarget {
  if (to.startsWith('download:')) {
    const file = to.slice('download:'.length);
    const format = (['tar.zst', 'tar', 'zip'] as const).find((f) => file.endsWith(`.${f}`) && file.length > f.length + 1);
    if (format === undefined) throw new CustosError('usage', `--to download:FILE: FILE must end in .tar, .tar.zst or .zip (got ${JSON.stringify(file)})`);
    return { kind: 'download', file, format };
  }
  if (to.startsWith('server:')) {
    const path = to.slice('server:'.length);
    if (!path.startsWith('/')) throw new CustosError('usage', `--to server:/path needs an absolute path on the protection server (got ${JSON.stringify(to)})`);
    return { kind: 'server', path };
  }
  return { kind: 'agent', to };
}

export interface DownloadOptions {
  readonly items?: readonly string[];
  readonly force?: boolean;
  readonly json?: boolean;
}

/**
 * Downloads a recovery point (or items of it) into FILE: refuses an existing
 * FILE unless --force, writes FILE.partial (0600: the archive holds whatever
 * the point holds) and renames it once the server's summary says the archive
 * is complete. Items the server could not read are zero-filled in the
 * archive: the file is kept and the command ends with status 3 (partial).
 */
export async function downloadRecovery(client: ServerClient, source: string, which: { point: string } | { at: string }, target: { file: string; format: ArchiveFormat }, opts: DownloadOptions): Promise<void> {
  const file = resolve(target.file);
  if (!opts.force && (await exists(file))) throw new CustosError('exists', `${file} exists: give another file name, or --force to replace it`);
  const progress = ttyProgress('downloading', true);
  let summary: DownloadSummary;
  try {
    summary = await writeWhole(
      file,
      (sink) => client.stream(api.download, sink, (n) => progress.update({ received: formatBytes(n) }), {
        params: { id: source },
        body: { ...which, format: target.format, ...(opts.items !== undefined ? { items: [...opts.items] } : {}) },
      }),
      (s) => {
        if (!s.complete) throw new CustosError('integrity', `the server could not finish the archive (${s.error ?? 'no reason given'}); nothing was kept`);
      },
    );
  } finally {
    progress.end();
  }
  report(file, summary, opts.json);
  if (summary.errorCount > 0) {
    throw new CustosError('partial', `${summary.errorCount} item(s) could not be read from the pool and are zero-filled in ${file}: ${summary.errors.map((e) => e.path).join(', ')}`);
  }
}

function report(file: string, s: DownloadSummary, json: boolean | undefined): void {
  if (json) return printJson({ file, ...s });
  print(`recovery point ${s.point} written to ${file}: ${s.files} files (${formatBytes(s.bytes)}), ${s.dirs} directories, ${s.others} other items`);
  for (const w of s.warnings) process.stderr.write(`custos: warning: ${w}\n`);
  if (s.warningCount > s.warnings.length) process.stderr.write(`custos: … and ${s.warningCount - s.warnings.length} more warnings\n`);
  for (const e of s.errors) process.stderr.write(`custos: error: ${e.path}: ${e.message}\n`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}
