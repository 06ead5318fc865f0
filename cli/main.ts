// The `skein` command line: one binary, a subcommand per role (proxy, control-plane, injector, ...) and user tools.
import type { Command } from 'commander';
import { CliError } from './cli-error.ts';
import { plainProxyOptions } from './proxy-fast-path.ts';

type Register = (program: Command) => void;

// Each subcommand lives in cli/commands/<name>.ts and is listed here, in `skein --help` order. Modules load lazily:
// `skein proxy` runs in every meshed pod, and importing every subcommand (fastify, node-forge, yaml...) cost it ~6 MB RSS.
const COMMANDS: Record<string, () => Promise<Register>> = {
  proxy: async () => (await import('./commands/proxy.ts')).registerProxyCommand,
  inject: async () => (await import('./commands/inject.ts')).registerInjectCommand,
  injector: async () => (await import('./commands/injector.ts')).registerInjectorCommand,
  'control-plane': async () => (await import('./commands/control-plane.ts')).registerControlPlaneCommand,
  'proxy-status': async () => (await import('./commands/proxy-status.ts')).registerProxyStatusCommand,
  stat: async () => (await import('./commands/stat.ts')).registerStatCommand,
  'init-iptables': async () => (await import('./commands/init-iptables.ts')).registerInitIptablesCommand,
  'wait-ready': async () => (await import('./commands/wait-ready.ts')).registerWaitReadyCommand,
  cluster: async () => (await import('./commands/cluster.ts')).registerClusterCommand,
  demo: async () => (await import('./commands/demo.ts')).registerDemoCommand,
};

/** Everything but the plain `skein proxy` forms: commander parses, with its help, suggestions and errors. */
async function runWithCommander(first: string | undefined): Promise<void> {
  const { Command, CommanderError } = await import('commander');
  const program = new Command();
  program
    .name('skein')
    .description('Skein: a service mesh for Kubernetes')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError();
  // A known subcommand first registers just that one; anything else (help, --version, a typo that needs suggestions)
  // registers them all, so commander's help and errors are exactly what they were with eager imports.
  const names = first !== undefined && Object.hasOwn(COMMANDS, first) ? [first] : Object.keys(COMMANDS);
  const registers = await Promise.all(names.map((n) => COMMANDS[n]!()));
  for (const register of registers) register(program);
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode;
      return;
    }
    throw e;
  }
}

const first = process.argv[2];
const plainProxy = first === 'proxy' ? plainProxyOptions(process.argv.slice(3)) : null;
try {
  if (plainProxy) await (await import('./commands/proxy.ts')).runProxyCommand(plainProxy);
  else await runWithCommander(first);
} catch (e) {
  if (e instanceof CliError) {
    process.stderr.write(`skein: ${e.message}\n`);
    process.exitCode = e.exitCode;
  } else {
    // Never show a stack trace to a user; SKEIN_DEBUG=1 shows it for developers.
    process.stderr.write(`skein: unexpected error: ${(e as Error)?.message ?? String(e)}\n`);
    if (process.env.SKEIN_DEBUG) process.stderr.write(`${(e as Error)?.stack ?? ''}\n`);
    process.exitCode = 1;
  }
}
