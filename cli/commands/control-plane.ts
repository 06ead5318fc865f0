// `skein control-plane`: watches Kubernetes and streams each proxy its config over gRPC (config discovery).
import type { Command } from 'commander';
import { hostname } from 'node:os';
import { CONFIG_DISCOVERY_PORT, CONTROL_PLANE_DEBUG_PORT } from '../../api/proto/config-discovery.ts';
import { CliError } from '../cli-error.ts';

interface ControlPlaneCliOptions {
  grpcAddress: string;
  grpcPort: string;
  debugAddress: string;
  debugPort: string;
  kubeconfig?: string;
  replica: string;
}

function port(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CliError(`${flag}: "${text}" is not a port`, 2);
  return n;
}

export function registerControlPlaneCommand(program: Command): void {
  program
    .command('control-plane')
    .description('run the control plane: watch Kubernetes, push each proxy its config over gRPC')
    .option('--grpc-address <address>', 'config-discovery listen address', '0.0.0.0')
    .option('--grpc-port <port>', 'config-discovery listen port', String(CONFIG_DISCOVERY_PORT))
    .option('--debug-address <address>', 'debug endpoint listen address (/debug/proxies, /ready)', '0.0.0.0')
    .option('--debug-port <port>', 'debug endpoint port', String(CONTROL_PLANE_DEBUG_PORT))
    .option('--kubeconfig <file>', 'kubeconfig (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)')
    .option('--replica <name>', 'name of this replica in proxy-status', process.env.POD_NAME ?? hostname())
    .action(async (opts: ControlPlaneCliOptions) => {
      const grpcPort = port(opts.grpcPort, '--grpc-port');
      const debugPort = port(opts.debugPort, '--debug-port');
      const { KubeConfig } = await import('@kubernetes/client-node');
      const kc = new KubeConfig();
      try {
        if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
        else kc.loadFromDefault();
      } catch (e) {
        throw new CliError(`cannot load the kubeconfig: ${(e as Error).message}`, 2);
      }
      const log = (level: string, msg: string, fields: Record<string, unknown> = {}): void => {
        process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
      };
      const { startControlPlane } = await import('../../control-plane/control-plane-runtime.ts');
      let cp: Awaited<ReturnType<typeof startControlPlane>>;
      try {
        cp = await startControlPlane({ kubeConfig: kc, replica: opts.replica, grpcAddress: opts.grpcAddress, grpcPort, debugAddress: opts.debugAddress, debugPort, log });
      } catch (e) {
        throw new CliError(`cannot start the control plane: ${(e as Error).message}`, 1);
      }
      log('info', 'control plane serving', { grpcPort: cp.grpcPort, debugPort: cp.debug.port, replica: opts.replica });
      await new Promise<void>((resolve) => {
        const stop = (sig: string): void => {
          log('info', 'stopping', { signal: sig });
          void cp.stop().then(resolve);
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
    });
}
