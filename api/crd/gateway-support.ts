// What Skein's ingress claims of the Gateway API, in one place: the GatewayClass name and controller, and the features
// (sigs.k8s.io/gateway-api/pkg/features names, v1.6.3) written to GatewayClass status.supportedFeatures and given to the
// conformance suite. Claim a feature only when the translation and the proxy implement it (docs/gateway.md).
import { SKEIN_CONTROLLER_NAME } from './gateway-api.ts';

/** The GatewayClass manifests/ingress/ installs. */
export const SKEIN_GATEWAY_CLASS = 'skein';
export { SKEIN_CONTROLLER_NAME };

/**
 * Supported features, sorted by name (the API requires status.supportedFeatures in that order): exactly what
 * conformance/claims.yaml claims for GATEWAY-HTTP and GATEWAY-GRPC, each run and passing (conformance/reports/; a unit test
 * keeps the two equal). What is not claimed, and why: docs/conformance.md.
 */
export const GATEWAY_SUPPORTED_FEATURES: readonly string[] = [
  // Core of the GATEWAY-HTTP and GATEWAY-GRPC profiles.
  'Gateway',
  'GRPCRoute',
  'HTTPRoute',
  'ReferenceGrant',
  // Extended: the Gateway.
  'GatewayAddressEmpty',
  'GatewayHTTPListenerIsolation',
  'GatewayHTTPSListenerDetectMisdirectedRequests',
  'GatewayPort8080',
  // Extended: TLS at the edge (client certificates, BackendTLSPolicy; docs/gateway.md).
  'BackendTLSPolicy',
  'BackendTLSPolicySANValidation',
  'GatewayBackendClientCertificate',
  'GatewayFrontendClientCertificateValidation',
  'GatewayFrontendClientCertificateValidationInsecureFallback',
  // Extended: routes.
  'GRPCRouteNamedRouteRule',
  'HTTPRoute303RedirectStatusCode',
  'HTTPRoute307RedirectStatusCode',
  'HTTPRoute308RedirectStatusCode',
  'HTTPRouteBackendProtocolH2C',
  'HTTPRouteBackendProtocolWebSocket',
  'HTTPRouteBackendRequestHeaderModification',
  'HTTPRouteBackendTimeout',
  'HTTPRouteCORS',
  'HTTPRouteDestinationPortMatching',
  'HTTPRouteHostRewrite',
  'HTTPRouteMethodMatching',
  'HTTPRouteNamedRouteRule',
  'HTTPRouteParentRefPort',
  'HTTPRoutePathRedirect',
  'HTTPRoutePathRewrite',
  'HTTPRoutePortRedirect',
  'HTTPRouteQueryParamMatching',
  'HTTPRouteRequestMirror',
  'HTTPRouteRequestMultipleMirrors',
  'HTTPRouteRequestPercentageMirror',
  'HTTPRouteRequestTimeout',
  'HTTPRouteResponseHeaderModification',
  'HTTPRouteRetry',
  'HTTPRouteRetryBackendTimeout',
  'HTTPRouteRetryConnectionError',
  'HTTPRouteSchemeRedirect',
].sort();
