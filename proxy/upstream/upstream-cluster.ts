// One upstream cluster at run time: its endpoints' state, the balancer over them and a connection pool per endpoint.
import type { ClusterConfig, LimitsConfig } from '../../api/config/proxy-config.ts';
import { EndpointState } from '../balance/endpoint-state.ts';
import { createLoadBalancer, type LoadBalancer, type PickContext } from '../balance/load-balancer.ts';
import { meshEndpointIdentity, meshTcpTransport, meshTransport } from '../identity/mesh-transport.ts';
import type { WorkloadTls } from '../identity/workload-tls.ts';
import { PLAIN, poolKey, type PlainOrMeshTransport, type Transport } from './connector.ts';
import type { OriginatedTls } from './upstream-tls.ts';
import { Http1Pool } from './http1-pool.ts';
import { Http2Pool } from './http2-pool.ts';
import { NodeHttp2Pool } from './node-http2-pool.ts';

export interface EndpointHandle {
  readonly state: EndpointState;
  /** Every input of its pools (connector key plus pool limits): a handle is reused only when this is unchanged. */
  readonly poolKey: string;
  /** How its connections are made (plain, or mesh mTLS expecting the endpoint's identity). */
  readonly transport: Transport;
  /** How an opaque TCP connection to it is made: the same, with the ALPN that says "opaque TCP follows". */
  readonly tcpTransport: Transport;
  readonly http1: Http1Pool;
  /** Our own HTTP/2 client's connections. */
  readonly http2: Http2Pool;
  /** node:http2 sessions, used only with SKEIN_HTTP2_CLIENT=node (no connection is made until a request asks). */
  readonly nodeHttp2: NodeHttp2Pool;
}

/** HTTP/2 connections per endpoint (each carries as many streams as the server's SETTINGS allow). */
const MAX_HTTP2_CONNECTIONS = 4;
/** original-destination clusters keep pools for at most this many distinct destinations (oldest evicted). */
const MAX_DYNAMIC_ENDPOINTS = 1024;

export class UpstreamCluster {
  readonly name: string;
  #config: ClusterConfig;
  readonly #limits: LimitsConfig;
  #handles: Map<string, EndpointHandle>;
  #balancer: LoadBalancer;
  #states: readonly EndpointState[];
  readonly #workloadTls: WorkloadTls | null;
  /** TLS to the endpoints' own server (config.upstreamTls, built by the runtime with its secrets); null: none. */
  readonly #originated: OriginatedTls | null;

  /**
   * Builds the cluster, reusing endpoint state and pools from `previous` for endpoints that did not change (their pool key,
   * which includes the TLS identity and the certificate version, is the same). `workloadTls` is this proxy's certificate
   * for mesh mTLS (null: none yet; meshed endpoints then refuse rather than fall back to plain text).
   */
  constructor(config: ClusterConfig, limits: LimitsConfig, previous: UpstreamCluster | null, workloadTls: WorkloadTls | null = null, originated: OriginatedTls | null = null) {
    this.name = config.name;
    this.#config = config;
    this.#limits = limits;
    this.#workloadTls = workloadTls;
    this.#originated = originated;
    this.#handles = this.#handlesFor(config, previous);
    this.#states = [...this.#handles.values()].map((h) => h.state);
    this.#balancer = createLoadBalancer(this.#states, config.loadBalancer);
  }

  get config(): ClusterConfig {
    return this.#config;
  }

  #handlesFor(config: ClusterConfig, previous: UpstreamCluster | null): Map<string, EndpointHandle> {
    const handles = new Map<string, EndpointHandle>();
    for (const ep of config.type === 'static' ? config.endpoints : []) {
      const state = new EndpointState(ep);
      const transport = this.#transport(meshEndpointIdentity(config, ep));
      const old = previous === null ? undefined : previous.#handles.get(state.key);
      if (old && previous && previous.config.type === 'static' && old.state.weight === ep.weight && old.poolKey === this.#poolKey(state, transport)) {
        handles.set(state.key, old);
        continue;
      }
      handles.set(state.key, this.#newHandle(state, transport));
    }
    return handles;
  }

  /**
   * An endpoint-only change: the same cluster object (so every stack built over it stays) with a new balancer over the new
   * endpoints; unchanged endpoints keep their state and pools, removed ones have their pools closed.
   */
  setEndpoints(config: ClusterConfig): void {
    this.#config = config;
    const handles = this.#handlesFor(config, this);
    const old = this.#handles;
    this.#handles = handles;
    this.#states = [...handles.values()].map((h) => h.state);
    this.#balancer = createLoadBalancer(this.#states, config.loadBalancer);
    for (const [key, h] of old) {
      if (handles.get(key) === h) continue;
      h.http1.drain();
      h.http2.retire();
      h.nodeHttp2.retire();
    }
  }

  /** The endpoints' states (outlier detection reviews these); replaced as a whole by setEndpoints. */
  get endpointStates(): readonly EndpointState[] {
    return this.#states;
  }

  #transport(identity: string | null): Transport {
    const base = identity === null ? PLAIN : meshTransport(this.#workloadTls, identity, this.config.protocol);
    if (this.#originated === null || base.kind === 'unavailable') return base;
    // The app's own TLS: over plain TCP, or inside mesh mTLS that says "opaque TCP follows" (its sidecar does not read it as HTTP).
    const under = (base.kind === 'tls' ? meshTcpTransport(base) : base) as PlainOrMeshTransport;
    return { kind: 'originate', under, tls: this.#originated };
  }

  #poolKey(state: EndpointState, transport: Transport): string {
    const c = this.config;
    const l = this.#limits;
    return `${poolKey(state, transport, c.connectTimeoutMs)}|${c.idleTimeoutMs}|${c.maxConnectionsPerEndpoint}|${l.http2StreamWindowBytes}|${l.http2ConnectionWindowBytes}`;
  }

  #newHandle(state: EndpointState, transport: Transport): EndpointHandle {
    const config = this.config;
    // What both HTTP/2 pools (ours, and node:http2's fallback) are built from.
    const h2 = {
      transport,
      host: state.address,
      port: state.port,
      idleTimeoutMs: config.idleTimeoutMs,
      connectTimeoutMs: config.connectTimeoutMs,
      streamWindowBytes: this.#limits.http2StreamWindowBytes,
      connectionWindowBytes: this.#limits.http2ConnectionWindowBytes,
    };
    return {
      state,
      poolKey: this.#poolKey(state, transport),
      transport,
      // Opaque TCP never gets the app TLS (the bytes are the client's): the carrier alone.
      tcpTransport: meshTcpTransport(transport.kind === 'originate' ? transport.under : transport),
      http1: new Http1Pool({
        transport,
        host: state.address,
        port: state.port,
        maxConnections: config.maxConnectionsPerEndpoint,
        idleTimeoutMs: config.idleTimeoutMs,
        connectTimeoutMs: config.connectTimeoutMs,
      }),
      http2: new Http2Pool({
        ...h2,
        maxConnections: MAX_HTTP2_CONNECTIONS,
        maxHeaderBytes: this.#limits.maxRequestHeaderBytes,
        maxHeaderCount: this.#limits.maxHeaderCount,
        maxBufferedBytes: this.#limits.maxBufferedBytesPerConnection,
      }),
      nodeHttp2: new NodeHttp2Pool({ ...h2, maxSessions: MAX_HTTP2_CONNECTIONS }),
    };
  }

  pick(ctx: PickContext): EndpointHandle | null {
    if (this.config.type === 'original-destination') {
      const dst = ctx.originalDst;
      if (!dst) return null;
      const address = this.config.originalDestinationAddress ?? dst.address;
      const key = address.includes(':') ? `[${address}]:${dst.port}` : `${address}:${dst.port}`;
      let h = this.#handles.get(key);
      if (!h) {
        if (this.#handles.size >= MAX_DYNAMIC_ENDPOINTS) {
          const [oldestKey, oldest] = this.#handles.entries().next().value!;
          this.#handles.delete(oldestKey);
          oldest.http1.close();
          oldest.http2.close();
          oldest.nodeHttp2.close();
        }
        // Where a connection was headed before redirection: no identity is known for it, so plain text.
        h = this.#newHandle(new EndpointState({ address, port: dst.port, weight: 1 }), PLAIN);
        this.#handles.set(key, h);
      }
      return h;
    }
    const state = this.#balancer.pick(ctx);
    return state ? this.#handles.get(state.key)! : null;
  }

  get endpoints(): readonly EndpointHandle[] {
    return [...this.#handles.values()];
  }

  /**
   * Retires the pools of endpoints that are not in `next` (all of them when next is null): idle connections close now,
   * busy ones when their exchange ends, so a config change or a certificate rotation never cuts a request.
   */
  retire(next: UpstreamCluster | null): void {
    for (const [key, h] of this.#handles) {
      if (next && next.#handles.get(key) === h) continue;
      h.http1.drain();
      h.http2.retire();
      h.nodeHttp2.retire();
    }
  }

  /** Closes every pool now (the proxy is stopping). */
  close(): void {
    for (const h of this.#handles.values()) {
      h.http1.close();
      h.http2.close();
      h.nodeHttp2.close();
    }
  }
}
