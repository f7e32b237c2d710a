/**
 * `custos browse`, `custos search`, `custos versions`: what a recovery point
 * holds, where a file is across points, and each version of one file —
 * so the item and the point to recover can be found before `custos recover`.
 */
import type { Command } from 'commander';
import { CustosError, systemClock } from '../../base/index.js';
import { api } from '../../protocol/rest/index.js';
import { cursorOfName, itemRow, nameOfCursor } from '../file-listing.js';
import { print, printJson } from '../output.js';
import { parsePointTime } from '../point-time.js';
import { formatBytes } from '../progress.js';
import { connect, positiveInt, printTable, shortTime, withConnection, type ConnectionOptions } from '../server-cli.js';

type PointOptions = { point?: string; at?: string };

/** The query naming the point: an id or prefix, a time, or nothing (the newest). */
function pointQuery(opts: PointOptions): { point?: string; at?: string } {
  if (opts.point !== undefined && opts.at !== undefined) throw new CustosError('usage', 'choose the recovery point with --point ID or --at TIME, not both');
  if (opts.at !== undefined) {
    const t = parsePointTime(opts.at, systemClock.now());
    return t.latest ? {} : { at: t.at };
  }
  if (opts.point !== undefined && opts.point !== 'latest') {
    if (!/^[0-9a-f]{4,64}$/.test(opts.point)) throw new CustosError('usage', `--point ${opts.point}: give a recovery point id or at least its first 4 hex digits (see custos point list), or latest`);
    return { point: opts.point };
  }
  return {};
}

export function registerFileCommands(program: Command): void {
  withConnection(
    program
      .command('browse')
      .description('list one directory of a recovery point (the newest unless --point or --at says otherwise)')
      .argument('<source>', 'data source id (AGENT:fs:/path)')
      .argument('[path]', 'directory inside the data source, relative to it or absolute under it [the protected directory]')
      .option('--point <id>', 'recovery point id, its first 4+ hex digits, or latest')
      .option('--at <time>', 'the newest recovery point at or before TIME: 2026-12-01T17:00 (local unless an offset is given), "yesterday 17:00", "today 08:00" or latest')
      .option('--limit <n>', 'at most N items [1000]', positiveInt)
      .option('--after <name>', 'start after this name (the next page of a big directory)')
      .option('--json', 'print the listing as JSON'),
  ).action(async (source: string, path: string | undefined, opts: ConnectionOptions & PointOptions & { limit?: number; after?: string; json?: boolean }) => {
    const r = await connect(opts).call(api.browse, {
      params: { id: source },
      query: { ...pointQuery(opts), path: path ?? '', ...(opts.limit ? { limit: opts.limit } : {}), ...(opts.after !== undefined ? { after: cursorOfName(opts.after) } : {}) },
    });
    if (opts.json) return printJson(r);
    print(`${source}, recovery point ${r.point.id} (${shortTime(r.point.time)}): ${r.path === '' ? '/' : r.path}`);
    if (r.items.length === 0) return print('(empty)');
    printTable(['MODE', 'OWNER', 'GROUP', 'SIZE', 'MODIFIED', 'NAME'], r.items.map(itemRow));
    if (r.next) {
      const q = (s: string) => (/^[A-Za-z0-9_./:@%+=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
      print(`more: custos browse ${q(source)} ${q(path ?? '/')} --point ${r.point.id} --after ${q(nameOfCursor(r.next))}`);
    }
  });

  withConnection(
    program
      .command('search')
      .description('find files by name in every recovery point of a data source')
      .argument('<source>', 'data source id (AGENT:fs:/path)')
      .argument('<pattern>', "glob: '*.tex' matches names at any depth; with a '/', whole paths ('docs/*.tex', '**/thesis*': ** is any directories)")
      .option('--limit <n>', 'at most N paths [1000]', positiveInt)
      .option('--json', 'print the hits as JSON'),
  ).action(async (source: string, pattern: string, opts: ConnectionOptions & { limit?: number; json?: boolean }) => {
    const r = await connect(opts).call(api.search, { params: { id: source }, query: { pattern, ...(opts.limit ? { limit: opts.limit } : {}) } });
    if (opts.json) return printJson(r);
    if (r.hits.length === 0) return print(`nothing matches ${pattern} in the ${r.pointsSearched} recovery point(s) of ${source}`);
    printTable(
      ['PATH', 'SIZE', 'FIRST', 'LAST', 'POINTS'],
      r.hits.map((h) => [h.type === 'dir' ? `${h.path}/` : h.path, h.type === 'dir' ? '-' : formatBytes(h.size), shortTime(h.first.time), shortTime(h.last.time), `${h.points} of ${r.pointsSearched}`]),
    );
    if (r.truncated) print(`(only the first ${r.hits.length} paths: narrow the pattern or raise --limit)`);
  });

  withConnection(
    program
      .command('versions')
      .description('each distinct version of one file across the recovery points of a data source')
      .argument('<source>', 'data source id (AGENT:fs:/path)')
      .argument('<path>', 'file inside the data source, relative to it or absolute under it')
      .option('--json', 'print the versions as JSON'),
  ).action(async (source: string, path: string, opts: ConnectionOptions & { json?: boolean }) => {
    const r = await connect(opts).call(api.versions, { params: { id: source }, query: { path } });
    if (opts.json) return printJson(r);
    if (r.versions.length === 0) return print(`${path} is in no recovery point of ${source}`);
    const rows: string[][] = [];
    r.versions.forEach((v, i) => {
      v.points.forEach((p, j) => rows.push(j === 0 ? [String(i + 1), formatBytes(v.size), shortTime(v.mtime), p.id, shortTime(p.time)] : ['', '', '', p.id, shortTime(p.time)]));
    });
    printTable(['VERSION', 'SIZE', 'MODIFIED', 'RECOVERY POINT', 'TIME'], rows);
    print(`recover one with: custos recover ${source} --point ID --item ${path} --to AGENT:/path`);
  });
}
