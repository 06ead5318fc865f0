import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from './proxy-config-defaults.ts';
import { parseProxyConfig } from './parse-proxy-config.ts';

const minimal = {
  listeners: [
    { name: 'in', port: 15006, direction: 'inbound', virtualHosts: [{ name: 'v', routes: [{ name: 'app', backends: [{ cluster: 'local-app' }] }] }] },
    { name: 'out', port: 15001, direction: 'outbound', virtualHosts: [{ name: 'v', routes: [{ name: 'svc', backends: [{ cluster: 'remote' }] }] }] },
  ],
  clusters: [
    { name: 'local-app', endpoints: [{ address: '127.0.0.1', port: 8080 }] },
    { name: 'remote', endpoints: [{ address: '10.0.0.1', port: 80 }] },
  ],
};

describe('parseProxyConfig', () => {
  it('applies documented defaults', () => {
    const r = parseProxyConfig(minimal);
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    expect(r.value.mode).toBe('sidecar');
    expect(r.value.admin).toEqual({ address: '127.0.0.1', port: 15000 });
    expect(r.value.limits).toEqual(DEFAULT_LIMITS.sidecar);
    expect(r.value.drainTimeoutMs).toBe(30_000);
    const [local, remote] = r.value.clusters;
    expect(local!.loadBalancer.policy).toBe('p2c-ewma');
    // Inbound-only clusters (the local app) get the short connect timeout; others the outbound one.
    expect(local!.connectTimeoutMs).toBe(300);
    expect(remote!.connectTimeoutMs).toBe(1000);
  });

  it('uses the ingress limits in ingress mode', () => {
    const r = parseProxyConfig({ ...minimal, mode: 'ingress' });
    expect(r.ok && r.value.limits.maxRequestHeaderBytes).toBe(32_768);
  });

  it('returns every problem at once', () => {
    const r = parseProxyConfig({
      listeners: [
        { name: 'a', port: 1, tcpCluster: 'missing', virtualHosts: [{ name: 'v', routes: [{ name: 'r' }, { name: 'w', backends: [{ cluster: 'c', weight: 0 }] }] }] },
        { name: 'a', port: 1, virtualHosts: [] },
      ],
      clusters: [{ name: 'c', loadBalancer: { policy: 'ring-hash' } }],
    });
    expect(r.ok).toBe(false);
    const paths = !r.ok ? r.error.map((p) => `${p.path}: ${p.message}`) : [];
    expect(paths).toEqual(
      expect.arrayContaining([
        'clusters[0].loadBalancer.hashOn: is required for policy "ring-hash"',
        'listeners[0].tcpCluster: unknown cluster "missing"',
        'listeners[0].virtualHosts[0].routes[0]: needs backends, a directResponse or a redirect',
        'listeners[0].virtualHosts[0].routes[1].backends: at least one backend needs a weight above 0',
        'listeners[1].name: duplicate listener name "a"',
        'listeners[1].port: port 1 is already used by listeners[0]',
      ]),
    );
  });

  it('rejects header values with CR/LF and non-objects', () => {
    const bad = parseProxyConfig({ listeners: [{ name: 'a', port: 1, virtualHosts: [{ name: 'v', routes: [{ name: 'r', directResponse: { status: 200 }, requestHeaders: { set: { 'x-a': 'a\r\nb' } } }] }] }] });
    expect(bad.ok).toBe(false);
    expect(parseProxyConfig('nope').ok).toBe(false);
    expect(parseProxyConfig([]).ok).toBe(false);
  });
});
