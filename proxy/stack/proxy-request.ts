// The request value that travels down the stack: target, canonical headers, a replayable body, downstream facts, deadline, attempt.
import type { ListenerDirection } from '../../api/config/proxy-config.ts';
import type { ProxyError } from '../errors/proxy-error.ts';
import type { HeaderBag } from '../http/hop-headers.ts';
import type { OriginalDestination } from '../native/original-destination.ts';
import type { CompiledRoute } from '../routing/route-table.ts';
import type { RequestRecorder } from '../telemetry/proxy-metrics.ts';
import type { EndpointHandle, UpstreamCluster } from '../upstream/upstream-cluster.ts';
import type { RequestBody } from './request-body.ts';
import type { RequestObservation } from './stack-hooks.ts';

/** What is known about the client side of a request; one object per downstream connection (shared by its requests). */
export interface DownstreamInfo {
  readonly listener: string;
  readonly direction: ListenerDirection;
  readonly clientAddress: string;
  readonly clientPort: number;
  /** The port the connection was accepted on (the listener's). */
  readonly localPort?: number;
  /** The connection arrived over TLS that this proxy terminated. */
  readonly tls: boolean;
  /** The TLS SNI, lower case, or null. */
  readonly sni: string | null;
  /** The peer's verified identity (mesh mTLS: the SPIFFE id of its certificate), or null when it proved none. */
  readonly peerIdentity: string | null;
  /** Where an iptables-redirected connection was headed (sidecar outbound/inbound), or null. */
  readonly originalDst: OriginalDestination | null;
}

/** Told when the client goes away before the answer is complete (an object, not a closure: none per request). */
export interface CancelHandler {
  clientCancelled(req: ProxyRequest): void;
}

/**
 * Told the result of each upstream attempt as it settles (outlier detection): an object made at config time, so that an
 * observed request costs no async frame or closure.
 */
export interface AttemptObserver {
  /** The endpoint answered with a response head. */
  answered(endpoint: EndpointHandle, status: number): void;
  /** The attempt failed before any answer (connect failure, reset, its deadline, the client going away...). */
  failed(endpoint: EndpointHandle, e: ProxyError): void;
}

/** A slot a cluster layer admitted the attempt into (the circuit breaker's), given back once the attempt is over. */
export interface Admission {
  release(): void;
}

/**
 * One request as the layers see it. Built once by serve; layers may rewrite `headers`, and route/balance fill in `route`,
 * `cluster` and `endpoint` for the layers below them. Plain class (one shape for every request, no per-request closures).
 */
export class ProxyRequest {
  readonly method: string;
  /** The validated authority (host[:port]) the request is for. */
  authority: string;
  /** Canonical path with query (origin-form; absolute-form already split off). */
  path: string;
  /** End-to-end request headers (no pseudo-headers, no hop-by-hop, no framing headers): the upstream framing is ours. */
  readonly headers: HeaderBag;
  /** The headers exactly as the client sent them (pseudo-headers included): what route matching and hashing read. */
  readonly clientHeaders: Readonly<Record<string, string | string[] | undefined>>;
  /** The body, or null when the request has none. */
  readonly body: RequestBody | null;
  readonly downstream: DownstreamInfo;
  /** The client speaks gRPC (content-type application/grpc*): errors are answered as gRPC statuses. */
  readonly grpc: boolean;
  /** When the proxy received the request head (performance.now() ms). */
  readonly startedAt: number;
  /** Absolute deadline in performance.now() ms, or 0 for none. Layers only shorten it. */
  deadline = 0;
  /** The route's stream idle timeout (ms, 0: none), set by its layer: each attempt cuts its response after this long without a byte. */
  streamIdleMs = 0;
  /** Set by a cluster layer (outlier detection): told each attempt's result. */
  attemptObserver: AttemptObserver | null = null;
  /**
   * Set by a cluster layer (the circuit breaker) just before it calls the service below: the upstream attempt made next
   * takes it (and clears this) and releases it when it is over: its body complete, failed or cancelled.
   */
  admission: Admission | null = null;
  /** 1 for the first try; a retry layer increments it before calling its inner service again. */
  attempt = 1;
  /** Set by a retry layer: the client stage sends `attempt` to the upstream (x-skein-attempt-count, attempt-count.ts). */
  countsAttempts = false;
  /** Set by the route stage. */
  route: CompiledRoute | null = null;
  /** Set by the route stage (the weighted backend chosen). */
  cluster: UpstreamCluster | null = null;
  /** Set by the balance stage, per attempt. */
  endpoint: EndpointHandle | null = null;
  /** Set by the route stage: where serve records the finished request. */
  recorder: RequestRecorder | null = null;
  /** Set by the listener's RequestObserver when it starts (the trace context that the attempt spans below balance read). */
  observation: RequestObservation | null = null;
  /** True once the client went away (reset, closed): nothing more should be started for it. */
  cancelled = false;
  #onCancel: CancelHandler | null = null;

  constructor(method: string, authority: string, path: string, headers: HeaderBag, body: RequestBody | null, downstream: DownstreamInfo, grpc: boolean, startedAt: number, clientHeaders: ProxyRequest['clientHeaders'] = headers) {
    this.method = method;
    this.authority = authority;
    this.path = path;
    this.headers = headers;
    this.clientHeaders = clientHeaders;
    this.body = body;
    this.downstream = downstream;
    this.grpc = grpc;
    this.startedAt = startedAt;
  }

  /**
   * Registers what to undo if the client goes away (the innermost client stage aborts its upstream exchange). Only one is
   * held: a new attempt replaces the previous attempt's handler. Runs at once if already cancelled.
   */
  onCancel(fn: CancelHandler | null): void {
    this.#onCancel = fn;
    if (fn !== null && this.cancelled) fn.clientCancelled(this);
  }

  /** @internal serve: the client went away. A cancel is the client's doing, never counted as an upstream reset. */
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    const fn = this.#onCancel;
    this.#onCancel = null;
    fn?.clientCancelled(this);
  }

  /** Milliseconds left before the deadline (Infinity when none; <= 0 when passed). */
  remainingMs(now: number = performance.now()): number {
    return this.deadline === 0 ? Infinity : this.deadline - now;
  }
}
