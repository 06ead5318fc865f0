// The kubernetes_sd stand-in: pod-role targets with Prometheus's meta labels, and the shipped mesh scrape jobs rewired to it.
import type { V1Pod } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { podRoleTargets, withPodFileSd } from './kubernetes-pod-sd.ts';
import { MESH_SCRAPE_CONFIGS } from './prometheus.ts';
import { podScrapeTargets } from './pod-scrape-targets.ts';

const meshed: V1Pod = {
  metadata: { name: 'web-1', namespace: 'demo', labels: { app: 'web', 'skein.dev/injected': 'true' }, annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '15020' } },
  spec: {
    initContainers: [{ name: 'skein-init' }, { name: 'skein-proxy', ports: [{ name: 'skein-health', containerPort: 15020 }] }],
    containers: [{ name: 'web', ports: [{ name: 'http', containerPort: 8080 }] }],
  },
  status: { podIP: '10.244.0.5', phase: 'Running' },
};

describe('kubernetes pod-role stand-in', () => {
  it('makes a group per container port and per portless container, with the pod role meta labels', () => {
    const groups = podRoleTargets([meshed, { metadata: { name: 'pending' }, spec: { containers: [{ name: 'x' }] }, status: { phase: 'Pending' } }]);
    expect(groups.map((g) => [g.targets[0], g.labels.__meta_kubernetes_pod_container_name, g.labels.__meta_kubernetes_pod_container_init])).toEqual([
      ['10.244.0.5:8080', 'web', 'false'],
      ['10.244.0.5', 'skein-init', 'true'],
      ['10.244.0.5:15020', 'skein-proxy', 'true'],
    ]);
    const web = groups[0]!.labels;
    expect(web).toMatchObject({
      __meta_kubernetes_namespace: 'demo',
      __meta_kubernetes_pod_name: 'web-1',
      __meta_kubernetes_pod_ip: '10.244.0.5',
      __meta_kubernetes_pod_phase: 'Running',
      __meta_kubernetes_pod_label_skein_dev_injected: 'true',
      __meta_kubernetes_pod_labelpresent_skein_dev_injected: 'true',
      __meta_kubernetes_pod_annotation_prometheus_io_port: '15020',
      __meta_kubernetes_pod_container_port_name: 'http',
      __meta_kubernetes_pod_container_port_number: '8080',
    });
  });

  it('rewires every shipped mesh job to the pod file, keeping its relabel rules and TLS settings', () => {
    const jobs = withPodFileSd(readFileSync(MESH_SCRAPE_CONFIGS, 'utf8'), '/tmp/pods.json');
    expect(jobs.map((j) => j.job_name)).toEqual(['skein-proxies', 'skein-control-plane', 'skein-injector']);
    for (const j of jobs) {
      expect(j).not.toHaveProperty('kubernetes_sd_configs');
      expect(j.file_sd_configs).toEqual([{ files: ['/tmp/pods.json'], refresh_interval: '5s' }]);
      expect((j.relabel_configs as unknown[]).length).toBeGreaterThan(2);
    }
    expect(jobs[2]).toMatchObject({ scheme: 'https', tls_config: { insecure_skip_verify: true } });
    expect(() => withPodFileSd('scrape_configs: [{ job_name: x, kubernetes_sd_configs: [{ role: endpoints }] }]', 'f')).toThrow(/only role "pod"/);
  });

  it('leaves a sidecar to the mesh job: the annotation job does not scrape its proxy port too', () => {
    expect(podScrapeTargets([meshed])).toEqual([]);
    const appMetrics = { ...meshed, metadata: { ...meshed.metadata, annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9100' } } };
    expect(podScrapeTargets([appMetrics]).map((g) => g.targets[0])).toEqual(['10.244.0.5:9100']);
  });
});
