// `skein injector`: runs the sidecar-injection webhook (HTTPS), issuing its own certificate and publishing its CA.
import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { CliError } from '../cli-error.ts';
import { MESH_NAMESPACE } from '../../api/mesh/mesh-constants.ts';
import { DEFAULT_MESH_SETTINGS, LOG_LEVELS, meshSettings, parseTraceSettings, type LogLevel } from '../../injector/mesh-settings.ts';
import { DEFAULT_CA_VALIDITY_MS, DEFAULT_LEAF_VALIDITY_MS, ServingCertManager } from '../../injector/serving-cert-manager.ts';
import { createWebhookServer } from '../../injector/webhook-server.ts';

export const DEFAULT_WEBHOOK_CONFIG_NAME = 'skein-injector';

/** "24h", "90m", "30s", "500ms" or plain milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new CliError(`${flag}: "${text}" is not a duration (e.g. 24h, 90m, 30s)`, 2);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 }[m[2] ?? 'ms']!;
  return Number(m[1]) * unit;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

interface InjectorOptions {
  host: string;
  port: string;
  service: string;
  namespace: string;
  dnsName: string[];
  ipAddress: string[];
  webhookConfig: string;
  kube: boolean;
  nativeSidecars: string;
  controlPlaneAddress: string;
  logLevel: string;
  accessLog?: boolean;
  image: string;
  traceCollector?: string;
  traceSamplingPercent?: string;
  leafValidity: string;
  caValidity: string;
  caOut?: string;
  shutdownDelay: string;
}

export function registerInjectorCommand(program: Command): void {
  program
    .command('injector')
    .description('run the sidecar injection webhook (AdmissionReview v1 over HTTPS)')
    .option('--host <address>', 'listen address', '0.0.0.0')
    .option('--port <port>', 'listen port', '9443')
    .option('--service <name>', 'the webhook Service name (for the certificate)', 'skein-injector')
    .option('--namespace <name>', 'the webhook Service namespace', process.env.POD_NAMESPACE ?? MESH_NAMESPACE)
    .option('--dns-name <name>', 'extra DNS name for the serving certificate (repeatable)', collect, [])
    .option('--ip-address <ip>', 'IP address for the serving certificate (repeatable)', collect, [])
    .option('--webhook-config <name>', 'MutatingWebhookConfiguration whose caBundle to write', DEFAULT_WEBHOOK_CONFIG_NAME)
    .option('--no-kube', 'do not talk to the Kubernetes API (no caBundle write, no version detection)')
    .option('--native-sidecars <mode>', 'auto (from the cluster version) | true | false', 'auto')
    .option('--control-plane-address <host:port>', 'control plane address given to sidecars', DEFAULT_MESH_SETTINGS.controlPlaneAddress)
    .option('--log-level <level>', `default sidecar log level (${LOG_LEVELS.join(', ')})`, DEFAULT_MESH_SETTINGS.logLevel)
    .option('--access-log', 'turn sidecar access logs on by default')
    .option('--image <image>', 'sidecar and init container image', DEFAULT_MESH_SETTINGS.image)
    .option('--trace-collector <url>', "collector every sidecar exports spans to (OTLP/HTTP traces URL, e.g. Jaeger's http://<host>:4318/v1/traces)")
    .option('--trace-sampling-percent <n>', 'mesh default share (0-100) of new traces sampled (default 1; a TrafficPolicy overrides it per Service)')
    .option('--leaf-validity <duration>', 'serving certificate lifetime (rotated at 2/3)', '24h')
    .option('--ca-validity <duration>', 'CA lifetime (rolled at 2/3 with an overlap)', '8760h')
    .option('--ca-out <file>', 'also write the CA certificate (PEM) to this file')
    .option('--shutdown-delay <duration>', 'on SIGTERM keep answering this long before closing (endpoints catch up)', '5s')
    .action(async (opts: InjectorOptions) => {
      await runInjector(opts);
    });
}

async function runInjector(opts: InjectorOptions): Promise<void> {
  const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  const port = Number(opts.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`--port: "${opts.port}" is not a port`, 2);
  if (!(LOG_LEVELS as readonly string[]).includes(opts.logLevel)) throw new CliError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`, 2);
  if (!['auto', 'true', 'false'].includes(opts.nativeSidecars)) throw new CliError('--native-sidecars must be auto, true or false', 2);
  const leafValidityMs = parseDuration(opts.leafValidity, '--leaf-validity') || DEFAULT_LEAF_VALIDITY_MS;
  const caValidityMs = parseDuration(opts.caValidity, '--ca-validity') || DEFAULT_CA_VALIDITY_MS;
  if (caValidityMs < 2 * leafValidityMs) throw new CliError('--ca-validity must be at least twice --leaf-validity', 2);
  const shutdownDelayMs = parseDuration(opts.shutdownDelay, '--shutdown-delay');
  const tracing = parseTraceSettings(opts.traceCollector, opts.traceSamplingPercent);
  if (!tracing.ok) throw new CliError(tracing.error, 2);

  let kubeConfig: import('@kubernetes/client-node').KubeConfig | null = null;
  if (opts.kube) {
    const { KubeConfig } = await import('@kubernetes/client-node');
    kubeConfig = new KubeConfig();
    kubeConfig.loadFromDefault();
  }
  const { caBundlePublisher, clusterSupportsNativeSidecars } = await import('../../injector/ca-bundle-patcher.ts');

  let nativeSidecars = opts.nativeSidecars !== 'false';
  if (opts.nativeSidecars === 'auto' && kubeConfig) {
    try {
      nativeSidecars = await clusterSupportsNativeSidecars(kubeConfig);
    } catch (e) {
      log(`injector: cannot read the cluster version (${(e as Error).message}); assuming native sidecars`);
    }
  }
  let settings = meshSettings({
    nativeSidecars,
    controlPlaneAddress: opts.controlPlaneAddress,
    logLevel: opts.logLevel as LogLevel,
    accessLog: opts.accessLog === true,
    image: opts.image,
    ...tracing.value,
  });

  const svc = opts.service;
  const ns = opts.namespace;
  const dnsNames = [`${svc}.${ns}.svc`, `${svc}.${ns}.svc.cluster.local`, `${svc}.${ns}`, svc, ...opts.dnsName];
  const ipAddresses = [...opts.ipAddress, ...(process.env.POD_IP ? [process.env.POD_IP] : [])];
  const certs = new ServingCertManager({ dnsNames, ipAddresses, caValidityMs, leafValidityMs, caPropagationDelayMs: kubeConfig ? 10_000 : 0 });
  const first = certs.material();
  const ws = await createWebhookServer({ settings: () => settings, tls: { key: first.leaf.keyPem, cert: first.leaf.certPem }, log });
  if (kubeConfig) {
    // New sidecars get the mesh roots in their environment, to verify the control plane's identity service.
    const { CoreV1Api } = await import('@kubernetes/client-node');
    const { watchTrustBundle } = await import('../../injector/trust-bundle-watch.ts');
    watchTrustBundle(kubeConfig.makeApiClient(CoreV1Api), (pem) => (settings = { ...settings, trustAnchorsPem: pem }), log);
  }

  const writeCaFile = async (pems: readonly string[]) => {
    if (opts.caOut) await writeFile(opts.caOut, pems.join(''));
  };
  const kubePublish = kubeConfig && opts.webhookConfig ? caBundlePublisher(kubeConfig, opts.webhookConfig, log) : null;
  const publish = async (pems: readonly string[]) => {
    await writeCaFile(pems);
    if (kubePublish) await kubePublish(pems);
  };
  const install = (leaf: { keyPem: string; certPem: string; serial: string }) => {
    ws.setCertificate({ key: leaf.keyPem, cert: leaf.certPem });
    ws.metrics.certRotated('leaf');
    log(`injector: now serving certificate ${leaf.serial}`);
  };

  await ws.app.listen({ host: opts.host, port });
  const addr = ws.app.server.address() as AddressInfo;
  log(`injector: listening on https://${addr.address}:${addr.port} (native sidecars: ${nativeSidecars})`);

  // The first caBundle write is retried until it lands: until then the API server cannot verify us anyway.
  let published = false;
  const publishInitial = async () => {
    for (let delay = 500; !published; delay = Math.min(delay * 2, 30_000)) {
      try {
        await publish(certs.trustedCaPems());
        published = true;
      } catch (e) {
        ws.metrics.caBundlePublishFailed();
        log(`injector: caBundle write failed (${(e as Error).message}); retrying in ${delay} ms`);
        await new Promise((r) => setTimeout(r, delay).unref());
      }
    }
  };
  void publishInitial();
  certs.start(install, publish, Math.min(60_000, Math.max(1000, leafValidityMs / 100)), (e) => {
    ws.metrics.caBundlePublishFailed();
    log(`injector: certificate rotation failed (${(e as Error).message}); will retry`);
  });

  await new Promise<void>((resolve) => {
    let closing = false;
    const close = () => {
      if (closing) return;
      closing = true;
      ws.app.close().then(() => resolve(), () => resolve());
    };
    const stop = (signal: string) => {
      published = true;
      certs.stop();
      // With failurePolicy Fail, a review routed to us after SIGTERM (endpoints lag behind) must still be answered:
      // keep serving a little, then close (in-flight reviews finish). A second signal closes at once.
      log(`injector: ${signal}, closing in ${shutdownDelayMs} ms`);
      process.once('SIGTERM', close);
      process.once('SIGINT', close);
      setTimeout(close, shutdownDelayMs);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
