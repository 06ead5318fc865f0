// kubectl against a local cluster, as a user runs it: commands (with stdin) and `port-forward` to a pod.
import { execFile, spawn } from 'node:child_process';
import type { LocalClusterDetails } from '../../local-cluster/cluster.ts';

/** Runs `kubectl <args>` with the cluster's admin kubeconfig; resolves with stdout, rejects with stderr. */
export function kubectlIn(cluster: LocalClusterDetails): (args: readonly string[], input?: string) => Promise<string> {
  return (args, input) =>
    new Promise((resolve, reject) => {
      const child = execFile(cluster.kubectl!, ['--kubeconfig', cluster.kubeconfigPath, ...args], { timeout: 60_000 }, (e, stdout, stderr) => {
        if (e) reject(new Error(`kubectl ${args.join(' ')}: ${String(stderr) || e.message}`));
        else resolve(String(stdout));
      });
      child.stdin?.end(input ?? '');
    });
}

/** `kubectl port-forward pod/<pod> :<port>`: gives `use` the local port, then stops the forward. */
export async function withPortForward<T>(cluster: LocalClusterDetails, namespace: string, pod: string, port: number, use: (local: number) => Promise<T>): Promise<T> {
  const pf = spawn(cluster.kubectl!, ['--kubeconfig', cluster.kubeconfigPath, '-n', namespace, 'port-forward', `pod/${pod}`, `:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const local = await new Promise<number>((resolve, reject) => {
      let out = '';
      pf.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      pf.on('exit', (code) => reject(new Error(`kubectl port-forward exited ${code}: ${out}`)));
    });
    return await use(local);
  } finally {
    pf.kill();
  }
}
