// networking.k8s.io/v1 Ingress objects of IngressClass `skein`, restated (pure) as the Gateway API objects they mean: one
// Gateway per Ingress (HTTP on 80, HTTPS on 443 with its TLS Secrets) and one HTTPRoute per rule, so that the ingress
// is translated by the one Gateway translation (hostnames, path precedence, backends, certificates by SNI).
import type { V1Ingress, V1IngressBackend, V1Service } from '@kubernetes/client-node';
import { GATEWAY_API_GROUP, SKEIN_CONTROLLER_NAME, type BackendRef, type Gateway, type GatewayClass, type HTTPRoute, type HTTPRouteRule } from '../../api/crd/gateway-api.ts';

/** The IngressClass whose Ingress objects Skein's ingress serves (spec.ingressClassName, or the legacy annotation). */
export const INGRESS_CLASS_NAME = 'skein';
export const INGRESS_CONTROLLER_NAME = 'skein.dev/ingress-controller';
/** The class of the Gateways that stand for Ingress objects: never a real object (a name Kubernetes cannot hold). */
export const INGRESS_GATEWAY_CLASS = 'skein.dev:ingress';

export interface IngressAsGateway {
  readonly gatewayClass: GatewayClass;
  readonly gateways: readonly Gateway[];
  readonly httpRoutes: readonly HTTPRoute[];
}

export function isSkeinIngress(i: V1Ingress): boolean {
  return (i.spec?.ingressClassName ?? i.metadata?.annotations?.['kubernetes.io/ingress.class']) === INGRESS_CLASS_NAME;
}

function backendRef(ns: string, b: V1IngressBackend | undefined, services: ReadonlyMap<string, V1Service>): BackendRef | null {
  const svc = b?.service;
  if (!svc) return null;
  let port = svc.port?.number;
  if (port === undefined && svc.port?.name) port = services.get(`${ns}/${svc.name}`)?.spec?.ports?.find((p) => p.name === svc.port!.name)?.port;
  // An unresolved port name stays unset: the Gateway translation reports BackendNotFound for it.
  return port === undefined ? { name: svc.name } : { name: svc.name, port };
}

export function ingressesAsGateways(ingresses: readonly V1Ingress[], services: readonly V1Service[]): IngressAsGateway {
  const svcByKey = new Map(services.map((s) => [`${s.metadata?.namespace}/${s.metadata?.name}`, s]));
  const gateways: Gateway[] = [];
  const httpRoutes: HTTPRoute[] = [];
  for (const ing of ingresses) {
    if (!isSkeinIngress(ing)) continue;
    const ns = ing.metadata?.namespace ?? '';
    const name = ing.metadata?.name ?? '';
    const gwName = `ingress:${name}`;
    const created = ing.metadata?.creationTimestamp instanceof Date ? ing.metadata.creationTimestamp.toISOString() : (ing.metadata?.creationTimestamp as string | undefined);
    const secrets = [...new Set((ing.spec?.tls ?? []).map((t) => t.secretName).filter((s): s is string => !!s))];
    gateways.push({
      metadata: { namespace: ns, name: gwName, generation: ing.metadata?.generation ?? 0, annotations: ing.metadata?.annotations ?? {} },
      spec: {
        gatewayClassName: INGRESS_GATEWAY_CLASS,
        listeners: [
          { name: 'http', port: 80, protocol: 'HTTP' },
          ...(secrets.length > 0 ? [{ name: 'https', port: 443, protocol: 'HTTPS', tls: { mode: 'Terminate' as const, certificateRefs: secrets.map((s) => ({ name: s })) } }] : []),
        ],
      },
    });
    const parentRefs = [{ group: GATEWAY_API_GROUP, kind: 'Gateway', name: gwName }];
    const meta = (suffix: string) => ({ namespace: ns, name: `${name}/${suffix}`, generation: ing.metadata?.generation ?? 0, ...(created ? { creationTimestamp: created } : {}), annotations: ing.metadata?.annotations ?? {} });
    (ing.spec?.rules ?? []).forEach((rule, ri) => {
      const rules: HTTPRouteRule[] = (rule.http?.paths ?? []).map((p) => {
        const b = backendRef(ns, p.backend, svcByKey);
        return {
          matches: [{ path: { type: p.pathType === 'Exact' ? 'Exact' : 'PathPrefix', value: p.path || '/' } }],
          backendRefs: b ? [b] : [],
        };
      });
      httpRoutes.push({ metadata: meta(`rule${ri}`), spec: { parentRefs, ...(rule.host ? { hostnames: [rule.host] } : {}), rules } });
    });
    const def = backendRef(ns, ing.spec?.defaultBackend, svcByKey);
    if (def) httpRoutes.push({ metadata: meta('default'), spec: { parentRefs, rules: [{ backendRefs: [def] }] } });
  }
  return {
    gatewayClass: { metadata: { name: INGRESS_GATEWAY_CLASS }, spec: { controllerName: SKEIN_CONTROLLER_NAME } },
    gateways,
    httpRoutes,
  };
}
