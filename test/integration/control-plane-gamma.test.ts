// GAMMA on a real API server: the Gateway API CRDs installed from the Go module (v1.6.3, cached outside the repo), an
// HTTPRoute and a GRPCRoute whose parent is a Service reach a subscribed proxy as routes, and the Lease holder writes
// their status (Accepted, ResolvedRefs with its reason) under Skein's controllerName.
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VirtualHostConfig } from '../../api/config/proxy-config.ts';
import { SKEIN_CONTROLLER_NAME, type RouteStatus } from '../../api/crd/gateway-api.ts';
import { startControlPlane, type RunningControlPlane } from '../../control-plane/control-plane-runtime.ts';
import { clusterName } from '../../control-plane/translation/translate-proxy.ts';
import { applyCrds, waitCrdsEstablished } from '../../local-cluster/apply-crds.ts';
import { startLocalCluster, type LocalClusterDetails } from '../../local-cluster/cluster.ts';
import { gatewayApiCrdTexts } from '../../local-cluster/gateway-api-crds.ts';
import { ControlPlaneClient } from '../../proxy/control/control-plane-client.ts';
import { eventually } from '../support/until.ts';

const NS = 'cp-gamma';

describe('GAMMA routes through the control plane on a real API server', () => {
  let cluster: LocalClusterDetails;
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  let custom: k8s.CustomObjectsApi;
  let cp: RunningControlPlane;
  const gw = { group: 'gateway.networking.k8s.io', version: 'v1', namespace: NS };

  beforeAll(async () => {
    cluster = await startLocalCluster({ withNodeAgent: false, log: () => {} });
    kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    core = kc.makeApiClient(k8s.CoreV1Api);
    custom = kc.makeApiClient(k8s.CustomObjectsApi);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await core.createNamespace({ body: { metadata: { name: 'skein-system' } } });
    const names = await applyCrds(kc, await gatewayApiCrdTexts(), 'skein-test');
    expect(names).toEqual(expect.arrayContaining(['httproutes.gateway.networking.k8s.io', 'grpcroutes.gateway.networking.k8s.io']));
    await waitCrdsEstablished(kc, names);
    cp = await startControlPlane({
      kubeConfig: kc,
      replica: 'cp-gamma',
      grpcAddress: '127.0.0.1',
      grpcPort: 0,
      debugAddress: '127.0.0.1',
      debugPort: 0,
      log: () => {},
      lease: { durationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 250 },
    });
  }, 300_000);

  afterAll(async () => {
    await cp?.stop();
    await cluster?.stop();
  });

  it('an HTTPRoute and a GRPCRoute on Services: routes pushed to a proxy, status written with reasons', async () => {
    for (const [name, port] of [['echo', 80], ['echo-v1', 8080], ['echo-v2', 8080], ['greeter', 9090]] as const) {
      await core.createNamespacedService({ namespace: NS, body: { metadata: { name }, spec: { ports: [{ name: name === 'greeter' ? 'grpc' : 'http', port }] } } });
    }
    await custom.createNamespacedCustomObject({
      ...gw,
      plural: 'httproutes',
      body: {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: 'echo-split' },
        spec: {
          parentRefs: [{ group: '', kind: 'Service', name: 'echo', port: 80 }],
          rules: [
            {
              matches: [{ path: { type: 'PathPrefix', value: '/api' }, headers: [{ name: 'x-canary', value: 'yes' }] }],
              filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-route', value: 'canary' }] } }],
              backendRefs: [{ name: 'echo-v2', port: 8080 }, { name: 'missing', port: 8080 }],
            },
            { backendRefs: [{ name: 'echo-v1', port: 8080, weight: 90 }, { name: 'echo-v2', port: 8080, weight: 10 }], timeouts: { request: '2s' } },
          ],
        },
      },
    });
    await custom.createNamespacedCustomObject({
      ...gw,
      plural: 'grpcroutes',
      body: {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'GRPCRoute',
        metadata: { name: 'greeter' },
        spec: { parentRefs: [{ group: '', kind: 'Service', name: 'greeter', port: 9090 }], rules: [{ matches: [{ method: { service: 'helloworld.Greeter', method: 'SayHello' } }], backendRefs: [{ name: 'greeter', port: 9090 }] }] },
      },
    });

    const held = new Map<string, unknown>();
    const client = new ControlPlaneClient({
      address: `127.0.0.1:${cp.grpcPort}`,
      hello: { proxyId: '', podName: 'web-1', podNamespace: NS, podIp: '10.244.0.30', serviceAccount: 'default', token: '', mode: 'sidecar', proxyVersion: 'test' },
      apply: (c) => {
        for (const r of c.removals) held.delete(`${r.type}/${r.name}`);
        for (const r of c.upserts) held.set(`${r.type}/${r.name}`, r.body);
        return { ok: true };
      },
    });
    client.start();
    try {
      const vhost = (name: string) => held.get(`virtual-host/${name}`) as VirtualHostConfig | undefined;
      const echo = await eventually('the HTTPRoute in the pushed virtual host', () => {
        const vh = vhost(clusterName(NS, 'echo', 80));
        return vh && vh.routes.length === 2 && vh;
      });
      expect(echo.routes[0]).toMatchObject({
        name: `httproute/${NS}/echo-split/rule0/match0`,
        match: { path: { type: 'prefix', value: '/api' }, headers: [{ name: 'x-canary', type: 'exact', value: 'yes' }] },
        backends: [{ cluster: clusterName(NS, 'echo-v2', 8080), weight: 1 }],
        requestHeaders: { set: { 'x-route': 'canary' } },
      });
      expect(echo.routes[1]).toMatchObject({ backends: [{ cluster: clusterName(NS, 'echo-v1', 8080), weight: 90 }, { cluster: clusterName(NS, 'echo-v2', 8080), weight: 10 }], timeoutMs: 2000 });
      const greeter = await eventually('the GRPCRoute in the pushed virtual host', () => {
        const vh = vhost(clusterName(NS, 'greeter', 9090));
        return vh && vh.routes[0]!.name !== 'default' && vh;
      });
      expect(greeter.routes.map((r) => r.match.path)).toEqual([{ type: 'exact', value: '/helloworld.Greeter/SayHello' }]);
    } finally {
      client.stop();
    }

    const parentsOf = async (plural: string, name: string) => ((await custom.getNamespacedCustomObject({ ...gw, plural, name })) as { status?: RouteStatus }).status?.parents ?? [];
    const http = await eventually('HTTPRoute status', async () => {
      const p = await parentsOf('httproutes', 'echo-split');
      return p.length === 1 && p;
    });
    expect(http[0]!.controllerName).toBe(SKEIN_CONTROLLER_NAME);
    expect(http[0]!.parentRef).toMatchObject({ kind: 'Service', name: 'echo', port: 80 });
    expect(http[0]!.conditions.map((c) => [c.type, c.status, c.reason, c.observedGeneration])).toEqual([
      ['Accepted', 'True', 'Accepted', 1],
      ['ResolvedRefs', 'False', 'BackendNotFound', 1],
    ]);
    const grpc = await eventually('GRPCRoute status', async () => {
      const p = await parentsOf('grpcroutes', 'greeter');
      return p.length === 1 && p;
    });
    expect(grpc[0]!.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Accepted', 'True', 'Accepted'],
      ['ResolvedRefs', 'True', 'ResolvedRefs'],
    ]);
  });
});
