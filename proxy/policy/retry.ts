// The retry layer: tries again on retryable answers and failures, within attempts, budget, breaker and deadline, replaying the body.
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';
import type { PolicyDeps } from '../stack/policy-slot.ts';
import type { ProxyRequest } from '../stack/proxy-request.ts';
import type { ProxyResponse } from '../stack/proxy-response.ts';
import type { Layer, Service } from '../stack/service.ts';
import type { UpstreamCluster } from '../upstream/upstream-cluster.ts';
import { backoffMs } from './backoff.ts';
import { peekGrpcStatus } from './grpc-status-peek.ts';
import type { CircuitBreaker } from './circuit-breaker.ts';
import type { RetryBudget } from './retry-budget.ts';
import type { RetryPolicy } from './retry-policy.ts';
import { startAttempt } from './timeout.ts';

/** The request header telling the upstream which try this is (as Envoy's x-envoy-attempt-count). */
export const ATTEMPT_HEADER = 'x-skein-attempt-count';
const ATTEMPT_VALUES = Array.from({ length: 12 }, (_, i) => String(i));

/** Why a retry was not made, for metrics and tests. */
export interface RetryCounters {
  retries: number;
  budgetExhausted: number;
  bodyTooLarge: number;
  breakerOverflow: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function grpcStatusOf(res: ProxyResponse): string | undefined {
  const v = res.trailers?.['grpc-status'] ?? res.headers['grpc-status'];
  return typeof v === 'string' ? v : undefined;
}

class RetryService {
  readonly #inner: Service;
  readonly #policy: RetryPolicy;
  readonly #budget: RetryBudget;
  readonly #deps: PolicyDeps;
  readonly #breakerOf: (cluster: UpstreamCluster | null) => CircuitBreaker | null;
  readonly counters: RetryCounters;

  constructor(inner: Service, policy: RetryPolicy, budget: RetryBudget, deps: PolicyDeps, breakerOf: (c: UpstreamCluster | null) => CircuitBreaker | null, counters: RetryCounters) {
    this.#inner = inner;
    this.#policy = policy;
    this.#budget = budget;
    this.#deps = deps;
    this.#breakerOf = breakerOf;
    this.counters = counters;
  }

  readonly call = async (req: ProxyRequest): Promise<ProxyResponse> => {
    const deps = this.#deps;
    const policy = this.#policy;
    // One clock read for the deposit and the first try's deadline (each retry reads it again after its backoff).
    let now = deps.now();
    this.#budget.deposit(now);
    // gRPC calls are all POST: for them the status decides (as in gRPC's own retry policy and Istio).
    const retryable = req.grpc || policy.methodRetryable(req.method);
    if (retryable) req.body?.retain(policy.config.maxBufferedBodyBytes);
    const overall = req.deadline;
    const perTryMs = policy.config.perTryTimeoutMs;
    for (;;) {
      req.headers[ATTEMPT_HEADER] = ATTEMPT_VALUES[req.attempt] ?? String(req.attempt);
      const perTry = startAttempt(req, overall, perTryMs, now);
      let res: ProxyResponse | null = null;
      let error: ProxyError | null = null;
      try {
        res = await this.#inner(req);
      } catch (e) {
        error = e instanceof ProxyError ? e : new ProxyError(ERRORS.internal, undefined, { cause: e });
        // The attempt's own deadline was the per-try one: this try timed out, not the request.
        if (perTry && error.spec === ERRORS.timeout) error = new ProxyError(ERRORS.perTryTimeout, undefined, { cause: error });
      }
      req.deadline = overall;
      if (!retryable || req.attempt >= policy.maxTries || req.cancelled) return settle(res, error);
      let grpcStatus = res === null ? undefined : grpcStatusOf(res);
      if (res !== null && grpcStatus === undefined && req.grpc && res.body !== null && policy.retriesGrpc) {
        // grpc-status may come in trailers after an empty body: look before deciding.
        const peeked = await peekGrpcStatus(res);
        res = peeked.res;
        grpcStatus = peeked.grpcStatus;
      }
      if (res !== null ? !policy.responseRetryable(res.status, grpcStatus) : !policy.errorRetryable(error!)) return settle(res, error);
      if (req.body !== null && !req.body.replayable) {
        this.counters.bodyTooLarge++;
        return settle(res, error);
      }
      const wait = backoffMs(req.attempt, policy.config.backoff, deps.random);
      if (overall !== 0 && deps.now() + wait >= overall) return settle(res, error);
      if (!this.#budget.tryWithdraw(deps.now())) {
        this.counters.budgetExhausted++;
        return settle(res, error);
      }
      const breaker = this.#breakerOf(req.cluster);
      if (breaker !== null && !breaker.tryStartRetry()) {
        this.counters.breakerOverflow++;
        return settle(res, error);
      }
      // This answer is dropped: release its upstream exchange. Nothing of it reached the client (only serve writes).
      res?.body?.cancel();
      req.body?.detach();
      this.counters.retries++;
      try {
        if (wait > 0) await sleep(wait);
      } finally {
        breaker?.retryDone();
      }
      if (req.cancelled) throw new ProxyError(ERRORS.clientCancelled);
      req.attempt++;
      now = deps.now();
    }
  };
}

function settle(res: ProxyResponse | null, error: ProxyError | null): ProxyResponse {
  if (res !== null) return res;
  throw error!;
}

/** The retry layer of one route. `breakerOf` finds the circuit breaker of the cluster an attempt goes to (max active retries). */
export function retryLayer(policy: RetryPolicy, budget: RetryBudget, deps: PolicyDeps, breakerOf: (c: UpstreamCluster | null) => CircuitBreaker | null, counters: RetryCounters): Layer {
  return (inner) => new RetryService(inner, policy, budget, deps, breakerOf, counters).call;
}
