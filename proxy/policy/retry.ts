// The retry layer: tries again on retryable answers and failures, within attempts, budget, breaker and deadline, replaying the body.
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';
import { ATTEMPT_HEADER } from '../stack/attempt-count.ts';
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

  /**
   * The first try costs no async frame: the retry loop (an async function) starts only when its answer or failure is
   * worth another try. A first try that answers is passed on from a `then` (the async frame and its promise were a third
   * of what the policy defaults added to a request, bench/instructions.ts --policy-defaults).
   */
  readonly call = (req: ProxyRequest): Promise<ProxyResponse> => {
    const policy = this.#policy;
    // One clock read for the deposit and the first try's deadline (each retry reads it again after its backoff).
    const now = this.#deps.now();
    this.#budget.deposit(now);
    // The client stage writes the try's number (attempt-count.ts); one the client sent is not passed on.
    const headers = req.headers;
    if (headers[ATTEMPT_HEADER] !== undefined) delete headers[ATTEMPT_HEADER];
    req.countsAttempts = true;
    // gRPC calls are all POST: for them the status decides (as in gRPC's own retry policy and Istio).
    const retryable = policy.maxTries > 1 && (req.grpc || policy.methodRetryable(req.method));
    if (retryable) req.body?.retain(policy.config.maxBufferedBodyBytes);
    const overall = req.deadline;
    const perTry = startAttempt(req, overall, policy.config.perTryTimeoutMs, now);
    let p: Promise<ProxyResponse>;
    try {
      p = this.#inner(req);
    } catch (e) {
      p = Promise.reject(e as Error);
    }
    // Nothing to decide afterwards: the try's deadline is the request's, and no answer is retried.
    if (!retryable && !perTry) return p;
    return p.then(
      (res) => {
        req.deadline = overall;
        return retryable && !req.cancelled && this.#mayRetry(req, res) ? this.#retry(req, res, null, overall) : res;
      },
      (e: unknown) => {
        req.deadline = overall;
        const error = tryError(e, perTry);
        if (!retryable || req.cancelled || !this.#policy.errorRetryable(error)) throw error;
        return this.#retry(req, null, error, overall);
      },
    );
  };

  /** Whether an answer might be worth another try: its status, or a gRPC answer whose status may come in trailers. */
  #mayRetry(req: ProxyRequest, res: ProxyResponse): boolean {
    const grpcStatus = grpcStatusOf(res);
    return this.#policy.responseRetryable(res.status, grpcStatus) || this.#statusInTrailers(req, res, grpcStatus);
  }

  /** A gRPC answer with a body and no grpc-status in its head, on a route that retries gRPC statuses: the trailers decide. */
  #statusInTrailers(req: ProxyRequest, res: ProxyResponse, grpcStatus: string | undefined): boolean {
    return grpcStatus === undefined && req.grpc && res.body !== null && this.#policy.retriesGrpc;
  }

  /** From a try that settled with `res` or `error` on: decides, waits, tries again, until an answer or failure is final. */
  async #retry(req: ProxyRequest, first: ProxyResponse | null, firstError: ProxyError | null, overall: number): Promise<ProxyResponse> {
    const deps = this.#deps;
    const policy = this.#policy;
    const perTryMs = policy.config.perTryTimeoutMs;
    let res = first;
    let error = firstError;
    for (;;) {
      let grpcStatus = res === null ? undefined : grpcStatusOf(res);
      if (res !== null && this.#statusInTrailers(req, res, grpcStatus)) {
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
      const perTry = startAttempt(req, overall, perTryMs, deps.now());
      res = null;
      error = null;
      try {
        res = await this.#inner(req);
      } catch (e) {
        error = tryError(e, perTry);
      }
      req.deadline = overall;
      if (req.attempt >= policy.maxTries || req.cancelled) return settle(res, error);
    }
  }
}

/** A try's failure as a ProxyError; a timeout under the per-try deadline is this try's, not the request's. */
function tryError(e: unknown, perTry: boolean): ProxyError {
  const error = e instanceof ProxyError ? e : new ProxyError(ERRORS.internal, undefined, { cause: e });
  return perTry && error.spec === ERRORS.timeout ? new ProxyError(ERRORS.perTryTimeout, undefined, { cause: error }) : error;
}

function settle(res: ProxyResponse | null, error: ProxyError | null): ProxyResponse {
  if (res !== null) return res;
  throw error!;
}

/** The retry layer of one route. `breakerOf` finds the circuit breaker of the cluster an attempt goes to (max active retries). */
export function retryLayer(policy: RetryPolicy, budget: RetryBudget, deps: PolicyDeps, breakerOf: (c: UpstreamCluster | null) => CircuitBreaker | null, counters: RetryCounters): Layer {
  return (inner) => new RetryService(inner, policy, budget, deps, breakerOf, counters).call;
}
