// Unit tests of the demo journey's pure parts: the examples/demo/ split, sidecar counter parsing, and unwrapping the hops.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { INJECT_LABEL } from '../api/mesh/mesh-constants.ts';
import { DEMO_NAMESPACE, demoManifests, journeyHops, requestCountsByDirection, trafficRate } from './demo-journey.ts';

const repoRoot = fileURLToPath(new URL('../', import.meta.url));

describe('demoManifests', () => {
  it('deploys web, api and echo behind ClusterIP Services (and echo\'s TCP echo behind a headless one) in an injected namespace, and the traffic generator apart', () => {
    const { services, traffic } = demoManifests(repoRoot);
    const ns = services.find((o) => o.kind === 'Namespace');
    expect(ns?.metadata?.name).toBe(DEMO_NAMESPACE);
    expect(ns?.metadata?.labels?.[INJECT_LABEL]).toBe('enabled');
    const deployments = services.filter((o) => o.kind === 'Deployment').map((o) => o.metadata?.name).sort();
    expect(deployments).toEqual(['api', 'echo', 'web']);
    const svc = services.filter((o) => o.kind === 'Service') as { metadata?: { name?: string }; spec?: { clusterIP?: string } }[];
    expect(svc.map((s) => [s.metadata?.name, s.spec?.clusterIP]).sort()).toEqual([['api', undefined], ['echo', undefined], ['echo-tcp', 'None'], ['web', undefined]]);
    expect(traffic.map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual(['Deployment/loadgen']);
    for (const o of [...services, ...traffic]) if (o.kind !== 'Namespace') expect(o.metadata?.namespace).toBe(DEMO_NAMESPACE);
  });

  it('chains the callers: web calls api, api calls echo, loadgen calls web', () => {
    const { services, traffic } = demoManifests(repoRoot);
    const env = (name: string, key: string): string | undefined => {
      const d = [...services, ...traffic].find((o) => o.kind === 'Deployment' && o.metadata?.name === name) as
        | { spec: { template: { spec: { containers: { env?: { name: string; value?: string }[] }[] } } } }
        | undefined;
      return d?.spec.template.spec.containers[0]?.env?.find((e) => e.name === key)?.value;
    };
    expect(env('web', 'UPSTREAM_URL')).toBe('http://api:8080');
    expect(env('api', 'UPSTREAM_URL')).toBe('http://echo:8080');
    expect(env('loadgen', 'TARGET_URL')).toBe('http://web:8080');
    // ... and exchanges opaque TCP with echo's TCP echo, which echo serves on that port.
    expect(env('loadgen', 'TCP_TARGET')).toBe('echo-tcp:9000');
    expect(env('echo', 'TCP_PORT')).toBe('9000');
    // Light and bounded: the demo promises 2 requests per second.
    expect(trafficRate(traffic)).toBe(2);
  });
});

describe('requestCountsByDirection', () => {
  it('sums skein_requests_total by direction over every other label, ignoring other metrics', () => {
    const text = [
      '# HELP skein_requests_total HTTP and gRPC requests handled',
      '# TYPE skein_requests_total counter',
      'skein_requests_total{listener="inbound",direction="inbound",route="inbound-app",cluster="inbound-app",code="200"} 3',
      'skein_requests_total{listener="inbound",direction="inbound",route="inbound-app",cluster="inbound-app",code="502"} 1',
      'skein_requests_total{listener="outbound",direction="outbound",route="outbound-passthrough",cluster="outbound-passthrough",code="200"} 2',
      'skein_request_duration_seconds_count{listener="inbound",direction="inbound",route="r",cluster="c",code="200"} 99',
      'skein_requests_totally_different{direction="inbound"} 7',
    ].join('\n');
    expect(requestCountsByDirection(text)).toEqual({ inbound: 4, outbound: 2 });
    expect(requestCountsByDirection('')).toEqual({});
  });
});

describe('journeyHops', () => {
  it('unwraps web -> api -> echo from the nested caller answers', () => {
    const echo = JSON.stringify({ pod: 'echo-1', method: 'GET', url: '/x', headers: { 'x-request-id': 'r1' } });
    const api = JSON.stringify({ pod: 'api-1', upstream: 'http://echo:8080/x', upstreamStatus: 200, upstreamBody: `${echo}\n` });
    const web = JSON.stringify({ pod: 'web-1', upstream: 'http://api:8080/x', upstreamStatus: 200, upstreamBody: `${api}\n` });
    const hops = journeyHops(`${web}\n`);
    expect(hops.map((h) => h.pod)).toEqual(['web-1', 'api-1', 'echo-1']);
    expect(hops.map((h) => h.upstreamStatus)).toEqual([200, 200, undefined]);
    expect(hops[2]!.headers).toEqual({ 'x-request-id': 'r1' });
  });

  it('stops at a hop that failed or is not JSON', () => {
    const web = JSON.stringify({ pod: 'web-1', upstream: 'http://api:8080/', error: 'ECONNREFUSED' });
    expect(journeyHops(web).map((h) => h.pod)).toEqual(['web-1']);
    expect(journeyHops(JSON.stringify({ pod: 'web-1', upstreamStatus: 503, upstreamBody: 'no healthy upstream' })).map((h) => h.pod)).toEqual(['web-1']);
    expect(journeyHops('<html>')).toEqual([]);
  });
});
