// Finds the host binaries the node agent drives (ip, unshare, nsenter, setpriv, mount, sh, iptables) and runs them with typed errors.
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { NodeAgentError } from './node-agent-error.ts';

const DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
export const CONTAINER_PATH = DIRS.join(':');

export function findBinary(name: string): string | undefined {
  for (const d of DIRS) {
    const p = join(d, name);
    try { accessSync(p, constants.X_OK); return p; } catch { /* next */ }
  }
  return undefined;
}

export interface HostTools {
  readonly ip: string;
  readonly unshare: string;
  readonly nsenter: string;
  readonly setpriv: string;
  readonly mount: string;
  readonly sh: string;
  readonly iptables: string | undefined;
}

export function hostTools(): HostTools {
  const need = (n: string): string => {
    const p = findBinary(n);
    if (!p) throw new NodeAgentError('SKEIN_ERR_NODE_TOOL_MISSING', `the node agent needs \`${n}\` on the host (run local-cluster/node-agent/ensure-host-tools.sh)`);
    return p;
  };
  return { ip: need('ip'), unshare: need('unshare'), nsenter: need('nsenter'), setpriv: need('setpriv'), mount: need('mount'), sh: need('sh'), iptables: findBinary('iptables') };
}

export interface RunResult { readonly stdout: string; readonly stderr: string }

/** Runs a host command; rejects with SKEIN_ERR_NODE_HOST_COMMAND and the command's stderr. */
export function run(file: string, args: readonly string[], timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(file, args as string[], { timeout: timeoutMs, env: { PATH: CONTAINER_PATH } }, (error, stdout, stderr) => {
      if (error) {
        reject(new NodeAgentError('SKEIN_ERR_NODE_HOST_COMMAND', `${file} ${args.join(' ')}: ${String(stderr).trim() || error.message}`));
        return;
      }
      resolve({ stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Like run() but a failure is only logged: used by cleanup, where a missing object is the expected case. */
export async function runQuiet(file: string, args: readonly string[]): Promise<boolean> {
  try { await run(file, args); return true; } catch { return false; }
}
