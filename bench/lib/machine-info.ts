// Describes the machine and tool versions a benchmark ran on, for the results JSON.
import { execFileSync } from 'node:child_process';
import os from 'node:os';

function tryRun(cmd: string, args: readonly string[]): string | null {
  try {
    return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }).toString().trim();
  } catch (e) {
    // Some tools print their version on stderr and exit non-zero (wrk -v).
    const out = (e as { stdout?: Buffer; stderr?: Buffer });
    const text = `${out.stdout?.toString() ?? ''}${out.stderr?.toString() ?? ''}`.trim();
    return text === '' ? null : text;
  }
}

/** The module version a `go install`ed binary was built from (its own --version may say just "dev"). */
function goModuleVersion(bin: string): string | null {
  const m = /\bmod\s+(\S+)\s+(\S+)/.exec(tryRun('go', ['version', '-m', bin]) ?? '');
  return m ? `${m[1]} ${m[2]}` : null;
}

export function machineInfo(tools: { fortio: string; ghz: string }, repoDir: string): Record<string, unknown> {
  const first = (s: string | null): string | null => (s === null ? null : s.split('\n')[0]!.trim());
  return {
    hostname: os.hostname(),
    cpuModel: os.cpus()[0]?.model ?? null,
    cpus: os.cpus().length,
    memTotalMb: Math.round(os.totalmem() / 2 ** 20),
    kernel: os.release(),
    loadavgAtStart: os.loadavg(),
    node: process.version,
    gitCommit: tryRun('git', ['-C', repoDir, 'rev-parse', 'HEAD']),
    haproxy: first(tryRun('haproxy', ['-v'])),
    wrk: first(tryRun('wrk', ['-v'])),
    h2load: first(tryRun('h2load', ['--version'])),
    fortio: goModuleVersion(tools.fortio) ?? first(tryRun(tools.fortio, ['version'])),
    ghz: goModuleVersion(tools.ghz) ?? first(tryRun(tools.ghz, ['--version'])),
    gnuplot: first(tryRun('gnuplot', ['--version'])),
  };
}
