/**
 * cli: the `custos` command. One file per command under commands/; errors are
 * turned into one clear line and an exit status (exit-codes.ts) here only.
 */
import { Command, CommanderError } from 'commander';
import { CustosError, errorMessage } from '../base/index.js';
import { exitCodeFor, EXIT } from './exit-codes.js';
import { endQuietlyOnBrokenPipe } from './output.js';
import { userErrorForSystemError } from './system-errors.js';
import { registerPoolCommands } from './commands/pool.js';
import { registerBackupCommand } from './commands/backup.js';
import { registerPointsCommand } from './commands/points.js';
import { registerRestoreCommand } from './commands/restore.js';
import { registerForgetCommand } from './commands/forget.js';
import { registerAgentAdminCommands } from './commands/agent-admin.js';
import { registerTokenCommands } from './commands/token.js';
import { registerUserCommands } from './commands/user.js';
import { registerSourceCommands } from './commands/source.js';
import { registerGroupCommands } from './commands/group.js';
import { registerJobCommands } from './commands/job.js';
import { registerSyncCommands } from './commands/sync.js';
import { registerPointCommands } from './commands/point.js';
import { registerRecoverCommand } from './commands/recover.js';
import { registerFileCommands } from './commands/files.js';
import { registerAlertCommands } from './commands/alert.js';
import { registerServerCommands } from './commands/server.js';
import { registerAgentCommands } from './commands/agent.js';
import { registerMyCommands } from './commands/my.js';
import { registerPlanCommands } from './commands/plan.js';
import { registerReportCommands } from './commands/report.js';

export const VERSION = '0.1.0';

export function buildProgram(): Command {
  const program = new Command('custos')
    .description(
      'Custos — continuous data protection. Standalone mode: protect directories into a local storage pool. ' +
        'Server mode: manage a protection server (set CUSTOS_SERVER, CUSTOS_TOKEN, CUSTOS_CA).',
    )
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  program.commandsGroup('Standalone commands:');
  registerPoolCommands(program); // also `pool list` and `pool gc|verify` without DIR, the server's pool
  registerBackupCommand(program);
  registerPointsCommand(program);
  registerRestoreCommand(program);
  registerForgetCommand(program);
  program.commandsGroup('Server mode commands:');
  // `agent token|list|remove` join the `agent` command of agent attach/start when it exists (commandGroup).
  registerServerCommands(program);
  registerAgentCommands(program);
  registerMyCommands(program);
  registerAgentAdminCommands(program);
  registerSourceCommands(program);
  registerGroupCommands(program);
  registerJobCommands(program);
  registerSyncCommands(program);
  registerPointCommands(program);
  registerFileCommands(program);
  registerRecoverCommand(program);
  registerAlertCommands(program);
  registerReportCommands(program);
  registerTokenCommands(program);
  registerUserCommands(program);
  program.commandsGroup('Planning (with or without a server):');
  registerPlanCommands(program);
  for (const c of program.commands) {
    c.exitOverride();
    for (const sub of c.commands) sub.exitOverride();
  }
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  endQuietlyOnBrokenPipe();
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
      return EXIT.usage; // commander has printed the message
    }
    const known = err instanceof CustosError ? err : userErrorForSystemError(err);
    if (known) {
      process.stderr.write(`custos: ${known.message}\n`);
      return exitCodeFor(known.code);
    }
    process.stderr.write(`custos: internal error: ${errorMessage(err)}\n`);
    if (process.env['CUSTOS_DEBUG']) process.stderr.write(`${(err as Error).stack ?? ''}\n`);
    return EXIT.internal;
  }
}
