/** `custos server start`: run the protection server in the foreground. */
import type { Command } from 'commander';
import { CustosError, parseSize } from '../../base/index.js';
// Loaded when the command runs, so that every other command starts fast.
const load = () => import('../../server/index.js');
import { collect, print } from '../output.js';
import { commandGroup } from '../server-cli.js';
import { registerServerCatalogCommands } from './server-catalog.js';
import { registerServerNotifyCommands } from './server-notify.js';

export const DEFAULT_LISTEN = '127.0.0.1:8440';

export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new CustosError('usage', `--listen ${text} is not HOST:PORT (like 127.0.0.1:8440 or [::1]:8440)`);
  return { host: (m[1] ?? m[2])!, port };
}

/** --slot-alert SIZE: at least 64 MiB (right after a synchronization a slot holds a segment or two: 16 MiB each by default). */
function slotAlertBytes(text: string): number {
  const n = parseSize(text);
  if (n === undefined || n < 64 * 1024 ** 2) throw new CustosError('usage', `--slot-alert ${JSON.stringify(text)}: give a size of at least 64MiB, e.g. 4GiB`);
  return n;
}

export function registerServerCommands(program: Command): void {
  const server = commandGroup(program, 'server', 'The protection server');
  server
    .command('start')
    .description('Start the protection server in the foreground (catalog, storage pool, agent endpoint, REST API)')
    .requiredOption('--data <dir>', 'server data directory (catalog, storage pool, CA, admin token)')
    .option('--listen <host:port>', 'address to listen on', DEFAULT_LISTEN)
    .option('--catalog-copy <dir>', 'also copy every catalog backup (encrypted, as in the pool) to this directory')
    .option('--new-catalog', 'start with an empty catalog although DIR has been used (a lost catalog: restore it instead if you can)')
    .option('--recovery-dir <dir>', 'allow recoveries to folders under DIR on this computer (custos recover --to server:/path); repeatable', collect)
    .option('--slot-alert <size>', 'alert (log-retained) when the replication slot of a PostgreSQL data source holds this much WAL on its cluster (default 4GiB)')
    .action(async (opts: { data: string; listen: string; catalogCopy?: string; newCatalog?: boolean; recoveryDir?: string[]; slotAlert?: string }) => {
      const { host, port } = parseListen(opts.listen);
      const { scaledClockFromEnv, startServer } = await load();
      const { clock, speed } = scaledClockFromEnv(process.env['CUSTOS_TEST_CLOCK']);
      // Buffers freed by the jobs go back to the kernel (src/agent/memory.ts).
      const trimmer = new (await import('../../agent/index.js')).MemoryTrimmer().start();
      const running = await startServer({
        dataDir: opts.data, host, port, clock, tickMs: Math.max(50, Math.round(1000 / speed)),
        newCatalog: opts.newCatalog ?? false,
        ...(opts.catalogCopy ? { catalogCopyDir: opts.catalogCopy } : {}),
        ...(opts.recoveryDir ? { recoveryDirs: opts.recoveryDir } : {}),
        ...(opts.slotAlert !== undefined ? { slotAlertBytes: slotAlertBytes(opts.slotAlert) } : {}),
      });
      // The signal handlers are in place before "ready" is printed: a supervisor that stops the
      // server as soon as it reads "ready" must get a clean stop, not the default SIGTERM death.
      const stopped = new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          trimmer.stop();
          void running.close().then(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      print(JSON.stringify({ time: new Date().toISOString(), level: 'info', msg: 'ready', url: running.url }));
      await stopped;
    });
  registerServerCatalogCommands(server);
  registerServerNotifyCommands(server);
}
