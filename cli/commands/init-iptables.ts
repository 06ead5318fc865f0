// `skein init-iptables`: what the skein-init container runs: installs (or prints, or removes) the interception rules.
import type { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { CliError } from '../cli-error.ts';
import { defaultInterceptionRules, generateIptablesCleanupScript, generateIptablesScript } from '../../injector/iptables-script.ts';
import { parseCidrList, parsePortList } from '../../injector/port-list.ts';

interface InitOptions {
  proxyUid: string;
  inboundPort: string;
  outboundPort: string;
  excludeInboundPorts: string;
  excludeOutboundPorts: string;
  excludeOutboundCidrs: string;
  dryRun?: boolean;
  clean?: boolean;
}

function intFlag(text: string, flag: string, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) > max) throw new CliError(`${flag}: "${text}" is not valid`, 2);
  return Number(text);
}

export function scriptFromOptions(opts: InitOptions): string {
  if (opts.clean) return generateIptablesCleanupScript();
  const inP = parsePortList(opts.excludeInboundPorts);
  const outP = parsePortList(opts.excludeOutboundPorts);
  const cidrs = parseCidrList(opts.excludeOutboundCidrs);
  if (!inP.ok) throw new CliError(`--exclude-inbound-ports: ${inP.error}`, 2);
  if (!outP.ok) throw new CliError(`--exclude-outbound-ports: ${outP.error}`, 2);
  if (!cidrs.ok) throw new CliError(`--exclude-outbound-cidrs: ${cidrs.error}`, 2);
  return generateIptablesScript(defaultInterceptionRules({
    proxyUid: intFlag(opts.proxyUid, '--proxy-uid', 2 ** 31),
    inboundPort: intFlag(opts.inboundPort, '--inbound-port', 65535),
    outboundPort: intFlag(opts.outboundPort, '--outbound-port', 65535),
    excludeInboundPorts: inP.value,
    excludeOutboundPorts: outP.value,
    excludeOutboundCidrs: cidrs.value,
  }));
}

export function registerInitIptablesCommand(program: Command): void {
  const d = defaultInterceptionRules();
  program
    .command('init-iptables')
    .description('install the traffic interception rules in this network namespace (run by the skein-init container)')
    .option('--proxy-uid <uid>', 'UID whose traffic is never intercepted', String(d.proxyUid))
    .option('--inbound-port <port>', "proxy's inbound port", String(d.inboundPort))
    .option('--outbound-port <port>', "proxy's outbound port", String(d.outboundPort))
    .option('--exclude-inbound-ports <list>', 'ports/ranges not intercepted inbound', '')
    .option('--exclude-outbound-ports <list>', 'ports/ranges not intercepted outbound', '')
    .option('--exclude-outbound-cidrs <list>', 'CIDRs not intercepted outbound', '')
    .option('--dry-run', 'print the script instead of running it')
    .option('--clean', 'remove the rules instead of installing them')
    .action((opts: InitOptions) => {
      const script = scriptFromOptions(opts);
      if (opts.dryRun) {
        process.stdout.write(script);
        return;
      }
      process.stdout.write(script);
      const r = spawnSync('sh', ['-c', script], { stdio: ['ignore', 'inherit', 'inherit'] });
      if (r.error) throw new CliError(`cannot run sh: ${r.error.message}`);
      if (r.status !== 0) throw new CliError(`the interception script failed (exit ${r.status ?? r.signal}); does the container have NET_ADMIN and iptables?`);
      process.stdout.write('skein-init: interception rules installed\n');
    });
}
