// Unit tests of the pod -> Prometheus target mapping.
import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { podScrapeTargets } from './pod-scrape-targets.ts';

function pod(name: string, opts: { ann?: Record<string, string>; ip?: string; phase?: string; port?: number; app?: string }): V1Pod {
  return {
    metadata: { name, namespace: 'shop', annotations: opts.ann, labels: opts.app ? { app: opts.app } : {} },
    spec: { containers: [{ name: 'c', ports: opts.port ? [{ containerPort: opts.port }] : [] }] },
    status: { podIP: opts.ip, phase: opts.phase ?? 'Running' },
  };
}

describe('podScrapeTargets', () => {
  it('keeps running annotated pods, with the annotated port and path', () => {
    const groups = podScrapeTargets([
      pod('a', { ann: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '15020', 'prometheus.io/path': '/stats' }, ip: '10.244.0.5', port: 8080, app: 'web' }),
    ]);
    expect(groups).toEqual([{ targets: ['10.244.0.5:15020'], labels: { namespace: 'shop', pod: 'a', app: 'web', __metrics_path__: '/stats' } }]);
  });

  it('falls back to the first container port and /metrics', () => {
    expect(podScrapeTargets([pod('b', { ann: { 'prometheus.io/scrape': 'true' }, ip: '10.244.0.6', port: 9090 })])[0]).toEqual({
      targets: ['10.244.0.6:9090'],
      labels: { namespace: 'shop', pod: 'b', __metrics_path__: '/metrics' },
    });
  });

  it('skips pods that did not ask, have no IP yet, are not running or have no port', () => {
    expect(
      podScrapeTargets([
        pod('no-ann', { ip: '10.244.0.7', port: 80 }),
        pod('no-ip', { ann: { 'prometheus.io/scrape': 'true' }, port: 80 }),
        pod('pending', { ann: { 'prometheus.io/scrape': 'true' }, ip: '10.244.0.8', port: 80, phase: 'Pending' }),
        pod('no-port', { ann: { 'prometheus.io/scrape': 'true' }, ip: '10.244.0.9' }),
        pod('bad-port', { ann: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': 'x' }, ip: '10.244.0.9', port: 80 }),
      ]),
    ).toEqual([]);
  });
});
