// `skein demo [--smoke]`: the local cluster with Skein installed from manifests/, Prometheus and Jaeger; --smoke checks the journey.
import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError } from '../cli-error.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

// End-to-end checks that need every part; reported as not built yet until they are written with the parts they need.
const JOURNEY_CHECKS = ['request ingress -> A -> B', 'mTLS between sidecars', 'trace in Jaeger', 'metrics in Prometheus'] as const;

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
      const { startJaeger } = await import('../../local-cluster/addons/jaeger.ts');
      const { applyManifests } = await import('../../local-cluster/apply-manifests.ts');
      const { MESH_PARTS, meshPartManifests, unavailableDeployments, checkInjector } = await import('../../local-cluster/demo-mesh-parts.ts');
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

      try {
        const cluster = await startLocalCluster({ workDir: join(workDir, 'cluster'), log });
        stoppers.push(() => cluster.stop());
        const kc = new k8s.KubeConfig();
        kc.loadFromFile(cluster.kubeconfigPath);
        const core = kc.makeApiClient(k8s.CoreV1Api);
        const nodes = await core.listNode();
        const ready = nodes.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
        record('local cluster', 'pass', `${cluster.server}, ${nodes.items.length} node(s)`);
        record('node agent', ready.length > 0 ? 'pass' : 'fail', ready.length > 0 ? `node ${ready[0]!.metadata?.name} Ready` : 'no Ready node');

        const addonsDir = join(workDir, 'addons');
        const prom = await startPrometheus({ workDir: addonsDir, kubeconfigPath: cluster.kubeconfigPath, log }).then(
          (p) => (stoppers.push(() => p.stop()), p),
          (e: Error) => (record('prometheus', 'fail', e.message), undefined),
        );
        if (prom) {
          const r = await fetch(`${prom.url}/api/v1/query?query=up`).then((x) => x.json() as Promise<{ status?: string }>).catch(() => undefined);
          record('prometheus', r?.status === 'success' ? 'pass' : 'fail', prom.url);
        }
        const jaeger = await startJaeger({ workDir: addonsDir, log }).then(
          (j) => (stoppers.push(() => j.stop()), j),
          (e: Error) => (record('jaeger', 'fail', e.message), undefined),
        );
        if (jaeger) {
          const ok = await fetch(`${jaeger.queryUrl}/api/services`).then((x) => x.ok).catch(() => false);
          record('jaeger', ok ? 'pass' : 'fail', `UI ${jaeger.queryUrl}, OTLP gRPC :${jaeger.otlpGrpcPort}, OTLP HTTP :${jaeger.otlpHttpPort}`);
        }

        // Install each part that has manifests, as a user would (server-side apply), then prove it works.
        const manifestsDir = join(repoRoot, 'manifests');
        for (const p of MESH_PARTS) {
          const objects = meshPartManifests(manifestsDir, p);
          if (!objects) {
            record(p.part, 'not built yet', `no manifests/${p.dir}/`);
            continue;
          }
          try {
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
          } else {
            record(p.part, 'not built yet', `manifests/${p.dir}/ deployed and available; its smoke check is not written yet`);
          }
        }
        for (const j of JOURNEY_CHECKS) record(j, 'not built yet', 'needs the control plane, injector, ingress and example services');

        process.stdout.write(
          [
            '',
            'Skein demo',
            `  kubeconfig:  export KUBECONFIG=${cluster.kubeconfigPath}`,
            `  API server:  ${cluster.server}`,
            `  Prometheus:  ${prom?.url ?? '(not running)'}`,
            `  Jaeger UI:   ${jaeger?.queryUrl ?? '(not running)'}`,
            '  ingress:     not built yet',
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
      process.stdout.write('Press Ctrl-C to stop.\n');
      // The cluster's processes keep the event loop alive; Ctrl-C stops everything (local-cluster/teardown.ts).
    });
}
