// The `skein` command line: one binary, a subcommand per role (proxy, control-plane, injector, ...) and user tools.
import { Command, CommanderError } from 'commander';
import { registerProxyCommand } from './commands/proxy.ts';
import { registerInjectCommand } from './commands/inject.ts';
import { registerInjectorCommand } from './commands/injector.ts';
import { registerInitIptablesCommand } from './commands/init-iptables.ts';
import { registerWaitReadyCommand } from './commands/wait-ready.ts';
import { registerClusterCommand } from './commands/cluster.ts';
import { registerDemoCommand } from './commands/demo.ts';
import { CliError } from './cli-error.ts';

const program = new Command();
program
  .name('skein')
  .description('Skein: a service mesh for Kubernetes')
  .version('0.1.0')
  .exitOverride()
  .showHelpAfterError();

// Each subcommand lives in cli/commands/<name>.ts and registers itself here.
registerProxyCommand(program);
registerInjectCommand(program);
registerInjectorCommand(program);
registerInitIptablesCommand(program);
registerWaitReadyCommand(program);
registerClusterCommand(program);
registerDemoCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode;
  } else if (e instanceof CliError) {
    process.stderr.write(`skein: ${e.message}\n`);
    process.exitCode = e.exitCode;
  } else {
    // Never show a stack trace to a user; SKEIN_DEBUG=1 shows it for developers.
    process.stderr.write(`skein: unexpected error: ${(e as Error)?.message ?? String(e)}\n`);
    if (process.env.SKEIN_DEBUG) process.stderr.write(`${(e as Error)?.stack ?? ''}\n`);
    process.exitCode = 1;
  }
}
