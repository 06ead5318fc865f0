// `skein cluster up`: runs the local Kubernetes cluster (etcd, apiserver, controller-manager, scheduler, node agent) until Ctrl-C.
import type { Command } from 'commander';
import { join } from 'node:path';
import { CliError } from '../cli-error.ts';

export function registerClusterCommand(program: Command): void {
  const cluster = program.command('cluster').description('the local Kubernetes cluster used by the demo and the e2e tests');
  cluster
    .command('up')
    .description('start the local cluster and keep it running until Ctrl-C')
    .option('--work-dir <dir>', 'certificates, kubeconfigs, etcd data and logs (default: a folder in the skein cache)')
    .option('--no-node-agent', 'start the control plane only (no node, so pods stay Pending)')
    .action(async (opts: { workDir?: string; nodeAgent: boolean }) => {
      const { startLocalCluster } = await import('../../local-cluster/cluster.ts');
      const { skeinCacheDir } = await import('../../local-cluster/binaries.ts');
      const { LocalClusterError } = await import('../../local-cluster/local-cluster-error.ts');
      const workDir = opts.workDir ?? join(skeinCacheDir(), 'cluster');
      const log = (line: string): void => {
        process.stderr.write(`${line}\n`);
      };
      let c;
      try {
        c = await startLocalCluster({ workDir, log, withNodeAgent: opts.nodeAgent });
      } catch (e) {
        if (e instanceof LocalClusterError) throw new CliError(`${e.code}: ${e.message}`);
        throw e;
      }
      process.stdout.write(
        [
          '',
          `Local cluster is up: ${c.server}`,
          `kubeconfig: ${c.kubeconfigPath}`,
          `component logs: ${join(c.workDir, 'logs')}`,
          '',
          `  export KUBECONFIG=${c.kubeconfigPath}`,
          '',
          'Press Ctrl-C to stop it.',
          '',
        ].join('\n'),
      );
      // The cluster's child processes keep the event loop alive; Ctrl-C runs the cluster's signal handler, which stops
      // every component and then re-raises the signal.
    });
}
