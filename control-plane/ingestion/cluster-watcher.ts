// Ingestion: informers over Services, EndpointSlices, Namespaces, Pods, the custom resources (TrafficPolicy,
// AuthorizationPolicy, MeshTLSPolicy, and Gateway API GatewayClass, Gateway, HTTPRoute, GRPCRoute, ReferenceGrant), TLS
// Secrets, ConfigMaps and Ingresses; their callbacks only enqueue a change notice, and translation reads a snapshot of the caches when it runs.
import * as k8s from '@kubernetes/client-node';
import { AUTHORIZATION_POLICY_GROUP, AUTHORIZATION_POLICY_PLURAL, AUTHORIZATION_POLICY_VERSION, type AuthorizationPolicy } from '../../api/crd/authorization-policy.ts';
import { MESH_TLS_POLICY_GROUP, MESH_TLS_POLICY_PLURAL, MESH_TLS_POLICY_VERSION, type MeshTLSPolicy } from '../../api/crd/mesh-tls-policy.ts';
import {
  GATEWAY_API_GROUP,
  type BackendTLSPolicy,
  GATEWAY_API_VERSION,
  REFERENCE_GRANT_VERSION,
  type Gateway,
  type GatewayClass,
  type GRPCRoute,
  type HTTPRoute,
  type ReferenceGrant,
} from '../../api/crd/gateway-api.ts';
import { TLS_SECRET_TYPE } from '../translation/gateway-resolution.ts';
import { MESH_IDENTITY_ANNOTATION } from '../../api/mesh/mesh-constants.ts';
import { spiffeId } from '../../api/proto/identity.ts';
import { TRAFFIC_POLICY_GROUP, TRAFFIC_POLICY_PLURAL, TRAFFIC_POLICY_VERSION, type TrafficPolicy } from '../../api/crd/traffic-policy.ts';
import type { MeshInputs } from '../translation/mesh-inputs.ts';
import { RestartingInformer, type RestartingInformerOptions } from './restarting-informer.ts';

export interface ClusterWatcherOptions {
  /** Called on any change (never awaited; debounce downstream). */
  readonly onChange: (resource: string) => void;
  readonly log?: RestartingInformerOptions['log'];
  /** The identity service's trust domain; null: no identity service, so no endpoint is given an identity. */
  readonly trustDomain?: string | null;
  /** Told of every watch event (informer metrics). */
  readonly observer?: RestartingInformerOptions['observer'];
}

export class ClusterWatcher {
  readonly services: RestartingInformer<k8s.V1Service>;
  readonly endpointSlices: RestartingInformer<k8s.V1EndpointSlice>;
  readonly namespaces: RestartingInformer<k8s.V1Namespace>;
  readonly pods: RestartingInformer<k8s.V1Pod>;
  /** Custom resources: their CRD may be missing (the informer keeps retrying), so start() does not wait for them. */
  readonly trafficPolicies: RestartingInformer<TrafficPolicy & k8s.KubernetesObject>;
  readonly authorizationPolicies: RestartingInformer<AuthorizationPolicy & k8s.KubernetesObject>;
  readonly meshTlsPolicies: RestartingInformer<MeshTLSPolicy & k8s.KubernetesObject>;
  /** Gateway API routes (GAMMA when their parent is a Service); the Gateway API CRDs are optional. */
  readonly httpRoutes: RestartingInformer<HTTPRoute & k8s.KubernetesObject>;
  readonly grpcRoutes: RestartingInformer<GRPCRoute & k8s.KubernetesObject>;
  /** The edge: Gateway API Gateways and their classes, ReferenceGrants; TLS Secrets (that type only); Ingresses. */
  readonly gatewayClasses: RestartingInformer<GatewayClass & k8s.KubernetesObject>;
  readonly gateways: RestartingInformer<Gateway & k8s.KubernetesObject>;
  readonly referenceGrants: RestartingInformer<ReferenceGrant & k8s.KubernetesObject>;
  readonly tlsSecrets: RestartingInformer<k8s.V1Secret>;
  /** ConfigMaps: the CA certificates of Gateways' client certificate validation (spec.tls.frontend). */
  readonly configMaps: RestartingInformer<k8s.V1ConfigMap>;
  readonly backendTlsPolicies: RestartingInformer<BackendTLSPolicy & k8s.KubernetesObject>;
  readonly ingresses: RestartingInformer<k8s.V1Ingress>;

  readonly #trustDomain: string | null;

  constructor(kc: k8s.KubeConfig, opts: ClusterWatcherOptions) {
    this.#trustDomain = opts.trustDomain ?? null;
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
    const wrap = <T extends k8s.KubernetesObject>(name: string, informer: k8s.Informer<T> & k8s.ObjectCache<T>) =>
      new RestartingInformer(informer, { name, onChange: () => opts.onChange(name), log: opts.log, observer: opts.observer });
    this.services = wrap('services', k8s.makeInformer(kc, '/api/v1/services', () => core.listServiceForAllNamespaces()));
    this.endpointSlices = wrap('endpointslices', k8s.makeInformer(kc, '/apis/discovery.k8s.io/v1/endpointslices', () => discovery.listEndpointSliceForAllNamespaces()));
    this.namespaces = wrap('namespaces', k8s.makeInformer(kc, '/api/v1/namespaces', () => core.listNamespace()));
    this.pods = wrap('pods', k8s.makeInformer(kc, '/api/v1/pods', () => core.listPodForAllNamespaces()));
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const customInformer = <T extends k8s.KubernetesObject>(group: string, version: string, plural: string) =>
      k8s.makeInformer<T>(kc, `/apis/${group}/${version}/${plural}`, () => custom.listClusterCustomObject({ group, version, plural }) as Promise<k8s.KubernetesListObject<T>>);
    this.trafficPolicies = wrap('trafficpolicies', customInformer(TRAFFIC_POLICY_GROUP, TRAFFIC_POLICY_VERSION, TRAFFIC_POLICY_PLURAL));
    this.authorizationPolicies = wrap('authorizationpolicies', customInformer(AUTHORIZATION_POLICY_GROUP, AUTHORIZATION_POLICY_VERSION, AUTHORIZATION_POLICY_PLURAL));
    this.meshTlsPolicies = wrap('meshtlspolicies', customInformer(MESH_TLS_POLICY_GROUP, MESH_TLS_POLICY_VERSION, MESH_TLS_POLICY_PLURAL));
    this.httpRoutes = wrap('httproutes', customInformer(GATEWAY_API_GROUP, GATEWAY_API_VERSION, 'httproutes'));
    this.grpcRoutes = wrap('grpcroutes', customInformer(GATEWAY_API_GROUP, GATEWAY_API_VERSION, 'grpcroutes'));
    this.gatewayClasses = wrap('gatewayclasses', customInformer(GATEWAY_API_GROUP, GATEWAY_API_VERSION, 'gatewayclasses'));
    this.gateways = wrap('gateways', customInformer(GATEWAY_API_GROUP, GATEWAY_API_VERSION, 'gateways'));
    this.backendTlsPolicies = wrap('backendtlspolicies', customInformer(GATEWAY_API_GROUP, GATEWAY_API_VERSION, 'backendtlspolicies'));
    this.referenceGrants = wrap('referencegrants', customInformer(GATEWAY_API_GROUP, REFERENCE_GRANT_VERSION, 'referencegrants'));
    // Only Secrets of type kubernetes.io/tls are ever read (a field selector: the others never reach this process).
    const tlsOnly = `type=${TLS_SECRET_TYPE}`;
    this.tlsSecrets = wrap(
      'secrets',
      new k8s.ListWatch<k8s.V1Secret>('/api/v1/secrets', new k8s.Watch(kc), () => core.listSecretForAllNamespaces({ fieldSelector: tlsOnly }), false, undefined, tlsOnly),
    );
    // Every ConfigMap is listed (a Gateway may name any as its CA bundle); the grant comes with the ingress (manifests/ingress/rbac.yaml).
    this.configMaps = wrap('configmaps', k8s.makeInformer(kc, '/api/v1/configmaps', () => core.listConfigMapForAllNamespaces()));
    const networking = kc.makeApiClient(k8s.NetworkingV1Api);
    this.ingresses = wrap('ingresses', k8s.makeInformer(kc, '/apis/networking.k8s.io/v1/ingresses', () => networking.listIngressForAllNamespaces()));
  }

  /** Every informer (for metrics read at scrape time). */
  all(): readonly RestartingInformer<k8s.KubernetesObject>[] {
    return [this.services, this.endpointSlices, this.namespaces, this.pods, ...this.#optional()] as RestartingInformer<k8s.KubernetesObject>[];
  }

  /** Informers readiness does not wait for: CRDs that may be missing, and what only the ingress needs. */
  readonly #optional = (): RestartingInformer<k8s.KubernetesObject>[] => [
    this.trafficPolicies,
    this.authorizationPolicies,
    this.meshTlsPolicies,
    this.httpRoutes,
    this.grpcRoutes,
    this.gatewayClasses,
    this.gateways,
    this.referenceGrants,
    this.tlsSecrets,
    this.configMaps,
    this.backendTlsPolicies,
    this.ingresses,
  ];

  /** Resolves once every informer listed once. */
  async start(): Promise<void> {
    for (const i of this.#optional()) void i.start();
    await Promise.all([this.services.start(), this.endpointSlices.start(), this.namespaces.start(), this.pods.start()]);
  }

  /** What translation reads: the caches as they are now. */
  inputs(): MeshInputs {
    return {
      services: this.services.list(),
      endpointSlices: this.endpointSlices.list(),
      namespaces: this.namespaces.list(),
      trafficPolicies: this.trafficPolicies.list(),
      httpRoutes: this.httpRoutes.list(),
      grpcRoutes: this.grpcRoutes.list(),
      authorizationPolicies: this.authorizationPolicies.list(),
      meshTlsPolicies: this.meshTlsPolicies.list(),
      pods: this.pods.list(),
      gatewayClasses: this.gatewayClasses.list(),
      gateways: this.gateways.list(),
      referenceGrants: this.referenceGrants.list(),
      // The field selector already keeps other types out; checked again in case a watch ever delivers one.
      tlsSecrets: this.tlsSecrets.list().filter((x) => x.type === TLS_SECRET_TYPE),
      configMaps: this.configMaps.list(),
      backendTlsPolicies: this.backendTlsPolicies.list(),
      ingresses: this.ingresses.list(),
      ...(this.#trustDomain ? { endpointIdentities: endpointIdentities(this.pods.list(), this.#trustDomain) } : {}),
    };
  }

  pod(namespace: string, name: string): k8s.V1Pod | undefined {
    return this.pods.get(name, namespace);
  }

  async stop(): Promise<void> {
    await Promise.all([this.services.stop(), this.endpointSlices.stop(), this.namespaces.stop(), this.pods.stop(), ...this.#optional().map((i) => i.stop())]);
  }
}

/** `namespace/pod` -> SPIFFE id of every pod whose sidecar was given the mesh trust anchors (so it holds a certificate). */
export function endpointIdentities(pods: readonly k8s.V1Pod[], trustDomain: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of pods) {
    const ns = p.metadata?.namespace;
    const name = p.metadata?.name;
    if (!ns || !name || p.metadata?.annotations?.[MESH_IDENTITY_ANNOTATION] !== 'enabled') continue;
    out.set(`${ns}/${name}`, spiffeId(trustDomain, ns, p.spec?.serviceAccountName || 'default'));
  }
  return out;
}
