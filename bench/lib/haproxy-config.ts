// Writes HAProxy configurations for the references: a static upstream, a single proxy, and a TLS sidecar pair.

/** `extraGlobal`: more lines for the global section, each indented by two spaces and ending in a newline. */
const globalSection = (nbthread: number, extraGlobal = ''): string => `global
  nbthread ${nbthread}
  maxconn 4000
  tune.ssl.default-dh-param 2048
${extraGlobal}defaults
  mode http
  timeout connect 1s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
  option http-keep-alive
`;

/** The upstream server for HTTP tests: answers every request with a fixed 1 KiB body, on h1 and (second port) h2c. */
export function upstreamConfig(h1Port: number, h2Port: number, bodyBytes: number, nbthread: number): string {
  const body = 'x'.repeat(bodyBytes);
  return `${globalSection(nbthread)}
frontend upstream_h1
  bind 127.0.0.1:${h1Port}
  http-request return status 200 content-type text/plain string "${body}"
frontend upstream_h2
  bind 127.0.0.1:${h2Port} proto h2
  http-request return status 200 content-type text/plain string "${body}"
`;
}

/** One HAProxy (nbthread 1) forwarding HTTP/1.1 (and h2c on the second port) to the upstream, keep-alive, connection reuse. */
export function singleProxyConfig(h1Port: number, h2Port: number, upH1: number, upH2: number): string {
  return `${globalSection(1)}
frontend fe_h1
  bind 127.0.0.1:${h1Port}
  default_backend be_h1
frontend fe_h2
  bind 127.0.0.1:${h2Port} proto h2
  default_backend be_h2
backend be_h1
  http-reuse always
  server up 127.0.0.1:${upH1}
backend be_h2
  http-reuse always
  server up 127.0.0.1:${upH2} proto h2
`;
}

export interface PairPorts {
  /** Where the client connects (outbound HAProxy), HTTP/1.1 and h2c (gRPC). */
  readonly outH1: number;
  readonly outGrpc: number;
  /** TLS listeners of the inbound HAProxy. */
  readonly inTlsH1: number;
  readonly inTlsGrpc: number;
  /** The app behind the inbound proxy. */
  readonly appH1: number;
  readonly appGrpc: number;
}

/**
 * The reference sidecar pair: outbound HAProxy (client side) -> TLS -> inbound HAProxy (server side) -> app.
 * Each nbthread 1. The hop between them is TLS 1.3 with client certificates (mTLS), ALPN http/1.1 or h2 (gRPC).
 */
export function pairOutboundConfig(p: PairPorts, certWithKeyPem: string, caPem: string): string {
  const tls = `ssl verify required ca-file ${caPem} crt ${certWithKeyPem} sni str(inbound.bench)`;
  return `${globalSection(1)}
frontend outbound_h1
  bind 127.0.0.1:${p.outH1}
  default_backend to_inbound_h1
frontend outbound_grpc
  bind 127.0.0.1:${p.outGrpc} proto h2
  default_backend to_inbound_grpc
backend to_inbound_h1
  http-reuse always
  server inbound 127.0.0.1:${p.inTlsH1} ${tls} alpn http/1.1
backend to_inbound_grpc
  http-reuse always
  server inbound 127.0.0.1:${p.inTlsGrpc} ${tls} alpn h2
`;
}

export function pairInboundConfig(p: PairPorts, certWithKeyPem: string, caPem: string): string {
  const tls = `ssl crt ${certWithKeyPem} ca-file ${caPem} verify required`;
  return `${globalSection(1)}
frontend inbound_h1
  bind 127.0.0.1:${p.inTlsH1} ${tls} alpn http/1.1
  default_backend app_h1
frontend inbound_grpc
  bind 127.0.0.1:${p.inTlsGrpc} ${tls} alpn h2
  default_backend app_grpc
backend app_h1
  http-reuse always
  server app 127.0.0.1:${p.appH1}
backend app_grpc
  http-reuse always
  server app 127.0.0.1:${p.appGrpc} proto h2
`;
}

export interface TlsTerminationSpec {
  /** The HTTPS port clients connect to. */
  readonly port: number;
  /** The plain HTTP/1.1 upstream on loopback. */
  readonly upstreamPort: number;
  /** Leaf certificate followed by its key (HAProxy's `crt`). */
  readonly certWithKeyPem: string;
  readonly nbthread: number;
  /** The TLS 1.3 suites and TLS 1.2 ciphers to offer, colon-separated, server order (the ingress's own list). */
  readonly tls13Suites: string;
  readonly tls12Ciphers: string;
}

/**
 * HAProxy terminating TLS for one route in front of the upstream, as the ingress does: TLS 1.2+ with the ingress's AEAD
 * suites in the same (server) order, ALPN h2 and http/1.1, keep-alive to the upstream, and the edge's forwarding headers
 * (`x-forwarded-for` appended, `x-forwarded-proto: https`, a fresh `x-request-id`), so both do the same work per request.
 */
export function tlsTerminationConfig(s: TlsTerminationSpec): string {
  const tlsGlobal = `  ssl-default-bind-ciphersuites ${s.tls13Suites}\n  ssl-default-bind-ciphers ${s.tls12Ciphers}\n  ssl-default-bind-options ssl-min-ver TLSv1.2\n`;
  return `${globalSection(s.nbthread, tlsGlobal)}
frontend edge_https
  bind 127.0.0.1:${s.port} ssl crt ${s.certWithKeyPem} alpn h2,http/1.1
  option forwardfor
  http-request set-header x-forwarded-proto https
  http-request set-header x-request-id %[uuid]
  default_backend edge_upstream
backend edge_upstream
  http-reuse always
  server up 127.0.0.1:${s.upstreamPort}
`;
}
