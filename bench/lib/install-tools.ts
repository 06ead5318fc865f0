// Installs the benchmark's tools idempotently: Debian packages with apt-get, fortio and ghz with `go install` into a
// cache directory outside the repo (~/.cache/skein/bench/bin, or $SKEIN_BENCH_BIN).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { skeinCacheDir } from '../../local-cluster/binaries.ts';

export interface Tools {
  readonly fortio: string;
  readonly ghz: string;
}

const aptPackages: readonly [binary: string, pkg: string][] = [
  ['haproxy', 'haproxy'], ['wrk', 'wrk'], ['h2load', 'nghttp2-client'], ['gnuplot', 'gnuplot-nox'], ['openssl', 'openssl'], ['vmstat', 'procps'],
];

/**
 * fortio@latest pulls grol.io/grol, which the Go module proxy on our build machines refuses (403); v1.66.5 is the newest
 * release without it. We try latest first and fall back.
 */
const fortioVersions = ['latest', 'v1.66.5'];

function onPath(bin: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
}

function log(msg: string): void { process.stderr.write(`bench: ${msg}\n`); }

/** Where the bench's own tools go: $SKEIN_BENCH_BIN, else bench/bin under the cache root every Skein build shares. */
export function binDir(): string {
  return process.env.SKEIN_BENCH_BIN ?? join(skeinCacheDir(), 'bench', 'bin');
}

export function installTools(): Tools {
  const missing = aptPackages.filter(([bin]) => !onPath(bin)).map(([, pkg]) => pkg);
  if (missing.length > 0) {
    log(`installing ${missing.join(' ')} with apt-get`);
    const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
    const run = (args: string[]): void => {
      const [cmd, ...rest] = [...sudo, ...args];
      execFileSync(cmd!, rest, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    };
    run(['apt-get', 'update', '-qq']);
    run(['apt-get', 'install', '-y', '-qq', ...missing]);
  }
  const dir = binDir();
  mkdirSync(dir, { recursive: true });
  const goInstall = (name: string, module: string, versions: readonly string[]): string => {
    const bin = join(dir, name);
    if (existsSync(bin)) return bin;
    if (!onPath('go')) throw new Error(`${name} is missing and Go is not installed (needed for go install ${module})`);
    for (const v of versions) {
      log(`go install ${module}@${v}`);
      const r = spawnSync('go', ['install', `${module}@${v}`], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, GOBIN: dir }, timeout: 600_000 });
      if (r.status === 0 && existsSync(bin)) return bin;
      log(`go install ${module}@${v} failed: ${r.stderr?.toString().trim().split('\n').slice(-2).join(' | ')}`);
    }
    throw new Error(`could not install ${name}`);
  };
  return {
    fortio: goInstall('fortio', 'fortio.org/fortio', fortioVersions),
    ghz: goInstall('ghz', 'github.com/bojand/ghz/cmd/ghz', ['latest']),
  };
}
