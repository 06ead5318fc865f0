// Stands in for Prometheus's Kubernetes service discovery (role: pod), which Debian builds Prometheus without: the cluster's
// pods become file_sd target groups carrying the same `__meta_kubernetes_pod_*` labels, so a scrape config written for
// kubernetes_sd (manifests/observability/) runs unchanged, relabel rules and all, against the local cluster.
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { parse } from 'yaml';
import type { TargetGroup } from './pod-scrape-targets.ts';

/** Prometheus's own label-name sanitizing of Kubernetes label and annotation keys. */
function sanitize(key: string): string {
  return key.replace(/[^a-zA-Z0-9_]/g, '_');
}

/**
 * One group per container port, and one per container without ports (address: the pod IP alone), as the pod role makes
 * them; init containers too, marked `__meta_kubernetes_pod_container_init="true"`. Pods without an IP yet are left out.
 */
export function podRoleTargets(pods: readonly V1Pod[]): TargetGroup[] {
  const groups: TargetGroup[] = [];
  for (const pod of pods) {
    const ip = pod.status?.podIP;
    if (!ip) continue;
    const podLabels: Record<string, string> = {
      __meta_kubernetes_namespace: pod.metadata?.namespace ?? '',
      __meta_kubernetes_pod_name: pod.metadata?.name ?? '',
      __meta_kubernetes_pod_ip: ip,
      __meta_kubernetes_pod_phase: pod.status?.phase ?? '',
      __meta_kubernetes_pod_ready: String(pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false),
      __meta_kubernetes_pod_node_name: pod.spec?.nodeName ?? '',
      __meta_kubernetes_pod_uid: pod.metadata?.uid ?? '',
    };
    for (const [k, v] of Object.entries(pod.metadata?.labels ?? {})) {
      podLabels[`__meta_kubernetes_pod_label_${sanitize(k)}`] = v;
      podLabels[`__meta_kubernetes_pod_labelpresent_${sanitize(k)}`] = 'true';
    }
    for (const [k, v] of Object.entries(pod.metadata?.annotations ?? {})) {
      podLabels[`__meta_kubernetes_pod_annotation_${sanitize(k)}`] = v;
      podLabels[`__meta_kubernetes_pod_annotationpresent_${sanitize(k)}`] = 'true';
    }
    const containers: [V1Container, boolean][] = [...(pod.spec?.containers ?? []).map((c): [V1Container, boolean] => [c, false]), ...(pod.spec?.initContainers ?? []).map((c): [V1Container, boolean] => [c, true])];
    for (const [c, init] of containers) {
      const base = { ...podLabels, __meta_kubernetes_pod_container_name: c.name, __meta_kubernetes_pod_container_image: c.image ?? '', __meta_kubernetes_pod_container_init: String(init) };
      const ports = c.ports ?? [];
      if (ports.length === 0) groups.push({ targets: [ip], labels: base });
      for (const p of ports) {
        groups.push({
          targets: [`${ip}:${p.containerPort}`],
          labels: { ...base, __meta_kubernetes_pod_container_port_name: p.name ?? '', __meta_kubernetes_pod_container_port_number: String(p.containerPort), __meta_kubernetes_pod_container_port_protocol: p.protocol ?? 'TCP' },
        });
      }
    }
  }
  return groups;
}

/**
 * The scrape jobs of a kubernetes_sd scrape config (the `scrape_configs:` list of `yamlText`) with each
 * `kubernetes_sd_configs` (role pod) swapped for a file_sd reading `podTargetsFile`; everything else is kept as written.
 * Throws on a job that uses another role, which the stand-in cannot serve.
 */
export function withPodFileSd(yamlText: string, podTargetsFile: string): Record<string, unknown>[] {
  const doc = parse(yamlText) as { scrape_configs?: Record<string, unknown>[] } | null;
  const jobs = doc?.scrape_configs ?? [];
  return jobs.map((job) => {
    const { kubernetes_sd_configs: sd, ...rest } = job as { kubernetes_sd_configs?: { role?: string }[] };
    if (!sd) return job;
    if (sd.some((s) => s.role !== 'pod')) throw new Error(`scrape job ${String(job.job_name)}: only role "pod" can be stood in for`);
    return { ...rest, file_sd_configs: [{ files: [podTargetsFile], refresh_interval: '5s' }] };
  });
}
