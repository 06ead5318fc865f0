// `skein demo [--smoke]`: the local cluster with Skein installed from manifests/, Prometheus and Jaeger; --smoke checks the journey.
import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError } from '../cli-error.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Journey checks whose parts do not exist yet: each says precisely what it waits for (never reported as a pass). */
function notBuiltJourney(has: { controlPlane: boolean; ingress: boolean }): { part: string; reason: string }[] {
  return [
    // With the ingress deployed, the request through it is checked for real (after the request journey).
    ...(has.ingress
      ? []
      : [{ part: 'request ingress -> web -> api -> echo', reason: 'needs the ingress (no manifests/ingress/); meanwhile the request goes from the host to web\'s pod IP (check above)' }]),
    // With the control plane deployed, mTLS is checked for real (after the request journey).
    ...(has.controlPlane
      ? []
      : [{ part: 'mTLS between sidecars', reason: 'needs the control plane\'s identity service (no manifests/control-plane/): the sidecars have no certificates and talk plain HTTP' }]),
  ];
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run the local cluster with Skein, Prometheus and Jaeger; print where everything is (runs until Ctrl-C)')
    .option('--smoke', 'check the journey, print a summary and exit (0 when every part that exists passes)')
    .option('--work-dir <dir>', 'where the cluster and addons keep their files (default: a folder in the skein cache)')
    .action(async (opts: { smoke?: boolean; workDir?: string }) => {
      const k8s = await import('@kubernetes/client-node');
      const { startLocalCluster } = await import('../../local-cluster/cluster.ts');
      const { skeinCacheDir } = await import('../../local-cluster/binaries.ts');
      const { startPrometheus } = await import('../../local-cluster/addons/prometheus.ts');
      const { ensureJaegerBinary, startJaeger } = await import('../../local-cluster/addons/jaeger.ts');
      const { applyManifests } = await import('../../local-cluster/apply-manifests.ts');
      const { MESH_PARTS, meshPartManifests, unavailableDeployments, checkInjector } = await import('../../local-cluster/demo-mesh-parts.ts');
      const { DEMO_CHAIN, DEMO_APP_PORT, DEMO_NAMESPACE, demoManifests, demoPods, trafficRate, checkRequestJourney, checkMetricsInPrometheus } = await import(
        '../../local-cluster/demo-journey.ts'
      );
      const { formatSmokeSummary, smokeExitCode } = await import('../../local-cluster/smoke-summary.ts');
      type SmokeResult = import('../../local-cluster/smoke-summary.ts').SmokeResult;

      const workDir = opts.workDir ?? join(skeinCacheDir(), 'demo');
      mkdirSync(workDir, { recursive: true });
      const log = (line: string): void => {
        process.stderr.write(`${line}\n`);
      };
      const results: SmokeResult[] = [];
      const record = (part: string, status: SmokeResult['status'], detail: string): void => {
        results.push({ part, status, detail });
        log(`demo: ${part}: ${status} (${detail})`);
      };
      const stoppers: (() => Promise<void>)[] = [];
      const stopAll = async (): Promise<void> => {
        for (const s of stoppers.reverse()) await s().catch(() => {});
      };

      // Jaeger's first build takes minutes: it runs beside the cluster's start (which needs none of it) instead of after it.
      // A failure is reported where Jaeger is started; a failed demo waits for the build to end rather than leave it running.
      const jaegerBuilt = ensureJaegerBinary(log).then(() => null, (e: Error) => e);
      stoppers.push(async () => void (await jaegerBuilt));
      try {
        const cluster = await startLocalCluster({ workDir: join(workDir, 'cluster'), log });
        stoppers.push(() => cluster.stop());
        const kc = new k8s.KubeConfig();
        kc.loadFromFile(cluster.kubeconfigPath);
        const core = kc.makeApiClient(k8s.CoreV1Api);
        const nodes = await core.listNode();
        const ready = nodes.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
        record('local cluster', 'pass', `${cluster.server}, ${nodes.items.length} node(s)`);
        record('node', ready.length > 0 ? 'pass' : 'fail', ready.length > 0 ? `node ${ready[0]!.metadata?.name} Ready` : 'no Ready node');

        const addonsDir = join(workDir, 'addons');
        const prom = await startPrometheus({ workDir: addonsDir, kubeconfigPath: cluster.kubeconfigPath, log }).then(
          (p) => (stoppers.push(() => p.stop()), p),
          (e: Error) => (record('prometheus', 'fail', e.message), undefined),
        );
        if (prom) {
          const r = await fetch(`${prom.url}/api/v1/query?query=up`).then((x) => x.json() as Promise<{ status?: string }>).catch(() => undefined);
          record('prometheus', r?.status === 'success' ? 'pass' : 'fail', prom.url);
        }
        const jaegerBuildError = await jaegerBuilt;
        if (jaegerBuildError) record('jaeger', 'fail', jaegerBuildError.message);
        const jaeger = jaegerBuildError ? undefined : await startJaeger({ workDir: addonsDir, log }).then(
          (j) => (stoppers.push(() => j.stop()), j),
          (e: Error) => (record('jaeger', 'fail', e.message), undefined),
        );
        if (jaeger) {
          const ok = await fetch(`${jaeger.queryUrl}/api/services`).then((x) => x.ok).catch(() => false);
          record('jaeger', ok ? 'pass' : 'fail', `UI ${jaeger.queryUrl}, OTLP gRPC :${jaeger.otlpGrpcPort}, OTLP HTTP :${jaeger.otlpHttpPort}`);
        }

        // Tracing is set mesh-wide on the injector, as a user would: every sidecar it injects exports to Jaeger's OTLP/HTTP
        // port on this machine, which pods reach at the node's address.
        const { withTraceCollector, nodeAddress, checkTraceInJaeger, DEMO_TRACE_SAMPLING_PERCENT } = await import('../../local-cluster/demo-trace-check.ts');
        const node = jaeger ? await nodeAddress(kc).catch(() => undefined) : undefined;
        const collector = jaeger && node ? `http://${node}:${jaeger.otlpHttpPort}/v1/traces` : undefined;
        if (collector) log(`demo: sidecars export spans to ${collector} (skein injector --trace-collector, ${DEMO_TRACE_SAMPLING_PERCENT} % sampled)`);

        // Install each part that has manifests, as a user would (server-side apply), then prove it works.
        const manifestsDir = join(repoRoot, 'manifests');
        let controlPlaneInstalled = false;
        let ingressInstalled = false;
        for (const p of MESH_PARTS) {
          const shipped = meshPartManifests(manifestsDir, p);
          const objects = shipped && p.dir === 'injector' && collector ? withTraceCollector(shipped, collector, DEMO_TRACE_SAMPLING_PERCENT) : shipped;
          if (!objects) {
            record(p.part, 'not built yet', `no manifests/${p.dir}/`);
            continue;
          }
          try {
            // The ingress's GatewayClass (and the Gateways after it) need the Gateway API CRDs, from the Go module.
            if (p.dir === 'ingress') {
              const { applyCrds, waitCrdsEstablished } = await import('../../local-cluster/apply-crds.ts');
              const { gatewayApiCrdTexts } = await import('../../local-cluster/gateway-api-crds.ts');
              await waitCrdsEstablished(kc, await applyCrds(kc, await gatewayApiCrdTexts()));
            }
            await applyManifests(cluster.kubeconfigPath, objects, log);
          } catch (e) {
            record(p.part, 'fail', `applying manifests/${p.dir}/: ${(e as Error).message.split('\n')[0]}`);
            continue;
          }
          const missing = await unavailableDeployments(kc, objects, 180_000);
          if (missing.length > 0) {
            record(p.part, 'fail', `not available: ${missing.join(', ')}`);
            continue;
          }
          if (p.dir === 'injector') {
            const r = await checkInjector(kc, 120_000);
            record(r.part, r.status, r.detail);
          } else if (p.dir === 'control-plane') {
            // Checked once the demo's sidecars run: each must hold config pushed by a replica (below).
            controlPlaneInstalled = true;
          } else if (p.dir === 'ingress') {
            // Its GatewayClass accepted now; a request through it once web runs (below).
            const { checkGatewayClass } = await import('../../local-cluster/demo-ingress-check.ts');
            const r = await checkGatewayClass(kc, 60_000);
            record(r.part, r.status, r.detail);
            ingressInstalled = r.status === 'pass';
          } else {
            record(p.part, 'not built yet', `manifests/${p.dir}/ deployed and available; its smoke check is not written yet`);
          }
        }
        // The demo's services, deployed as a user would (examples/demo/), then the journey through their sidecars.
        const demo = demoManifests(repoRoot);
        const deploy = async (objects: typeof demo.services): Promise<string | null> => {
          try {
            await applyManifests(cluster.kubeconfigPath, objects, log);
          } catch (e) {
            return `applying examples/demo/: ${(e as Error).message.split('\n')[0]}`;
          }
          const missing = await unavailableDeployments(kc, objects, 180_000);
          return missing.length > 0 ? `not available: ${missing.join(', ')}` : null;
        };
        const injectorPassed = results.some((r) => r.part === 'injector' && r.status === 'pass');
        const journey = ['example services', 'request web -> api -> echo', 'trace in Jaeger', 'traffic generator', 'metrics in Prometheus', 'dashboards'];
        let trafficFlowing = false;
        if (!injectorPassed) {
          for (const part of journey) record(part, 'fail', 'skipped: the injector did not pass, so the demo services would run without sidecars');
        } else {
          const servicesProblem = await deploy(demo.services);
          if (servicesProblem) {
            record('example services', 'fail', servicesProblem);
            record('request web -> api -> echo', 'fail', 'skipped: the example services are not available');
            record('trace in Jaeger', 'fail', 'skipped: the example services are not available');
          } else {
            record('example services', 'pass', `${DEMO_CHAIN.join(' -> ')} in namespace ${DEMO_NAMESPACE}, injected and available (ClusterIP Services)`);
            // The callers reach each other by ClusterIP, which only their sidecars can route (from the control plane's
            // discovery): every sidecar must hold pushed config before the journey is tried.
            if (controlPlaneInstalled) {
              const { checkControlPlane } = await import('../../local-cluster/demo-control-plane-check.ts');
              const r = await checkControlPlane(kc, DEMO_NAMESPACE, 120_000);
              record(r.part, r.status, r.detail);
            }
            const r = await checkRequestJourney(kc, 60_000);
            record(r.part, r.status, r.detail);
            if (controlPlaneInstalled) {
              const { checkMtls } = await import('../../local-cluster/demo-mtls-check.ts');
              const m = await checkMtls(kc, 60_000);
              record(m.part, m.status, m.detail);
            }
            if (!jaeger) record('trace in Jaeger', 'fail', 'jaeger is not running');
            else if (!collector) record('trace in Jaeger', 'fail', 'no node address for the sidecars to reach Jaeger at');
            else {
              const t = await checkTraceInJaeger(kc, jaeger.queryUrl, 60_000);
              record(t.part, t.status, t.detail);
            }
            if (ingressInstalled) {
              const { checkIngressJourney, demoGatewayObjects } = await import('../../local-cluster/demo-ingress-check.ts');
              const problem = await applyManifests(cluster.kubeconfigPath, demoGatewayObjects(), log).then(
                () => null,
                (e: Error) => e.message.split('\n')[0] ?? 'error',
              );
              const g = problem === null ? await checkIngressJourney(kc, 120_000) : { part: 'request ingress -> web -> api -> echo', status: 'fail' as const, detail: `applying the demo Gateway: ${problem}` };
              record(g.part, g.status, g.detail);
            }
          }
          // After the request check, which must see its own request alone in the sidecars' counters.
          const trafficProblem = await deploy(demo.traffic);
          trafficFlowing = trafficProblem === null;
          record('traffic generator', trafficFlowing ? 'pass' : 'fail', trafficProblem ?? `loadgen sends ${trafficRate(demo.traffic)} req/s to http://web:${DEMO_APP_PORT} through its sidecar`);
          if (!prom) {
            record('metrics in Prometheus', 'fail', 'prometheus is not running');
            record('dashboards', 'fail', 'prometheus is not running');
          } else {
            // The traffic generator also exchanges opaque TCP with echo (examples/demo/40-loadgen.yaml): the TCP panels' series.
            const tcp = trafficFlowing ? { tcp: { inbound: ['echo'], outbound: ['loadgen'] } } : {};
            const m = await checkMetricsInPrometheus(prom.url, { inbound: DEMO_CHAIN, outbound: ['web', 'api', ...(trafficFlowing ? ['loadgen'] : [])], ...tcp }, 120_000);
            record(m.part, m.status, m.detail);
            // The shipped dashboards against this Prometheus, which scrapes with the shipped scrape jobs (manifests/observability/).
            const { checkDashboards } = await import('../../local-cluster/dashboard-check.ts');
            const d = await checkDashboards(prom.url, join(repoRoot, 'manifests', 'observability', 'dashboards'));
            record(d.part, d.status, d.detail);
          }
        }
        const shipped = (dir: string): boolean => MESH_PARTS.some((p) => p.dir === dir && meshPartManifests(manifestsDir, p) !== undefined);
        const has = { controlPlane: shipped('control-plane'), ingress: shipped('ingress') };
        for (const j of notBuiltJourney(has)) record(j.part, 'not built yet', j.reason);

        const web = await demoPods(kc, ['web']).then((m) => m.get('web')?.status?.podIP, () => undefined);
        const { ingressAddress } = await import('../../local-cluster/demo-ingress-check.ts');
        const ingress = has.ingress ? await ingressAddress(kc).catch(() => null) : null;
        const query = `sum by (app, direction) (rate(skein_requests_total{namespace="${DEMO_NAMESPACE}"}[1m]))`;
        process.stdout.write(
          [
            '',
            'Skein demo',
            `  web:         ${web ? `http://${web}:${DEMO_APP_PORT}/  (from this machine; web -> api -> echo, each through its sidecar)` : '(not running)'}`,
            `  traffic:     ${trafficFlowing ? `loadgen, ${trafficRate(demo.traffic)} req/s to web (namespace ${DEMO_NAMESPACE})` : '(not running)'}`,
            `  Prometheus:  ${prom ? `${prom.url}/graph?g0.expr=${encodeURIComponent(query)}` : '(not running)'}`,
            `  skein stat:  ${prom ? `node bin/skein.mjs stat --prometheus ${prom.url} -n ${DEMO_NAMESPACE}  (golden signals per workload; --by edge, --by route)` : '(no Prometheus)'}`,
            `  dashboards:  manifests/observability/dashboards/*.json  (import into Grafana with ${prom ? prom.url : 'this Prometheus'} as the data source)`,
            `  Jaeger UI:   ${jaeger ? `${jaeger.queryUrl}/search?service=web.${DEMO_NAMESPACE}  (every request is traced: sidecars export to ${collector ?? 'nothing (no node address)'})` : '(not running)'}`,
            `  ingress:     ${ingress ? `http://${ingress}/  (Gateway ${DEMO_NAMESPACE}/demo of class skein: ingress -> web -> api -> echo)` : has.ingress ? '(not running)' : 'not built yet'}`,
            `  kubeconfig:  export KUBECONFIG=${cluster.kubeconfigPath}`,
            `  API server:  ${cluster.server}`,
            `  logs:        ${join(cluster.workDir, 'logs')}`,
            '',
          ].join('\n'),
        );
      } catch (e) {
        record('local cluster', 'fail', (e as Error).message);
        if (!opts.smoke) {
          await stopAll();
          throw new CliError((e as Error).message);
        }
      }

      if (opts.smoke) {
        process.stdout.write(formatSmokeSummary(results));
        await stopAll();
        process.exitCode = smokeExitCode(results);
        return;
      }
      process.stdout.write('Traffic keeps flowing until you press Ctrl-C.\n');
      // The cluster's processes keep the event loop alive; Ctrl-C stops everything (local-cluster/teardown.ts).
    });
}
