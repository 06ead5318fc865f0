// `skein proxy` in its everyday forms (`--sidecar`, `--config FILE`) starts without commander: its CommonJS modules were
// the last straw that made V8 optimize path code with TurboFan during start-up, paging ~5 MB of the compiler into RSS.
import type { ProxyCommandOptions } from './commands/proxy.ts';

/**
 * What commander parses from the arguments after `proxy`, when they are only the plain forms: `--config FILE`,
 * `-c FILE`, `--config=FILE`, `--sidecar`, `--mode M`, `--mode=M`, `--check`, `--workers N`, each at most once, values non-empty and
 * not starting with `-`. Anything else (help, an unknown option, a repeat, a stray argument) is null: commander runs
 * then, with its own help and errors. cli/proxy-fast-path.test.ts checks the two agree.
 */
export function plainProxyOptions(args: readonly string[]): ProxyCommandOptions | null {
  const opts: { config?: string; sidecar?: boolean; mode?: string; check?: boolean; workers?: string } = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--sidecar' || arg === '--check') {
      const name = arg === '--sidecar' ? 'sidecar' : 'check';
      if (opts[name] !== undefined) return null;
      opts[name] = true;
      continue;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const name = flag === '--config' || flag === '-c' ? 'config' : flag === '--mode' ? 'mode' : flag === '--workers' ? 'workers' : null;
    if (name === null || opts[name] !== undefined) return null;
    const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
    if (value === undefined || value === '' || value.startsWith('-')) return null;
    opts[name] = value;
  }
  return opts;
}
