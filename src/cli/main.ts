/**
 * cli: the `custos` command. One file per command under commands/; errors are
 * turned into one clear line and an exit status (exit-codes.ts) here only.
 */
import { Command, CommanderError } from 'commander';
import { CustosError, errorMessage } from '../base/index.js';
import { exitCodeFor, EXIT } from './exit-codes.js';
import { registerPoolCommands } from './commands/pool.js';
import { registerBackupCommand } from './commands/backup.js';
import { registerPointsCommand } from './commands/points.js';
import { registerRestoreCommand } from './commands/restore.js';
import { registerForgetCommand } from './commands/forget.js';

export const VERSION = '0.1.0';

export function buildProgram(): Command {
  const program = new Command('custos')
    .description('Custos — continuous data protection. Standalone mode: protect directories into a local storage pool.')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  registerPoolCommands(program);
  registerBackupCommand(program);
  registerPointsCommand(program);
  registerRestoreCommand(program);
  registerForgetCommand(program);
  for (const c of program.commands) {
    c.exitOverride();
    for (const sub of c.commands) sub.exitOverride();
  }
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
      return EXIT.usage; // commander has printed the message
    }
    if (err instanceof CustosError) {
      process.stderr.write(`custos: ${err.message}\n`);
      return exitCodeFor(err.code);
    }
    process.stderr.write(`custos: internal error: ${errorMessage(err)}\n`);
    if (process.env['CUSTOS_DEBUG']) process.stderr.write(`${(err as Error).stack ?? ''}\n`);
    return EXIT.internal;
  }
}
