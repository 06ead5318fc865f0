// The demo's ingress: a Gateway of class skein with an HTTP listener on 80 and an HTTPRoute to web, and the smoke check
// "request ingress -> web -> api -> echo": a request from the host to the ingress reaches web through the Gateway
// (translated by the control plane, served by the ingress proxy) and answers through the whole chain.
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { SKEIN_GATEWAY_CLASS } from '../api/crd/gateway-support.ts';
import { DEMO_APP_PORT, DEMO_CHAIN, DEMO_NAMESPACE, demoPods, journeyHops } from './demo-journey.ts';
import { poll } from './poll.ts';
import type { SmokeResult } from './smoke-summary.ts';

export const INGRESS_NAMESPACE = 'skein-system';
export const INGRESS_APP = 'skein-ingress';
export const DEMO_GATEWAY = 'demo';
export const DEMO_INGRESS_PORT = 80;

/** The Gateway and HTTPRoute that put web behind the ingress (applied once the Gateway API CRDs and manifests/ingress/ are in). */
export function demoGatewayObjects(): KubernetesObject[] {
  return [
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: DEMO_GATEWAY, namespace: DEMO_NAMESPACE },
      spec: { gatewayClassName: SKEIN_GATEWAY_CLASS, listeners: [{ name: 'http', port: DEMO_INGRESS_PORT, protocol: 'HTTP' }] },
    } as KubernetesObject,
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'web', namespace: DEMO_NAMESPACE },
      spec: { parentRefs: [{ name: DEMO_GATEWAY }], rules: [{ backendRefs: [{ name: 'web', port: DEMO_APP_PORT }] }] },
    } as KubernetesObject,
  ];
}

/** The ingress part works when the control plane accepted its GatewayClass (status written by the Lease holder). */
export async function checkGatewayClass(kc: KubeConfig, timeoutMs: number): Promise<SmokeResult> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  type Status = { status?: { conditions?: { type: string; status: string }[]; supportedFeatures?: unknown[] } };
  const accepted = await poll(async () => {
    const o = (await custom.getClusterCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', plural: 'gatewayclasses', name: SKEIN_GATEWAY_CLASS })) as Status;
    return o.status?.conditions?.some((c) => c.type === 'Accepted' && c.status === 'True') ? o : undefined;
  }, timeoutMs);
  return accepted
    ? { part: 'ingress', status: 'pass', detail: `${INGRESS_NAMESPACE}/${INGRESS_APP} available; GatewayClass ${SKEIN_GATEWAY_CLASS} Accepted by the control plane (${accepted.status?.supportedFeatures?.length ?? 0} supported features)` }
    : { part: 'ingress', status: 'fail', detail: `GatewayClass ${SKEIN_GATEWAY_CLASS} was not Accepted (is the control plane running?)` };
}

/** Where a client on this machine reaches the ingress: its ready pod's address (reachable from the host on either node). */
export async function ingressAddress(kc: KubeConfig): Promise<string | null> {
  const core = kc.makeApiClient(CoreV1Api);
  const pods = await core.listNamespacedPod({ namespace: INGRESS_NAMESPACE, labelSelector: `app.kubernetes.io/name=${INGRESS_APP}` });
  const ready = pods.items.find((p) => !p.metadata?.deletionTimestamp && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && p.status?.podIP);
  return ready ? `${ready.status!.podIP}:${DEMO_INGRESS_PORT}` : null;
}

export async function checkIngressJourney(kc: KubeConfig, timeoutMs: number): Promise<SmokeResult> {
  const part = 'request ingress -> web -> api -> echo';
  try {
    const address = await poll(() => ingressAddress(kc).then((a) => a ?? undefined), timeoutMs);
    if (!address) return { part, status: 'fail', detail: `no Ready ${INGRESS_NAMESPACE}/${INGRESS_APP} pod` };
    const pods = await demoPods(kc, DEMO_CHAIN);
    const want = DEMO_CHAIN.map((a) => pods.get(a)?.metadata?.name ?? a);
    const url = `http://${address}/smoke-ingress`;
    let lastProblem = 'no answer';
    // The Gateway reaches the ingress through the control plane's push: retry until a deadline.
    const hops = await poll(async () => {
      const r = await fetch(url, { headers: { host: 'demo.skein.test' }, signal: AbortSignal.timeout(10_000) }).catch((e: Error) => {
        lastProblem = `${url}: ${String(e.cause ?? e.message)}`;
        return undefined;
      });
      if (!r) return undefined;
      const body = await r.text();
      const h = journeyHops(body);
      if (r.status === 200 && h.length === want.length && h.every((x, i) => x.pod === want[i])) return h;
      lastProblem = `${url} answered ${r.status}: ${body.slice(0, 300).replaceAll('\n', ' ')}`;
      return undefined;
    }, timeoutMs);
    if (!hops) return { part, status: 'fail', detail: lastProblem };
    return { part, status: 'pass', detail: `http://${address}/ answered through ${hops.map((h) => h.pod).join(' -> ')} (Gateway ${DEMO_NAMESPACE}/${DEMO_GATEWAY})` };
  } catch (e) {
    return { part, status: 'fail', detail: (e as Error).message.split('\n')[0] ?? 'error' };
  }
}
