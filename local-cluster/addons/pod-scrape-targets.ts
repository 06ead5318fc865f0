// Turns the cluster's pods into Prometheus file_sd target groups (Debian's Prometheus is built without Kubernetes discovery).
import type { V1Pod } from '@kubernetes/client-node';
import { INJECTED_LABEL, PROXY_HEALTH_PORT } from '../../api/mesh/mesh-constants.ts';

export interface TargetGroup {
  readonly targets: string[];
  readonly labels: Record<string, string>;
}

/**
 * One group per running pod that asks to be scraped with the usual annotations: `prometheus.io/scrape: "true"`,
 * `prometheus.io/port` (else the first declared container port), `prometheus.io/path` (default /metrics).
 */
export function podScrapeTargets(pods: readonly V1Pod[]): TargetGroup[] {
  const groups: TargetGroup[] = [];
  for (const pod of pods) {
    const ann = pod.metadata?.annotations ?? {};
    if (ann['prometheus.io/scrape'] !== 'true') continue;
    const ip = pod.status?.podIP;
    if (!ip || pod.status?.phase !== 'Running') continue;
    const declared = pod.spec?.containers.flatMap((c) => c.ports ?? []).find((p) => (p.protocol ?? 'TCP') === 'TCP')?.containerPort;
    const port = Number(ann['prometheus.io/port'] ?? declared);
    if (!Number.isInteger(port) || port <= 0 || port > 65535) continue;
    // A sidecar's own metrics (the injector's annotations) are the mesh's `skein-proxies` job's: scraped twice, every
    // request would count twice.
    if (pod.metadata?.labels?.[INJECTED_LABEL] === 'true' && port === PROXY_HEALTH_PORT) continue;
    const labels: Record<string, string> = {
      namespace: pod.metadata?.namespace ?? '',
      pod: pod.metadata?.name ?? '',
      __metrics_path__: ann['prometheus.io/path'] || '/metrics',
    };
    const app = pod.metadata?.labels?.app;
    if (app) labels.app = app;
    groups.push({ targets: [`${ip}:${port}`], labels });
  }
  return groups.sort((a, b) => a.targets[0]!.localeCompare(b.targets[0]!));
}
