// What a route retries: which methods, which answers and which failures, precompiled into lookup tables at config time.
import type { RetryPolicyConfig } from '../../api/config/policy-config.ts';
import { ERRORS, type ProxyError } from '../errors/proxy-error.ts';

/** Whether repeating the method has the same effect as one request (RFC 9110 9.2.2): a switch, not a Set lookup per request. */
function idempotent(method: string): boolean {
  switch (method) {
    case 'GET':
    case 'HEAD':
    case 'OPTIONS':
    case 'TRACE':
    case 'PUT':
    case 'DELETE':
      return true;
    default:
      return false;
  }
}

const GRPC_CODE: Readonly<Record<string, number>> = { cancelled: 1, 'deadline-exceeded': 4, 'resource-exhausted': 8, internal: 13, unavailable: 14 };

export class RetryPolicy {
  /** Tries in all: the first and the retries. */
  readonly maxTries: number;
  readonly config: RetryPolicyConfig;
  /** Index = HTTP status; 1 = retryable. */
  readonly #status = new Uint8Array(600);
  /** Bit n set: gRPC status n is retryable. */
  readonly #grpc: number;
  /** Some gRPC status is retryable (the retry layer then reads trailers of empty answers). */
  readonly retriesGrpc: boolean;
  readonly #connectFailure: boolean;
  readonly #reset: boolean;
  readonly #refusedStream: boolean;

  constructor(config: RetryPolicyConfig) {
    this.config = config;
    this.maxTries = config.attempts + 1;
    const on = new Set(config.retryOn);
    if (on.has('5xx')) this.#status.fill(1, 500, 600);
    if (on.has('gateway-error')) for (const s of [502, 503, 504]) this.#status[s] = 1;
    for (const s of config.retriableStatusCodes) this.#status[s] = 1;
    let grpc = 0;
    for (const [name, code] of Object.entries(GRPC_CODE)) if (on.has(name as never)) grpc |= 1 << code;
    this.#grpc = grpc;
    this.retriesGrpc = grpc !== 0;
    this.#connectFailure = on.has('connect-failure') || on.has('5xx') || on.has('gateway-error');
    this.#reset = on.has('reset') || on.has('5xx') || on.has('gateway-error');
    // A refused stream never reached the application: always safe, so any reset-like condition covers it too.
    this.#refusedStream = on.has('refused-stream') || this.#reset;
  }

  /** Whether requests with this method may be retried at all. */
  methodRetryable(method: string): boolean {
    return this.config.retryNonIdempotent || idempotent(method);
  }

  /** Whether an answer is worth another try: its HTTP status, or (gRPC) the grpc-status of a trailers-only answer. */
  responseRetryable(status: number, grpcStatus: string | undefined): boolean {
    if (status < 600 && this.#status[status] === 1) return true;
    if (grpcStatus === undefined || this.#grpc === 0) return false;
    const code = Number(grpcStatus);
    return code > 0 && code < 31 && (this.#grpc & (1 << code)) !== 0;
  }

  /** Whether a failed try (no answer) is worth another. */
  errorRetryable(e: ProxyError): boolean {
    switch (e.spec) {
      case ERRORS.connectFailed:
      case ERRORS.connectTimeout:
        return this.#connectFailure;
      case ERRORS.upstreamReset:
        return isRefusedStream(e) ? this.#refusedStream : this.#reset;
      case ERRORS.perTryTimeout:
        return this.#reset;
      default:
        return false;
    }
  }
}

/** HTTP/2 REFUSED_STREAM: the upstream did not process the request (RFC 9113 8.7). */
function isRefusedStream(e: ProxyError): boolean {
  if (e.message.includes('REFUSED_STREAM')) return true;
  const cause = e.cause as { message?: unknown; code?: unknown } | undefined;
  return typeof cause?.message === 'string' && cause.message.includes('REFUSED_STREAM');
}
