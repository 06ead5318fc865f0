// The plain `skein proxy` forms parse exactly as commander parses them; everything else is left to commander.
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerProxyCommand, type ProxyCommandOptions } from './commands/proxy.ts';
import { plainProxyOptions } from './proxy-fast-path.ts';

/** What commander hands to the proxy action for `skein proxy ARGS` (null: it refused them). */
function commanderOptions(args: readonly string[]): ProxyCommandOptions | null {
  const program = new Command().exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
  registerProxyCommand(program);
  let seen: ProxyCommandOptions | null = null;
  program.commands[0]!.exitOverride().action((opts: ProxyCommandOptions) => { seen = { ...opts }; });
  try {
    program.parse(['node', 'skein', 'proxy', ...args]);
  } catch {
    return null;
  }
  return seen;
}

const plain = [
  ['--sidecar'], ['--config', 'p.yaml'], ['-c', 'p.json'], ['--config=p.yaml'], ['--config', 'p.yaml', '--check'],
  ['--check', '--config=x.json', '--mode', 'ingress'], ['--mode=sidecar', '-c', 'a b.yaml'], ['--sidecar', '--check'],
  ['--sidecar', '--config', 'p.yaml'], [], ['--mode', 'gateway', '--config', 'p.yaml'], ['--config', 'proxy'],
  ['--mode', 'ingress', '--workers', '4', '-c', 'i.yaml'], ['--workers=2', '--config', 'i.yaml'],
];
const others = [
  ['--help'], ['-h'], ['--config'], ['--config', '--check'], ['--config='], ['--config', 'a', '--config', 'b'],
  ['--sidecar', '--sidecar'], ['--bogus'], ['extra'], ['--config', 'p.yaml', 'extra'], ['-c=p.yaml'], ['-cp.yaml'],
  ['--mode'], ['--check', '--check'], ['--workers'], ['--workers', '1', '--workers', '2'], ['--', '--config', 'x'], ['--Config', 'x'], ['-C', 'x'],
];

describe('plainProxyOptions', () => {
  it('parses the plain forms into what commander gives the action', () => {
    for (const args of plain) {
      const ours = plainProxyOptions(args);
      expect(ours, args.join(' ')).not.toBeNull();
      expect(ours, args.join(' ')).toEqual(commanderOptions(args));
    }
  });

  it('leaves every other form to commander', () => {
    for (const args of others) expect(plainProxyOptions(args), args.join(' ')).toBeNull();
  });
});
