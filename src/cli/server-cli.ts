/**
 * What the server-mode commands share: the connection options (alternatives
 * to CUSTOS_SERVER, CUSTOS_TOKEN, CUSTOS_CA), aligned tables, short local
 * times, and finding a command group that another file may already have
 * created (`agent` is shared with `agent attach` and `agent start`).
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseDuration } from '../base/index.js';
import { ServerClient } from './client.js';
import { print } from './output.js';

export interface ConnectionOptions {
  readonly server?: string;
  readonly tokenFile?: string;
  readonly ca?: string;
}

const GROUP = 'Connection options (default: $CUSTOS_SERVER, $CUSTOS_TOKEN, $CUSTOS_CA):';

/** Adds --server, --token-file and --ca to a command that talks to the protection server. */
export function withConnection(cmd: Command): Command {
  return cmd
    .addOption(new Option('--server <url>', 'protection server URL, e.g. https://127.0.0.1:8440').helpGroup(GROUP))
    .addOption(new Option('--token-file <file>', 'file holding the API token (e.g. DATA/admin.token)').helpGroup(GROUP))
    .addOption(new Option('--ca <file>', "the server's CA certificate (DATA/ca.pem)").helpGroup(GROUP));
}

/** A client for the options of a command made with withConnection (environment variables fill the gaps). */
export function connect(opts: ConnectionOptions): ServerClient {
  return new ServerClient({ server: opts.server, tokenFile: opts.tokenFile, ca: opts.ca });
}

/** The subcommand `name` of `parent`, created when no other file has made it yet. */
export function commandGroup(parent: Command, name: string, description: string): Command {
  return parent.commands.find((c) => c.name() === name) ?? parent.command(name).description(description);
}

/** Prints rows under headers, columns aligned (two spaces apart; the last one is not padded). */
export function printTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  // At a terminal the table fits its width (at least 120 columns); piped, every cell stays whole for grep and cut.
  const width = process.stdout.isTTY ? Math.max(TABLE_MIN_WIDTH, process.stdout.columns ?? 0) : Infinity;
  for (const l of tableLines(headers, rows, width)) print(l);
}

/** The narrowest a table is squeezed to at a terminal (wider terminals get their width). */
export const TABLE_MIN_WIDTH = 120;
const GAP = 2;
/** A column is never squeezed below this (or its header). */
const MIN_COLUMN = 10;

/**
 * The lines of a table whose columns fit `width` characters: while it is too
 * wide, the widest column gives up a character (never below its header or
 * MIN_COLUMN); a cell longer than its column keeps its start and end with
 * "…" between (ids and paths differ at both ends).
 */
export function tableLines(headers: readonly string[], rows: ReadonlyArray<readonly string[]>, width: number): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const floor = headers.map((h) => Math.max(h.length, MIN_COLUMN));
  const total = () => widths.reduce((n, w) => n + w, 0) + GAP * (widths.length - 1);
  while (total() > width) {
    let widest = -1;
    for (let i = 0; i < widths.length; i++) if (widths[i]! > floor[i]! && (widest < 0 || widths[i]! > widths[widest]!)) widest = i;
    if (widest < 0) break; // every column at its floor: a terminal narrower than that wraps
    widths[widest]!--;
  }
  const cut = (c: string, w: number) => (c.length <= w ? c : `${c.slice(0, Math.ceil((w - 1) / 2))}…${c.slice(c.length - Math.floor((w - 1) / 2))}`);
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? cut(c, widths[i]!) : cut(c, widths[i]!).padEnd(widths[i]!)))
      .join(' '.repeat(GAP))
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** The local zone's offset at `d` as "+02:00". */
function utcOffset(d: Date): string {
  const minutes = -d.getTimezoneOffset();
  const abs = Math.abs(minutes);
  return `${minutes < 0 ? '-' : '+'}${pad2(Math.floor(abs / 60))}:${pad2(abs % 60)}`;
}

/**
 * An ISO time as local "YYYY-MM-DD HH:MM"; "-" for none. Within an hour of
 * a daylight saving change the local offset follows ("2026-10-25 02:30
 * +02:00"), so the hour that happens twice is told apart.
 */
export function shortTime(iso: string | null | undefined): string {
  if (!iso) return '-';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const local = `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  const nearChange = new Date(d.getTime() - 3_600_000).getTimezoneOffset() !== new Date(d.getTime() + 3_600_000).getTimezoneOffset();
  return nearChange ? `${local} ${utcOffset(d)}` : local;
}

/** An ISO time as local "HH:MM:SS" (job log lines). */
export function clockTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** Seconds as "45 s", "12 min", "3.5 h". */
export function shortDuration(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/** Writes each warning of a server answer to stderr. */
export function printWarnings(warnings: readonly string[] | undefined): void {
  for (const w of warnings ?? []) process.stderr.write(`warning: ${w}\n`);
}

/** commander argParser: a whole number ≥ 1. */
export function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a whole number of at least 1.');
  return Number(value);
}

/** commander argParser: a duration such as 90s, 15m, 1h, 2d (kept as text; checked here). */
export function duration(value: string): string {
  if (parseDuration(value) === undefined) throw new InvalidArgumentError('expected a duration such as 90s, 15m, 1h or 2d.');
  return value;
}

/** Prints "name: value" lines with the values aligned. */
export function printFields(fields: ReadonlyArray<readonly [string, string]>): void {
  const w = Math.max(...fields.map(([k]) => k.length)) + 1;
  for (const [k, v] of fields) print(`${`${k}:`.padEnd(w)} ${v}`);
}
