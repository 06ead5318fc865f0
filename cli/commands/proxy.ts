// `skein proxy`: runs the sidecar / ingress proxy from a static config file, the sidecar environment, or (ingress) the control plane.
import type { Command } from 'commander';
import { formatConfigProblems, parseProxyConfig } from '../../api/config/parse-proxy-config.ts';
import { readFileSync } from 'node:fs';
import { MESH_TOKEN_PATH, PROXY_HEALTH_PORT, SIDECAR_ENV, SKEIN_IMAGE } from '../../api/mesh/mesh-constants.ts';
import type { ProxyProcessOptions } from '../../proxy/proxy-process.ts';
import { CliError } from '../cli-error.ts';
import { loadConfigDocument } from '../load-config-file.ts';

/** The options of `skein proxy` as commander parses them (cli/proxy-fast-path.ts parses the common forms the same way). */
export interface ProxyCommandOptions {
  readonly config?: string;
  readonly sidecar?: boolean;
  readonly mode?: string;
  readonly check?: boolean;
  /** Worker processes (ingress): a positive integer as text; default the machine's cores in ingress mode, else 1. */
  readonly workers?: string;
  /** Ingress fed by the control plane at this address (else SKEIN_CONTROL_PLANE_ADDRESS), instead of a config file. */
  readonly controlPlane?: string;
  /** Ingress: the Gateway served, `namespace/name`; absent: every Gateway of Skein's classes and the Ingress objects. */
  readonly gateway?: string;
  /** `--config` mode: mesh mTLS with the certificate in this directory (tls.key, tls.crt, ca.crt), never renewed. */
  readonly workloadIdentity?: string;
}

export function registerProxyCommand(program: Command): void {
  program
    .command('proxy')
    .description('run the Skein proxy (sidecar or ingress)')
    .option('-c, --config <file>', 'proxy config file (YAML or JSON; see docs/proxy-config.md)')
    .option('--sidecar', 'run as an injected sidecar: config from the SKEIN_* environment the injector sets (docs/injection.md)')
    .option('--mode <mode>', 'override the mode in the config: sidecar | ingress')
    .option('--check', 'validate the config and exit')
    .option('--workers <n>', 'worker processes sharing the listeners (default: one per core in ingress mode, else 1)')
    .option('--control-plane <address>', 'ingress: take config from the control plane at host:port (default $SKEIN_CONTROL_PLANE_ADDRESS) instead of --config')
    .option('--workload-identity <dir>', 'with --config: mesh mTLS with the workload certificate in DIR (tls.key, tls.crt, ca.crt; never renewed; docs/identity.md)')
    .option('--gateway <namespace/name>', 'ingress: serve this Gateway only (default: every Gateway of class skein, and Ingress objects of class skein)')
    .action((opts: ProxyCommandOptions) => runProxyCommand(opts));
}

/** `skein proxy` itself, once its options are parsed. */
export async function runProxyCommand(opts: ProxyCommandOptions): Promise<void> {
  if (opts.sidecar && opts.config) throw new CliError('use either --config or --sidecar, not both', 2);
  if (opts.mode === 'ingress' && !opts.config && !opts.sidecar) return runControlledIngress(opts);
  if (opts.gateway !== undefined || opts.controlPlane !== undefined) throw new CliError('--gateway and --control-plane are for `--mode ingress` without --config', 2);
  if (!opts.sidecar && !opts.config) throw new CliError('--config <file> is required (or --sidecar inside a meshed pod, or --mode ingress with a control plane)', 2);
  const source = opts.config ?? 'sidecar environment';
  const { sidecarConfigDocument } = await import('../../proxy/sidecar/sidecar-bootstrap.ts');
  const doc = opts.config ? await loadConfigDocument(opts.config) : sidecarConfigDocument(process.env);
  if (opts.mode !== undefined && opts.mode !== 'sidecar' && opts.mode !== 'ingress') throw new CliError(`--mode must be sidecar or ingress, not "${opts.mode}"`, 2);
  // Applied to every reload of the file too: the command line wins over the file, as at start.
  const override = (d: unknown): void => {
    if (opts.mode !== undefined && d && typeof d === 'object') (d as Record<string, unknown>).mode = opts.mode;
  };
  override(doc);
  let workers: number | null = null;
  if (opts.workers !== undefined) {
    if (!/^[0-9]{1,3}$/.test(opts.workers) || Number(opts.workers) < 1) throw new CliError(`--workers must be a whole number from 1, not "${opts.workers}"`, 2);
    if (opts.sidecar) throw new CliError('--workers is for the ingress, not a sidecar', 2);
    workers = Number(opts.workers);
  }
  const parsed = parseProxyConfig(doc);
  if (!parsed.ok) {
    throw new CliError(`invalid config ${source}:\n${formatConfigProblems(parsed.error)}`, 2);
  }
  if (opts.check) {
    process.stdout.write(`${source}: valid\n`);
    return;
  }
  if (opts.workloadIdentity !== undefined && opts.sidecar) throw new CliError('--workload-identity is for --config; a sidecar gets its certificate from the control plane', 2);
  let fileIdentity: Exclude<ReturnType<typeof import('../../proxy/identity/file-workload-identity.ts').fileWorkloadIdentity>, string> | undefined;
  if (opts.workloadIdentity !== undefined) {
    const { fileWorkloadIdentity } = await import('../../proxy/identity/file-workload-identity.ts');
    const read = fileWorkloadIdentity(opts.workloadIdentity, Date.now());
    if (typeof read === 'string') throw new CliError(`--workload-identity: ${read}`, 2);
    fileIdentity = read;
  }
  if (!opts.sidecar) {
    const count = workers ?? (parsed.value.mode === 'ingress' ? (await import('node:os')).availableParallelism() : 1);
    const { isWorker, superviseWorkers, supervisorLink } = await import('../../proxy/proxy-workers.ts');
    if (count > 1 && !isWorker()) return superviseWorkers(count);
    const { runProxyProcess } = await import('../../proxy/proxy-process.ts');
    const worker = await supervisorLink();
    // Each worker watches the file (and takes SIGHUP) itself: each holds its own runtime.
    return runProxyProcess(parsed.value, {
      configFile: { file: opts.config!, load: loadConfigDocument, override },
      ...(fileIdentity !== undefined ? { identity: fileIdentity } : {}),
      ...(worker !== null ? { worker } : {}),
    });
  }
  const { runProxyProcess } = await import('../../proxy/proxy-process.ts');
  const { parseAppProbes } = await import('../../proxy/admin/health-server.ts');
  const { originalDestinationUnavailable } = await import('../../proxy/native/original-destination.ts');
  const { log } = await import('../../proxy/log.ts');
  const probes = parseAppProbes(process.env[SIDECAR_ENV.appProbes]);
  if (probes.error) log('warn', 'SKEIN_APP_PROBES is not valid JSON; app probes answer 404', { error: probes.error });
  const odst = originalDestinationUnavailable();
  if (odst) log('warn', 'original destination unavailable: redirected connections cannot be forwarded', { reason: odst });
  // Mesh identity: the workload certificate, obtained before the proxy reports ready (docs/identity.md).
  const { ProxyMetrics } = await import('../../proxy/telemetry/proxy-metrics.ts');
  const { identityMetrics } = await import('../../proxy/identity/identity-metrics.ts');
  const { sidecarIdentity } = await import('../../proxy/identity/sidecar-identity.ts');
  const metrics = new ProxyMetrics();
  const identity = sidecarIdentity(process.env, identityMetrics(metrics.registry), log);
  if (typeof identity === 'string') log('warn', 'mesh identity disabled: no workload certificate, no mTLS', { reason: identity });
  else identity.start();
  const controlPlane = sidecarControlPlane(process.env);
  if (!controlPlane) log('warn', `${SIDECAR_ENV.controlPlaneAddress} is not set: serving the bootstrap pass-through config only`);
  await runProxyProcess(parsed.value, {
    metrics,
    ...(typeof identity === 'string' ? {} : { identity }),
    health: { address: '0.0.0.0', port: PROXY_HEALTH_PORT, probes: probes.probes },
    ...(controlPlane ? { controlPlane } : {}),
    ...(process.env[SIDECAR_ENV.exitOnAppExit] === 'true' ? { exitOnAppExit: {} } : {}),
  });
}

/** How many worker processes (the --workers text, checked; default one per core). */
async function workerCount(text: string | undefined): Promise<number> {
  if (text === undefined) return (await import('node:os')).availableParallelism();
  if (!/^[0-9]{1,3}$/.test(text) || Number(text) < 1) throw new CliError(`--workers must be a whole number from 1, not "${text}"`, 2);
  return Number(text);
}

/**
 * `skein proxy --mode ingress` without a file: the ingress of a cluster, fed by the control plane (docs/gateway.md). It
 * starts with no listener; each Gateway listener arrives as a resource. Identity as a sidecar's when the mesh roots are
 * given (mTLS to meshed backends); readiness on the health port.
 */
async function runControlledIngress(opts: ProxyCommandOptions): Promise<void> {
  const env = { ...process.env, ...(opts.controlPlane ? { [SIDECAR_ENV.controlPlaneAddress]: opts.controlPlane } : {}) };
  const gateway = opts.gateway ?? '';
  if (gateway !== '' && !/^[a-z0-9][-a-z0-9]*\/[a-z0-9][-a-z0-9.]*$/.test(gateway)) throw new CliError(`--gateway must be namespace/name, not "${gateway}"`, 2);
  const controlPlane = sidecarControlPlane(env);
  if (!controlPlane) throw new CliError(`--mode ingress needs --config <file>, or a control plane (--control-plane or ${SIDECAR_ENV.controlPlaneAddress})`, 2);
  const { ingressConfigDocument, ingressHello } = await import('../../proxy/ingress/ingress-bootstrap.ts');
  const parsed = parseProxyConfig(ingressConfigDocument(env));
  if (!parsed.ok) throw new CliError(`invalid ingress bootstrap:\n${formatConfigProblems(parsed.error)}`, 2);
  if (opts.check) {
    process.stdout.write('ingress bootstrap: valid\n');
    return;
  }
  const count = await workerCount(opts.workers);
  const { isWorker, superviseWorkers, supervisorLink } = await import('../../proxy/proxy-workers.ts');
  if (count > 1 && !isWorker()) return superviseWorkers(count);
  const worker = isWorker() ? ((await import('node:cluster')).default.worker?.id ?? null) : null;
  const link = await supervisorLink();
  const { runProxyProcess } = await import('../../proxy/proxy-process.ts');
  const { log } = await import('../../proxy/log.ts');
  const { ProxyMetrics } = await import('../../proxy/telemetry/proxy-metrics.ts');
  const { identityMetrics } = await import('../../proxy/identity/identity-metrics.ts');
  const { sidecarIdentity } = await import('../../proxy/identity/sidecar-identity.ts');
  const metrics = new ProxyMetrics();
  const identity = sidecarIdentity(env, identityMetrics(metrics.registry), log);
  if (typeof identity === 'string') log('warn', 'mesh identity disabled: meshed backends that require mTLS cannot be reached', { reason: identity });
  else identity.start();
  await runProxyProcess(parsed.value, {
    metrics,
    ...(typeof identity === 'string' ? {} : { identity }),
    health: { address: '0.0.0.0', port: PROXY_HEALTH_PORT, probes: new Map() },
    controlPlane: { ...controlPlane, hello: ingressHello(controlPlane.hello, gateway, worker) },
    ...(link !== null ? { worker: link } : {}),
  });
}

/** Who this sidecar is, for the control plane's Hello, from the environment and the projected token the injector gives it. */
export function sidecarControlPlane(env: NodeJS.ProcessEnv, tokenPath = MESH_TOKEN_PATH): ProxyProcessOptions['controlPlane'] | null {
  const address = env[SIDECAR_ENV.controlPlaneAddress]?.trim();
  if (!address) return null;
  let token = '';
  try {
    token = readFileSync(tokenPath, 'utf8').trim();
  } catch {
    // No token mounted (a pod injected without one, or a test): the Hello goes without it.
  }
  const podName = env[SIDECAR_ENV.podName] ?? '';
  const podNamespace = env[SIDECAR_ENV.podNamespace] ?? '';
  return {
    address,
    hello: {
      proxyId: `${podName}.${podNamespace}`,
      podName,
      podNamespace,
      podIp: env[SIDECAR_ENV.podIp] ?? '',
      serviceAccount: env[SIDECAR_ENV.serviceAccount] ?? '',
      token,
      mode: 'sidecar',
      proxyVersion: SKEIN_IMAGE.slice(SKEIN_IMAGE.lastIndexOf(':') + 1),
    },
  };
}
