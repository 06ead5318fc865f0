// `skein proxy`: runs the sidecar / ingress proxy from a static config file.
import type { Command } from 'commander';
import { formatConfigProblems, parseProxyConfig } from '../../api/config/parse-proxy-config.ts';
import { CliError } from '../cli-error.ts';
import { loadConfigDocument } from '../load-config-file.ts';

export function registerProxyCommand(program: Command): void {
  program
    .command('proxy')
    .description('run the Skein proxy (sidecar or ingress)')
    .requiredOption('-c, --config <file>', 'proxy config file (YAML or JSON; see docs/proxy-config.md)')
    .option('--mode <mode>', 'override the mode in the config: sidecar | ingress')
    .option('--check', 'validate the config and exit')
    .action(async (opts: { config: string; mode?: string; check?: boolean }) => {
      const doc = await loadConfigDocument(opts.config);
      if (opts.mode !== undefined) {
        if (opts.mode !== 'sidecar' && opts.mode !== 'ingress') throw new CliError(`--mode must be sidecar or ingress, not "${opts.mode}"`, 2);
        if (doc && typeof doc === 'object') (doc as Record<string, unknown>).mode = opts.mode;
      }
      const parsed = parseProxyConfig(doc);
      if (!parsed.ok) {
        throw new CliError(`invalid config ${opts.config}:\n${formatConfigProblems(parsed.error)}`, 2);
      }
      if (opts.check) {
        process.stdout.write(`${opts.config}: valid\n`);
        return;
      }
      const { runProxyProcess } = await import('../../proxy/proxy-process.ts');
      await runProxyProcess(parsed.value);
    });
}
