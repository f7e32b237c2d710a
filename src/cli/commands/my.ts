/**
 * `custos my versions|browse|recover`: a person logged into a protected
 * computer gets their own files back, with no administrator and no token.
 * The command talks to this computer's agent over its user socket
 * (CUSTOS_AGENT_SOCKET, else /run/custos-agent.sock); the agent learns who
 * is asking from the kernel, and the server decides what they may see.
 */
import { createConnection } from 'node:net';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CustosError, systemClock } from '../../base/index.js';
import { DEFAULT_USER_SOCKET, type MyAnswer, type MyRequest } from '../../agent/user/user-socket.js';
import { isErrorCode } from '../exit-codes.js';
import { print, printJson } from '../output.js';
import { parsePointTime } from '../point-time.js';
import { printTable, shortTime } from '../server-cli.js';

function socketPath(): string {
  return process.env['CUSTOS_AGENT_SOCKET'] || DEFAULT_USER_SOCKET;
}

/** One request, one answer, over the agent's user socket. */
export async function askAgent(req: MyRequest, path = socketPath()): Promise<Record<string, unknown>> {
  const text = await new Promise<string>((done, fail) => {
    const c = createConnection(path);
    let got = '';
    c.setEncoding('utf8');
    c.on('connect', () => c.write(JSON.stringify(req) + '\n'));
    c.on('data', (d: string) => (got += d));
    c.on('end', () => done(got));
    c.on('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? 'no Custos agent listens there' : e.code === 'EACCES' ? 'you may not connect to it' : e.message;
      fail(new CustosError('unreachable', `cannot reach this computer's Custos agent at ${path}: ${why} (set CUSTOS_AGENT_SOCKET if it listens elsewhere)`));
    });
  });
  let a: MyAnswer;
  try {
    a = JSON.parse(text.trim()) as MyAnswer;
  } catch {
    throw new CustosError('unreachable', `the agent at ${path} gave no answer`);
  }
  if (!a.ok) throw new CustosError(isErrorCode(a.error.code) ? a.error.code : 'internal', String(a.error.message));
  return a.body;
}

/** --point / --at as sent to the agent (the time as a UTC instant, `latest` as nothing). */
function pointChoice(opts: { point?: string; at?: string }): { point?: string; at?: string } {
  if (opts.point !== undefined && opts.at !== undefined) throw new CustosError('usage', 'give --point or --at, not both');
  if (opts.at !== undefined) {
    const t = parsePointTime(opts.at, systemClock.now());
    return t.latest ? {} : { at: t.at };
  }
  if (opts.point !== undefined && opts.point !== 'latest') return { point: opts.point.toLowerCase() };
  return {};
}

interface Version {
  size: number;
  mtime: string;
  points: Array<{ id: string; time: string }>;
}

interface Item {
  name: string;
  type: string;
  size: number;
  mtime: string;
  mode: number;
}

export function registerMyCommands(program: Command): void {
  const my = program.command('my').description('recover your own files on this computer (no administrator needed)');

  my.command('versions')
    .description('the versions of one of your files kept in the recovery points')
    .argument('<path>', 'the file (absolute, or relative to the current directory)')
    .option('--json', 'print the answer as JSON')
    .action(async (path: string, opts: { json?: boolean }) => {
      const r = await askAgent({ op: 'versions', path: resolve(path) });
      if (opts.json) return printJson(r);
      const versions = r['versions'] as Version[];
      printTable(['VERSION', 'SIZE', 'MODIFIED', 'FIRST POINT', 'LAST POINT', 'POINTS'], versions.map((v, i) => [
        String(i + 1), String(v.size), shortTime(v.mtime), `${v.points[0]!.id.slice(0, 8)} ${shortTime(v.points[0]!.time)}`,
        `${v.points.at(-1)!.id.slice(0, 8)} ${shortTime(v.points.at(-1)!.time)}`, String(v.points.length),
      ]));
    });

  my.command('browse')
    .description('one directory as a recovery point holds it (what you could read)')
    .argument('[dir]', 'the directory (absolute, or relative to the current directory)', '.')
    .option('--point <id>', 'recovery point id (4+ hex digits) or latest')
    .option('--at <time>', 'the newest recovery point at or before TIME (ISO, "yesterday 17:00", latest)')
    .option('--limit <n>', 'items per page (1-1000)', (v) => Number(v))
    .option('--after <name>', 'start after this name (the next page)')
    .option('--json', 'print the answer as JSON')
    .action(async (dir: string, opts: { point?: string; at?: string; limit?: number; after?: string; json?: boolean }) => {
      const r = await askAgent({
        op: 'browse', path: resolve(dir), ...pointChoice(opts), ...(opts.limit !== undefined ? { limit: opts.limit } : {}), ...(opts.after !== undefined ? { after: opts.after } : {}),
      });
      if (opts.json) return printJson(r);
      const point = r['point'] as { id: string; time: string };
      print(`${String(r['path'])} in recovery point ${point.id.slice(0, 8)} (${shortTime(point.time)})`);
      printTable(['NAME', 'TYPE', 'SIZE', 'MODIFIED', 'MODE'], (r['items'] as Item[]).map((i) => [i.name, i.type, String(i.size), shortTime(i.mtime), i.mode.toString(8).padStart(4, '0')]));
      if (r['next'] !== null) print(`more: --after ${JSON.stringify(r['next'])}`);
    });

  my.command('search')
    .description('your files that match a pattern, in every recovery point')
    .argument('<pattern>', "a glob: '*.tex' matches names, 'papers/**/draft*' paths under DIR")
    .argument('[dir]', 'where to look (absolute, or relative to the current directory)', '.')
    .option('--limit <n>', 'at most this many hits (1-1000)', (v) => Number(v), 100)
    .option('--json', 'print the answer as JSON')
    .action(async (pattern: string, dir: string, opts: { limit: number; json?: boolean }) => {
      const r = await askAgent({ op: 'search', path: resolve(dir), pattern, limit: opts.limit });
      if (opts.json) return printJson(r);
      const hits = r['hits'] as Array<{ path: string; type: string; size: number; first: { time: string }; last: { time: string }; points: number }>;
      if (hits.length === 0) return print('nothing found that you could read');
      printTable(['PATH', 'TYPE', 'SIZE', 'FIRST', 'LAST', 'POINTS'], hits.map((h) => [h.path, h.type, String(h.size), shortTime(h.first.time), shortTime(h.last.time), String(h.points)]));
    });

  my.command('recover')
    .description("recover one of your files: by default next to the original as 'NAME (recovered YYYY-MM-DD HHMM)'")
    .argument('<path>', 'the file (absolute, or relative to the current directory)')
    .option('--point <id>', 'recovery point id (4+ hex digits) or latest [latest]')
    .option('--at <time>', 'the newest recovery point at or before TIME (ISO, "yesterday 17:00", latest)')
    .option('--to <path>', 'write it here instead (a new file, or into an existing directory)')
    .option('--conflict <mode>', 'overwrite: replace the file that is there (without --to: the original)')
    .option('--json', 'print the answer as JSON')
    .action(async (path: string, opts: { point?: string; at?: string; to?: string; conflict?: string; json?: boolean }) => {
      if (opts.conflict !== undefined && opts.conflict !== 'overwrite') throw new CustosError('usage', `--conflict takes overwrite (without it nothing is replaced), not ${JSON.stringify(opts.conflict)}`);
      const r = await askAgent({
        op: 'recover', path: resolve(path), ...pointChoice(opts), ...(opts.to !== undefined ? { to: resolve(opts.to) } : {}), ...(opts.conflict ? { conflict: 'overwrite' as const } : {}),
      });
      if (opts.json) return printJson(r);
      const point = r['point'] as { id: string; time: string };
      print(`recovered ${String(r['path'])} as of ${shortTime(point.time)} (point ${point.id.slice(0, 8)}) to ${String(r['to'])}`);
    });
}
