/** `custos agent attach` and `custos agent start`: the protection agent on a protected computer. */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { DEFAULT_USER_SOCKET } from '../../agent/user/user-socket.js';
// Loaded when the command runs, so that every other command starts fast.
const load = () => import('../../agent/index.js');
import { print, printJson } from '../output.js';
import { commandGroup, duration, positiveInt } from '../server-cli.js';
import { CustosError, parseDuration } from '../../base/index.js';

export function registerAgentCommands(program: Command): void {
  const agent = commandGroup(program, 'agent', 'Protection agents');
  agent
    .command('attach')
    .description('Attach this computer to a protection server with a one-time enrollment token')
    .requiredOption('--server <url>', 'the server, e.g. https://backup.example:8440')
    .requiredOption('--token <token>', 'enrollment token from `custos agent token` on the server')
    .requiredOption('--data <dir>', 'agent data directory (key, certificate, change journal)')
    .option('--name <name>', 'agent name (default: this host name)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { server: string; token: string; data: string; name?: string; json?: boolean }) => {
      const r = await (await load()).attachAgent({
        server: opts.server,
        token: opts.token,
        dataDir: opts.data,
        name: opts.name,
        warn: (m) => process.stderr.write(`custos: warning: ${m}\n`),
      });
      if (opts.json) printJson(r);
      else print(`attached as ${r.name} to ${r.server}; start the agent with: custos agent start --data ${opts.data}`);
    });
  agent
    .command('start')
    .description('Run the protection agent in the foreground (connects to its server and runs its jobs)')
    .requiredOption('--data <dir>', 'agent data directory given to attach')
    .option('--journal-scan-every <duration>', 'walk every protected tree at least this often, verifying its change journal (e.g. 6h; 0s: at every synchronization)', duration, '24h')
    .option('--journal-scan-syncs <n>', 'also walk it after this many synchronizations guided by the journal', positiveInt)
    .option('--user-socket <path>', "where people logged into this computer reach the agent (custos my); mode 0666; 'off': nowhere", DEFAULT_USER_SOCKET)
    .option('--pg-socket-dir <dir>', 'also look for PostgreSQL clusters through the sockets in this directory (repeatable; /var/run/postgresql and /tmp always)', (v: string, prev: string[]) => [...prev, resolve(v)], [] as string[])
    .action(async (opts: { data: string; journalScanEvery: string; journalScanSyncs?: number; userSocket: string; pgSocketDir: string[] }) => {
      const { AgentRuntime, MemoryTrimmer } = await load();
      const trimmer = new MemoryTrimmer().start();
      const rt = await AgentRuntime.start({
        dataDir: opts.data,
        userSocket: opts.userSocket === 'off' ? null : resolve(opts.userSocket),
        journalScanEveryMs: parseDuration(opts.journalScanEvery)!,
        pgSocketDirs: opts.pgSocketDir,
        ...(opts.journalScanSyncs !== undefined ? { journalScanEverySyncs: opts.journalScanSyncs } : {}),
      });
      const removed = await new Promise<string | null>((resolve) => {
        const stop = (why: string | null) => {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          trimmer.stop();
          void rt.stop().then(() => resolve(why));
        };
        const onSignal = () => stop(null);
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        void rt.removed.then(stop);
      });
      // Removed from the server: stopped (user socket and journals closed), and the exit status says so.
      if (removed !== null) throw new CustosError('denied', removed);
    });
}
