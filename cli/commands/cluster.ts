// `skein cluster up`: runs the local Kubernetes cluster (etcd, apiserver, controller-manager, scheduler, a node) until Ctrl-C.
import type { Command } from 'commander';
import { join } from 'node:path';
import { CliError } from '../cli-error.ts';

export function registerClusterCommand(program: Command): void {
  const cluster = program.command('cluster').description('the local Kubernetes cluster used by the demo and the e2e tests');
  cluster
    .command('up')
    .description('start the local cluster and keep it running until Ctrl-C')
    .option('--work-dir <dir>', 'certificates, kubeconfigs, etcd data and logs (default: a folder in the skein cache)')
    .option('--no-node-agent', 'start the control plane only (no node, so pods stay Pending); same as --node none (the old name)')
    .option('--node <kind>', 'the node: kubelet (a real kubelet, containerd, kube-proxy and CoreDNS) or none', 'kubelet')
    .action(async (opts: { workDir?: string; nodeAgent: boolean; node: string }) => {
      if (opts.node === 'agent') throw new CliError('--node agent: the node agent was retired; every cluster runs a real kubelet (--node kubelet, the default)');
      if (!['kubelet', 'none'].includes(opts.node)) throw new CliError(`--node must be kubelet or none (got ${JSON.stringify(opts.node)})`);
      const node = opts.nodeAgent ? (opts.node as 'kubelet' | 'none') : 'none';
      const { startLocalCluster } = await import('../../local-cluster/cluster.ts');
      const { skeinCacheDir } = await import('../../local-cluster/binaries.ts');
      const { LocalClusterError } = await import('../../local-cluster/local-cluster-error.ts');
      const workDir = opts.workDir ?? join(skeinCacheDir(), 'cluster');
      const log = (line: string): void => {
        process.stderr.write(`${line}\n`);
      };
      let c;
      try {
        c = await startLocalCluster({ workDir, log, node });
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
          ...(c.kubectl ? [`kubectl: ${c.kubectl}`, `images: ${c.realNode?.images.map((i) => i.names.join(', ')).join('; ')}`] : []),
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
