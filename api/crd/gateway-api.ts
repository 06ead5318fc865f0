// TypeScript shape of the Gateway API kinds Skein reads (gateway.networking.k8s.io: GatewayClass, Gateway, HTTPRoute,
// GRPCRoute, ReferenceGrant; release v1.6.3): only the fields Skein uses. The CRDs themselves come from the Go module (local-cluster/gateway-api-crds.ts).
import type { KubeCondition } from './kube-condition.ts';

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';
export const GATEWAY_API_VERSION = 'v1';
/** The controller name Skein writes in route status (parents[].controllerName). */
export const SKEIN_CONTROLLER_NAME = 'skein.dev/gateway-controller';

/** ReferenceGrant is read at v1beta1 (its storage version in v1.6.3; v1 is served too). */
export const REFERENCE_GRANT_VERSION = 'v1beta1';

export interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly generation?: number;
  readonly creationTimestamp?: string;
  readonly resourceVersion?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface GatewayClass {
  readonly apiVersion?: string;
  readonly kind?: 'GatewayClass';
  readonly metadata: ObjectMeta;
  readonly spec: { readonly controllerName: string; readonly description?: string };
  readonly status?: { readonly conditions?: readonly KubeCondition[]; readonly supportedFeatures?: readonly { readonly name: string }[] };
}

export interface SecretObjectReference {
  readonly group?: string;
  readonly kind?: string;
  readonly name: string;
  readonly namespace?: string;
}

export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly { readonly key: string; readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; readonly values?: readonly string[] }[];
}

export interface GatewayListener {
  readonly name: string;
  readonly hostname?: string;
  readonly port: number;
  readonly protocol: 'HTTP' | 'HTTPS' | 'TLS' | 'TCP' | 'UDP' | string;
  readonly tls?: { readonly mode?: 'Terminate' | 'Passthrough'; readonly certificateRefs?: readonly SecretObjectReference[] };
  readonly allowedRoutes?: {
    readonly namespaces?: { readonly from?: 'All' | 'Same' | 'Selector'; readonly selector?: LabelSelector };
    readonly kinds?: readonly { readonly group?: string; readonly kind: string }[];
  };
}

export interface ListenerStatus {
  readonly name: string;
  readonly supportedKinds: readonly { readonly group?: string; readonly kind: string }[];
  readonly attachedRoutes: number;
  readonly conditions: readonly KubeCondition[];
}

export interface GatewayStatusAddress {
  readonly type?: 'IPAddress' | 'Hostname' | string;
  readonly value: string;
}

/** A reference to an object of any kind (CA certificates: a ConfigMap, `group: ""`). */
export interface ObjectReference {
  readonly group: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
}

/** How a Gateway validates its clients' certificates (spec.tls.frontend.*.validation). */
export interface FrontendTLSValidation {
  readonly caCertificateRefs: readonly ObjectReference[];
  /** Default AllowValidOnly. */
  readonly mode?: 'AllowValidOnly' | 'AllowInsecureFallback' | string;
}

/** spec.tls: client certificate validation per port (frontend), the Gateway's client certificate toward backends (backend). */
export interface GatewayTLSConfig {
  readonly frontend?: {
    readonly default: { readonly validation?: FrontendTLSValidation };
    readonly perPort?: readonly { readonly port: number; readonly tls: { readonly validation?: FrontendTLSValidation } }[];
  };
  readonly backend?: { readonly clientCertificateRef?: SecretObjectReference };
}

export interface Gateway {
  readonly apiVersion?: string;
  readonly kind?: 'Gateway';
  readonly metadata: ObjectMeta;
  readonly spec: {
    readonly gatewayClassName: string;
    readonly listeners: readonly GatewayListener[];
    readonly addresses?: readonly GatewayStatusAddress[];
    readonly tls?: GatewayTLSConfig;
  };
  readonly status?: { readonly addresses?: readonly GatewayStatusAddress[]; readonly conditions?: readonly KubeCondition[]; readonly listeners?: readonly ListenerStatus[] };
}

export interface ReferenceGrant {
  readonly apiVersion?: string;
  readonly kind?: 'ReferenceGrant';
  readonly metadata: ObjectMeta;
  readonly spec: {
    readonly from: readonly { readonly group: string; readonly kind: string; readonly namespace: string }[];
    readonly to: readonly { readonly group: string; readonly kind: string; readonly name?: string }[];
  };
}

export interface ParentReference {
  readonly group?: string;
  readonly kind?: string;
  readonly namespace?: string;
  readonly name: string;
  readonly sectionName?: string;
  readonly port?: number;
}

export interface BackendRef {
  readonly group?: string;
  readonly kind?: string;
  readonly name: string;
  readonly namespace?: string;
  readonly port?: number;
  readonly weight?: number;
  /** Filters for requests sent to this backend only (HTTPRoute and GRPCRoute backendRefs). */
  readonly filters?: readonly RouteFilter[];
}

export interface HeaderMatch {
  readonly type?: 'Exact' | 'RegularExpression';
  readonly name: string;
  readonly value: string;
}

export interface HeaderModifier {
  readonly set?: readonly { readonly name: string; readonly value: string }[];
  readonly add?: readonly { readonly name: string; readonly value: string }[];
  readonly remove?: readonly string[];
}

export interface HTTPPathModifier {
  readonly type: 'ReplaceFullPath' | 'ReplacePrefixMatch';
  readonly replaceFullPath?: string;
  readonly replacePrefixMatch?: string;
}

export interface RouteFilter {
  readonly type: 'RequestHeaderModifier' | 'ResponseHeaderModifier' | 'RequestRedirect' | 'URLRewrite' | 'RequestMirror' | 'ExtensionRef' | 'CORS' | string;
  readonly requestHeaderModifier?: HeaderModifier;
  readonly responseHeaderModifier?: HeaderModifier;
  readonly requestRedirect?: { readonly scheme?: 'http' | 'https'; readonly hostname?: string; readonly path?: HTTPPathModifier; readonly port?: number; readonly statusCode?: number };
  readonly urlRewrite?: { readonly hostname?: string; readonly path?: HTTPPathModifier };
  readonly requestMirror?: { readonly backendRef: BackendRef; readonly percent?: number; readonly fraction?: { readonly numerator: number; readonly denominator?: number } };
  readonly cors?: {
    readonly allowOrigins?: readonly string[];
    readonly allowMethods?: readonly string[];
    readonly allowHeaders?: readonly string[];
    readonly exposeHeaders?: readonly string[];
    readonly maxAge?: number;
    readonly allowCredentials?: boolean;
  };
}

export interface HTTPRouteMatch {
  readonly path?: { readonly type?: 'Exact' | 'PathPrefix' | 'RegularExpression'; readonly value?: string };
  readonly headers?: readonly HeaderMatch[];
  readonly queryParams?: readonly HeaderMatch[];
  readonly method?: string;
}

export interface HTTPRouteRule {
  readonly name?: string;
  readonly matches?: readonly HTTPRouteMatch[];
  readonly filters?: readonly RouteFilter[];
  readonly backendRefs?: readonly (BackendRef & { readonly filters?: readonly RouteFilter[] })[];
  readonly timeouts?: { readonly request?: string; readonly backendRequest?: string };
  /** Experimental channel (GEP-1731): `attempts` counts retries after the first try; `backoff` is a Gateway API Duration. */
  readonly retry?: { readonly codes?: readonly number[]; readonly attempts?: number; readonly backoff?: string };
}

export interface GRPCRouteMatch {
  readonly method?: { readonly type?: 'Exact' | 'RegularExpression'; readonly service?: string; readonly method?: string };
  readonly headers?: readonly HeaderMatch[];
}

export interface GRPCRouteRule {
  readonly name?: string;
  readonly matches?: readonly GRPCRouteMatch[];
  readonly filters?: readonly RouteFilter[];
  readonly backendRefs?: readonly (BackendRef & { readonly filters?: readonly RouteFilter[] })[];
}

export interface RouteParentStatus {
  readonly parentRef: ParentReference;
  readonly controllerName: string;
  readonly conditions: readonly KubeCondition[];
}

export interface RouteStatus {
  readonly parents?: readonly RouteParentStatus[];
}

export interface HTTPRoute {
  readonly apiVersion?: string;
  readonly kind?: 'HTTPRoute';
  readonly metadata: ObjectMeta;
  readonly spec: { readonly parentRefs?: readonly ParentReference[]; readonly hostnames?: readonly string[]; readonly rules?: readonly HTTPRouteRule[] };
  readonly status?: RouteStatus;
}

export interface GRPCRoute {
  readonly apiVersion?: string;
  readonly kind?: 'GRPCRoute';
  readonly metadata: ObjectMeta;
  readonly spec: { readonly parentRefs?: readonly ParentReference[]; readonly hostnames?: readonly string[]; readonly rules?: readonly GRPCRouteRule[] };
  readonly status?: RouteStatus;
}

/** BackendTLSPolicy (gateway.networking.k8s.io/v1): TLS from the Gateway to a Service's pods, validated as it says. */
export interface BackendTLSPolicy {
  readonly apiVersion?: string;
  readonly kind?: 'BackendTLSPolicy';
  readonly metadata: ObjectMeta;
  readonly spec: {
    readonly targetRefs: readonly { readonly group: string; readonly kind: string; readonly name: string; readonly sectionName?: string }[];
    readonly validation: {
      readonly caCertificateRefs?: readonly { readonly group: string; readonly kind: string; readonly name: string }[];
      readonly wellKnownCACertificates?: 'System' | string;
      readonly hostname: string;
      readonly subjectAltNames?: readonly { readonly type: 'Hostname' | 'URI' | string; readonly hostname?: string; readonly uri?: string }[];
    };
    readonly options?: Readonly<Record<string, string>>;
  };
  readonly status?: { readonly ancestors?: readonly PolicyAncestorStatus[] };
}

export interface PolicyAncestorStatus {
  readonly ancestorRef: ParentReference;
  readonly controllerName: string;
  readonly conditions: readonly KubeCondition[];
}
