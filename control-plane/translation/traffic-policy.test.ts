// TrafficPolicy translation: policies and Services in, the proxy's route and cluster policy fields out; one port, merge and
// conflict (with the outcome each policy gets), invalid policies that change nothing, missing targets, scoping.
import type { V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { RouteConfig } from '../../api/config/proxy-config.ts';
import type { TrafficPolicy, TrafficPolicySpec } from '../../api/crd/traffic-policy.ts';
import { parseGoDuration } from '../../api/crd/go-duration.ts';
import type { MeshInputs } from './mesh-inputs.ts';
import { clusterName, clustersWithEndpoints, outboundVirtualHosts, translateProxy } from './translate-proxy.ts';
import { resolveTrafficPolicies } from './traffic-policy-resolution.ts';

const svc = (ns: string, name: string, ports: number[]): V1Service => ({
  metadata: { namespace: ns, name },
  spec: { clusterIP: '10.96.0.10', ports: ports.map((port) => ({ port, name: `p${port}` })) },
});
let seq = 0;
function policy(ns: string, name: string, spec: Omit<TrafficPolicySpec, 'targetRef'> & { targetRef?: TrafficPolicySpec['targetRef'] }, created = '2026-12-01T00:00:00Z'): TrafficPolicy {
  return {
    apiVersion: 'skein.dev/v1alpha1',
    kind: 'TrafficPolicy',
    metadata: { namespace: ns, name, generation: ++seq, creationTimestamp: created },
    spec: { targetRef: { kind: 'Service', name: 'echo' }, ...spec },
  };
}
const inputs = (services: V1Service[], trafficPolicies: TrafficPolicy[]): MeshInputs => ({ services, endpointSlices: [], namespaces: [], trafficPolicies, httpRoutes: [], grpcRoutes: [] });

function view(ins: MeshInputs, ns = 'demo') {
  const t = translateProxy(ins, { namespace: ns, outboundNamespaces: null });
  const clusters = clustersWithEndpoints(t.resources);
  const vhosts = outboundVirtualHosts(t.resources);
  return {
    t,
    cluster: (port: number, name = 'echo') => clusters.find((c) => c.name === clusterName('demo', name, port)),
    route: (port: number, name = 'echo'): RouteConfig | undefined => vhosts.find((v) => v.name === clusterName('demo', name, port))?.routes[0],
  };
}

const echo = svc('demo', 'echo', [80, 9090]);
const full: Omit<TrafficPolicySpec, 'targetRef'> = {
  retries: { attempts: 3, perTryTimeout: '500ms', retryOn: ['5xx', 'retriable-status-codes'], retriableStatusCodes: [503], allowNonIdempotent: true, budget: { retryRatio: 0.5, minRetriesPerSecond: 20 } },
  timeouts: { request: '2s', streamIdle: '1m' },
  circuitBreaker: { maxConnections: 10, maxPendingRequests: 5, maxRequests: 20, maxRetries: 3 },
  outlierDetection: { consecutive5xx: 3, interval: '1s', baseEjectionTime: '5s', maxEjectionPercent: 50 },
  loadBalancer: { algorithm: 'ring-hash', hashKey: { header: 'X-User' } },
  rateLimit: { requestsPerSecond: 50 },
  fault: { headerPresent: 'X-Chaos', abort: { httpStatus: 503, percent: 10 }, delay: { duration: '100ms', percent: 5 } },
  tracing: { samplingPercent: 1 },
};

describe('go durations', () => {
  it('reads the CRD forms and refuses the rest', () => {
    expect(parseGoDuration('500ms')).toBe(500);
    expect(parseGoDuration('1m30s')).toBe(90_000);
    expect(parseGoDuration('1.5h')).toBe(5_400_000);
    expect(parseGoDuration('0s')).toBe(0);
    for (const bad of ['', '5', 's', '1x', '1s ', '-1s', '1s2']) expect(parseGoDuration(bad)).toBeNull();
  });
});

describe('TrafficPolicy translation', () => {
  it('a policy on a Service sets every port\'s route and cluster policies', () => {
    const { t, cluster, route } = view(inputs([echo], [policy('demo', 'all', full)]));
    expect(t.problems).toEqual([]);
    for (const port of [80, 9090]) {
      const r = route(port)!;
      expect(r.timeoutMs).toBe(2000);
      expect(r.streamIdleTimeoutMs).toBe(60_000);
      expect(r.retries).toMatchObject({ attempts: 2, perTryTimeoutMs: 500, retryOn: ['5xx', 'retriable-status-codes'], retriableStatusCodes: [503], retryNonIdempotent: true, budget: { retryRatio: 0.5, minRetriesPerSecond: 20, ttlMs: 10_000 } });
      expect(r.rateLimit).toEqual({ requestsPerSecond: 50, burst: 50 });
      expect(r.fault).toEqual({ header: 'x-chaos', abort: { httpStatus: 503, grpcStatus: 14, percent: 10 }, delay: { fixedDelayMs: 100, percent: 5 } });
      const c = cluster(port)!;
      expect(c.loadBalancer).toEqual({ policy: 'ring-hash', hashOn: { type: 'header', name: 'x-user' } });
      expect(c.circuitBreaker).toEqual({ maxConnections: 10, maxPendingRequests: 5, pendingTimeoutMs: 1000, maxRequests: 20, maxActiveRetries: 3 });
      expect(c.outlierDetection).toEqual({ consecutive5xxErrors: 3, consecutiveGatewayErrors: 0, intervalMs: 1000, baseEjectionTimeMs: 5000, maxEjectionTimeMs: 300_000, maxEjectionPercent: 50 });
    }
    const resolved = resolveTrafficPolicies([policy('demo', 'all', full)], [echo]);
    expect(resolved.byPort.get('demo/echo/80')!.sections.tracing).toEqual({ samplingPercent: 1 });
    expect(resolved.outcomes).toMatchObject([{ name: 'all', accepted: { status: 'True', reason: 'Accepted' }, conflicted: { status: 'False' } }]);
  });

  it('a policy naming one port changes only that port', () => {
    const { route, cluster } = view(inputs([echo], [policy('demo', 'one', { targetRef: { kind: 'Service', name: 'echo', port: 9090 }, timeouts: { request: '3s' }, circuitBreaker: { maxRequests: 7 } })]));
    expect(route(9090)!.timeoutMs).toBe(3000);
    expect(cluster(9090)!.circuitBreaker?.maxRequests).toBe(7);
    expect(route(80)!.timeoutMs).toBe(0);
    expect(cluster(80)!.circuitBreaker).toBeNull();
    expect(route(80)!.retries).toBeNull();
  });

  it('two policies on one target merge section by section: the older wins, the younger is Conflicted naming it', () => {
    const older = policy('demo', 'zz-older', { retries: { attempts: 2 }, timeouts: { request: '1s' } }, '2026-12-01T00:00:00Z');
    const younger = policy('demo', 'aa-younger', { retries: { attempts: 5 }, rateLimit: { requestsPerSecond: 9 } }, '2026-12-02T00:00:00Z');
    const { route } = view(inputs([echo], [younger, older]));
    expect(route(80)!.retries!.attempts).toBe(1); // from the older: 2 attempts = 1 retry
    expect(route(80)!.timeoutMs).toBe(1000);
    expect(route(80)!.rateLimit!.requestsPerSecond).toBe(9); // the younger's uncontested section applies
    const out = resolveTrafficPolicies([younger, older], [echo]).outcomes;
    const y = out.find((o) => o.name === 'aa-younger')!;
    expect(y.accepted.status).toBe('True');
    expect(y.conflicted).toEqual({ status: 'True', reason: 'Conflicted', message: 'retries set by demo/zz-older, which takes precedence (older, or same age and smaller name)' });
    expect(out.find((o) => o.name === 'zz-older')!.conflicted.status).toBe('False');
    // same age: the smaller name wins
    const twin = policy('demo', 'bb', { retries: { attempts: 4 } }, '2026-12-01T00:00:00Z');
    const tied = policy('demo', 'cc', { retries: { attempts: 6 } }, '2026-12-01T00:00:00Z');
    expect(view(inputs([echo], [tied, twin])).route(80)!.retries!.attempts).toBe(3);
  });

  it('a policy that lost every section is not Accepted; a port-specific one overrides without a conflict', () => {
    const older = policy('demo', 'older', { retries: { attempts: 2 } }, '2026-12-01T00:00:00Z');
    const younger = policy('demo', 'younger', { retries: { attempts: 5 } }, '2026-12-02T00:00:00Z');
    const port = policy('demo', 'port80', { targetRef: { kind: 'Service', name: 'echo', port: 80 }, retries: { attempts: 4 } }, '2026-12-03T00:00:00Z');
    const { route } = view(inputs([echo], [older, younger, port]));
    expect(route(80)!.retries!.attempts).toBe(3);
    expect(route(9090)!.retries!.attempts).toBe(1);
    const out = resolveTrafficPolicies([older, younger, port], [echo]).outcomes;
    expect(out.find((o) => o.name === 'younger')!.accepted).toMatchObject({ status: 'False', reason: 'Conflicted' });
    expect(out.find((o) => o.name === 'older')!).toMatchObject({ accepted: { status: 'True' }, conflicted: { status: 'False' } });
    expect(out.find((o) => o.name === 'port80')!).toMatchObject({ accepted: { status: 'True' }, conflicted: { status: 'False' } });
  });

  it('an invalid policy is marked Invalid with every reason and changes nothing', () => {
    const bad = policy('demo', 'bad', {
      timeouts: { request: '48h' },
      outlierDetection: { interval: '0s' },
      fault: { delay: { duration: '0ms', percent: 1 } },
      rateLimit: { requestsPerSecond: 10 },
    });
    const without = JSON.stringify(view(inputs([echo], [])).t.resources);
    expect(JSON.stringify(view(inputs([echo], [bad])).t.resources)).toBe(without);
    const [o] = resolveTrafficPolicies([bad], [echo]).outcomes;
    expect(o!.accepted.status).toBe('False');
    expect(o!.accepted.reason).toBe('Invalid');
    expect(o!.accepted.message).toBe('spec.timeouts.request: 48h is longer than the proxy allows (24h); spec.outlierDetection.interval: 0s must be at least 1ms; spec.fault.delay.duration: 0ms must be at least 1ms');
    expect(o!.generation).toBe(bad.metadata.generation);
  });

  it('a missing Service or port is TargetNotFound; a wrong kind is Invalid', () => {
    const out = resolveTrafficPolicies(
      [
        policy('demo', 'nosvc', { targetRef: { kind: 'Service', name: 'nope' }, rateLimit: { requestsPerSecond: 1 } }),
        policy('demo', 'noport', { targetRef: { kind: 'Service', name: 'echo', port: 81 }, rateLimit: { requestsPerSecond: 1 } }),
        policy('demo', 'kind', { targetRef: { kind: 'Deployment', name: 'echo' } as never }),
      ],
      [echo],
    ).outcomes;
    expect(out.map((o) => [o.name, o.accepted.reason, o.accepted.message])).toEqual([
      ['kind', 'Invalid', 'spec.targetRef: must name a core Service (group "" and kind Service)'],
      ['noport', 'TargetNotFound', 'Service demo/echo has no port 81'],
      ['nosvc', 'TargetNotFound', 'Service demo/nope not found'],
    ]);
  });

  it('a policy applies to its own namespace\'s Service, for every caller that may see that Service', () => {
    const other = svc('other', 'echo', [80]);
    const p = policy('other', 'p', { timeouts: { request: '7s' } });
    const t = translateProxy(inputs([echo, other], [p]), { namespace: 'demo', outboundNamespaces: null });
    const vh = (ns: string) => outboundVirtualHosts(t.resources).find((v) => v.name === clusterName(ns, 'echo', 80))!;
    expect(vh('other').routes[0]!.timeoutMs).toBe(7000);
    expect(vh('demo').routes[0]!.timeoutMs).toBe(0);
    // a proxy narrowed to its own namespace does not get the other Service at all
    const narrowed = translateProxy(inputs([echo, other], [p]), { namespace: 'demo', outboundNamespaces: ['demo'] });
    expect(narrowed.resources.some((r) => r.name === clusterName('other', 'echo', 80))).toBe(false);
  });

  it('sections of two policies that combine into what the proxy refuses are reported and made safe', () => {
    const a = policy('demo', 'a', { retries: { perTryTimeout: '5s' } }, '2026-12-01T00:00:00Z');
    const b = policy('demo', 'b', { timeouts: { request: '1s' } }, '2026-12-01T00:00:00Z');
    const { t, route } = view(inputs([echo], [a, b]));
    expect(route(80)!.retries!.perTryTimeoutMs).toBe(0);
    expect(route(80)!.timeoutMs).toBe(1000);
    expect(t.problems).toContainEqual({ object: 'TrafficPolicy demo/a', message: 'on demo/echo:80 its perTryTimeout exceeds the request timeout of demo/b; the per-try timeout is dropped there' });
  });
});
