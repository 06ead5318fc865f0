// `skein control-plane`: watches Kubernetes and streams each proxy its config over gRPC (config discovery).
import type { Command } from 'commander';
import { hostname } from 'node:os';
import { CONFIG_DISCOVERY_PORT, CONTROL_PLANE_DEBUG_PORT } from '../../api/proto/config-discovery.ts';
import { DEFAULT_TRUST_DOMAIN, IDENTITY_PORT } from '../../api/proto/identity.ts';
import { CliError } from '../cli-error.ts';

interface ControlPlaneCliOptions {
  grpcAddress: string;
  grpcPort: string;
  debugAddress: string;
  debugPort: string;
  kubeconfig?: string;
  replica: string;
  identity: boolean;
  identityAddress: string;
  identityPort: string;
  trustDomain: string;
  certTtl: string;
  caReloadInterval: string;
  caNamespace: string;
  caSecret: string;
  authorizationDefault: string;
  mtlsMode: string;
}

/** `90s`, `30m`, `24h` -> milliseconds; workload certificates live between one minute and 90 days. */
function certTtl(text: string): number {
  const m = /^(\d+)(s|m|h)$/.exec(text);
  const ms = m ? Number(m[1]) * { s: 1000, m: 60_000, h: 3600_000 }[m[2] as 's' | 'm' | 'h'] : NaN;
  if (!(ms >= 60_000 && ms <= 90 * 86_400_000)) throw new CliError(`--cert-ttl: "${text}" is not a duration between 60s and 2160h (e.g. 24h)`, 2);
  return ms;
}

/** `5s`, `1m` -> milliseconds: how often the CA Secret is re-read (a root rotation is picked up within it); 1 s to 1 h. */
function reloadInterval(text: string): number {
  const m = /^(\d+)(s|m)$/.exec(text);
  const ms = m ? Number(m[1]) * { s: 1000, m: 60_000 }[m[2] as 's' | 'm'] : NaN;
  if (!(ms >= 1000 && ms <= 3600_000)) throw new CliError(`--ca-reload-interval: "${text}" is not a duration between 1s and 60m (e.g. 60s)`, 2);
  return ms;
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
    .option('--no-identity', 'do not run the identity service (CA and Certify)')
    .option('--identity-address <address>', 'Certify (TLS gRPC) listen address', '0.0.0.0')
    .option('--identity-port <port>', 'Certify listen port', String(IDENTITY_PORT))
    .option('--trust-domain <domain>', 'SPIFFE trust domain of the mesh', DEFAULT_TRUST_DOMAIN)
    .option('--cert-ttl <duration>', 'lifetime of workload certificates (60s..2160h)', '24h')
    .option('--ca-reload-interval <duration>', 'how often the CA Secret is re-read, so an edit (a root rotation) takes effect (1s..60m)', '60s')
    .option('--ca-namespace <namespace>', 'namespace of the CA Secret', process.env.POD_NAMESPACE ?? 'skein-system')
    .option('--ca-secret <name>', 'name of the CA Secret (created with a generated root when absent)', 'skein-identity-ca')
    .option('--authorization-default <allow|deny>', 'authorization of a workload no AuthorizationPolicy selects (a namespace annotation skein.dev/authorization-default overrides it)', 'allow')
    .option('--mtls-mode <permissive|strict>', 'inbound mTLS mode where no MeshTLSPolicy says anything', 'permissive')
    .action(async (opts: ControlPlaneCliOptions) => {
      if (opts.authorizationDefault !== 'allow' && opts.authorizationDefault !== 'deny') throw new CliError(`--authorization-default: "${opts.authorizationDefault}" is not allow or deny`, 2);
      if (opts.mtlsMode !== 'permissive' && opts.mtlsMode !== 'strict') throw new CliError(`--mtls-mode: "${opts.mtlsMode}" is not permissive or strict`, 2);
      const grpcPort = port(opts.grpcPort, '--grpc-port');
      const debugPort = port(opts.debugPort, '--debug-port');
      const identity = opts.identity
        ? {
            address: opts.identityAddress,
            port: port(opts.identityPort, '--identity-port'),
            trustDomain: opts.trustDomain,
            leafTtlMs: certTtl(opts.certTtl),
            reloadIntervalMs: reloadInterval(opts.caReloadInterval),
            caNamespace: opts.caNamespace,
            caSecretName: opts.caSecret,
          }
        : undefined;
      if (identity && !/^[a-z0-9._-]+$/.test(identity.trustDomain)) throw new CliError(`--trust-domain: "${identity.trustDomain}" is not a trust domain (lowercase letters, digits, '.', '-', '_')`, 2);
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
        cp = await startControlPlane({ kubeConfig: kc, replica: opts.replica, grpcAddress: opts.grpcAddress, grpcPort, debugAddress: opts.debugAddress, debugPort, log, authorizationDefault: opts.authorizationDefault, mtlsMode: opts.mtlsMode, ...(identity ? { identity } : {}) });
      } catch (e) {
        throw new CliError(`cannot start the control plane: ${(e as Error).message}`, 1);
      }
      log('info', 'control plane serving', { grpcPort: cp.grpcPort, identityPort: cp.identityPort, debugPort: cp.debug.port, replica: opts.replica });
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
