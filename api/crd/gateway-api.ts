// TypeScript shape of the Gateway API route kinds the mesh reads (gateway.networking.k8s.io/v1 HTTPRoute and GRPCRoute,
// release v1.6.3): only the fields Skein uses. The CRDs themselves come from the Go module (local-cluster/gateway-api-crds.ts).
import type { KubeCondition } from './kube-condition.ts';

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';
export const GATEWAY_API_VERSION = 'v1';
/** The controller name Skein writes in route status (parents[].controllerName). */
export const SKEIN_CONTROLLER_NAME = 'skein.dev/gateway-controller';

export interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly generation?: number;
  readonly creationTimestamp?: string;
  readonly resourceVersion?: string;
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
