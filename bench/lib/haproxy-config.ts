// Writes HAProxy configurations for the references: a static upstream, a single proxy, and a TLS sidecar pair.

const globalSection = (nbthread: number): string => `global
  nbthread ${nbthread}
  maxconn 4000
  tune.ssl.default-dh-param 2048
defaults
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
