/**
 * A real PostgreSQL cluster for a test or the bench (docs/design/postgresql.md §10.1):
 * initdb run as the `postgres` account in a temporary directory, its own
 * port and socket directory, no TCP (never the image's `15/main` on 5432 or
 * /var/run/postgresql). Stopped and removed by stop(), failed test or not.
 * Needs root (the tests run as root; .ci/run installs postgresql-15).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './services.js';

export const PG_BIN = process.env['CUSTOS_PG_BIN'] ?? '/usr/lib/postgresql/15/bin';

/** Why PostgreSQL tests cannot run here, or null. Not a reason to skip in CI: .ci/run installs it. */
export function postgresMissing(): string | null {
  if (process.getuid?.() !== 0) return 'PostgreSQL tests run as root (they start clusters as the postgres account)';
  if (!existsSync(join(PG_BIN, 'initdb'))) return `no PostgreSQL at ${PG_BIN} (apt-get install postgresql-15)`;
  return null;
}

export interface TestCluster {
  readonly port: number;
  /** The temporary directory holding everything below. */
  readonly dir: string;
  readonly dataDir: string;
  readonly socketDir: string;
  /** Where its configuration is when it is kept outside the data directory (configOutside), else null. */
  readonly configDir: string | null;
  readonly owner: { readonly uid: number; readonly gid: number };
  /** Runs SQL through psql as the owner; the output unaligned, tuples only. */
  sql(query: string, database?: string): string;
  /** pgbench as the owner against this cluster's postgres database (its output). */
  pgbench(...args: string[]): string;
  /** pg_ctl as the owner (start, stop -m fast, …). */
  ctl(...args: string[]): void;
  stop(): void;
}

function ownerIds(): { uid: number; gid: number } {
  return { uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) };
}

export interface TestClusterOptions {
  /**
   * Debian's layout: postgresql.conf, pg_hba.conf and pg_ident.conf (and a
   * conf.d with one file) in DIR/etc, postgresql.conf naming the data
   * directory; the cluster is started with -D DIR/etc.
   */
  readonly configOutside?: boolean;
  /** Its socket in this directory (another cluster's, say) instead of one of its own. */
  readonly socketDir?: string;
}

export async function startTestCluster(settings: Readonly<Record<string, string>> = {}, opts: TestClusterOptions = {}): Promise<TestCluster> {
  const missing = postgresMissing();
  if (missing) throw new Error(missing);
  const owner = ownerIds();
  const dir = mkdtempSync(join(tmpdir(), 'custos-pg-'));
  chownSync(dir, owner.uid, owner.gid);
  const dataDir = join(dir, 'data');
  const socketDir = opts.socketDir ?? join(dir, 'sock');
  if (!opts.socketDir) {
    mkdirSync(socketDir);
    chownSync(socketDir, owner.uid, owner.gid);
  }
  const port = await freePort();
  const asOwner = { uid: owner.uid, gid: owner.gid, cwd: dir, env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' } };
  const run = (bin: string, args: string[]): string => {
    const r = spawnSync(join(PG_BIN, bin), args, { ...asOwner, encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  run('initdb', ['-D', dataDir, '--auth=peer', '-U', 'postgres', '--no-sync', '--no-instructions']);
  let configDir: string | null = null;
  if (opts.configOutside) {
    configDir = join(dir, 'etc');
    mkdirSync(join(configDir, 'conf.d'), { recursive: true });
    for (const f of ['postgresql.conf', 'pg_hba.conf', 'pg_ident.conf']) renameSync(join(dataDir, f), join(configDir, f));
    appendFileSync(join(configDir, 'postgresql.conf'), `\ndata_directory = '${dataDir}'\nhba_file = '${configDir}/pg_hba.conf'\nident_file = '${configDir}/pg_ident.conf'\ninclude_dir = 'conf.d'\n`);
    writeFileSync(join(configDir, 'conf.d', 'custos-test.conf'), "work_mem = '5MB'\n");
    for (const p of ['', 'conf.d', 'conf.d/custos-test.conf', 'postgresql.conf', 'pg_hba.conf', 'pg_ident.conf']) chownSync(join(configDir, p), owner.uid, owner.gid);
  }
  const options = { port: String(port), listen_addresses: "''", unix_socket_directories: `'${socketDir}'`, fsync: 'off', ...settings };
  const o = Object.entries(options).map(([k, v]) => `-c ${k}=${v}`).join(' ');
  const ctl = (...args: string[]): void => void run('pg_ctl', ['-D', configDir ?? dataDir, '-w', '-t', '60', '-l', join(dir, 'log'), '-o', o, ...args]);
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    try {
      ctl('stop', '-m', 'immediate');
    } catch {
      // not running
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    ctl('start');
  } catch (e) {
    stop();
    throw e;
  }
  return {
    port, dir, dataDir, socketDir, configDir, owner, ctl, stop,
    pgbench: (...args) => run('pgbench', ['-h', socketDir, '-p', String(port), ...args, 'postgres']),
    sql: (query, database = 'postgres') => run('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', socketDir, '-p', String(port), '-d', database, '-c', query]),
  };
}
