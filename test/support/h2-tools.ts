// The HTTP/2 judges' binaries (h2spec, grpc-go interop client and server), built once by build-h2-tools.sh and cached.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface H2Tools {
  readonly h2spec: string;
  readonly interopClient: string;
  readonly interopServer: string;
}

const script = fileURLToPath(new URL('./build-h2-tools.sh', import.meta.url));

/** Builds what is missing (minutes, once per machine) and returns the paths. */
export function h2Tools(): H2Tools {
  const [h2spec, interopClient, interopServer] = execFileSync('bash', [script, '--print-paths'], { encoding: 'utf8' }).trim().split('\n') as [string, string, string];
  if (![h2spec, interopClient, interopServer].every((p) => existsSync(p))) {
    execFileSync('bash', [script], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 1_200_000 });
  }
  return { h2spec, interopClient, interopServer };
}
