// One TrafficPolicy's spec compiled into the proxy's policy model, section by section, or every reason it is invalid:
// what the CRD schema and CEL rules cannot catch (durations past the proxy's limits, zero intervals, values the proxy's
// own parse functions refuse). Pure; no defaults beyond the proxy's own.
import { parseCircuitBreaker, parseFaultInjection, parseOutlierDetection, parseRetryPolicy, type PolicyProblem } from '../../api/config/parse-policy-config.ts';
import type { CircuitBreakerConfig, FaultInjectionConfig, LocalRateLimitConfig, OutlierDetectionConfig, RetryPolicyConfig } from '../../api/config/policy-config.ts';
import type { LoadBalancerConfig } from '../../api/config/proxy-config.ts';
import type { TrafficPolicySpec } from '../../api/crd/traffic-policy.ts';
import { parseGoDuration } from '../../api/crd/go-duration.ts';
import { err, ok, type Result } from '../../api/result.ts';

/** The proxy's ceiling on any duration (api/config: 24 h). */
const MAX_MS = 86_400_000;

/** The units of merging: two policies on one target merge section by section (docs/traffic-policy.md). */
export const POLICY_SECTIONS = ['retries', 'timeouts', 'circuitBreaker', 'outlierDetection', 'loadBalancer', 'rateLimit', 'fault', 'tracing'] as const;
export type PolicySection = (typeof POLICY_SECTIONS)[number];

/** What each section becomes on the proxy: route fields, cluster fields, or the tracing rate. */
export interface CompiledSections {
  readonly retries?: RetryPolicyConfig;
  readonly timeouts?: { readonly requestMs: number; readonly streamIdleMs: number };
  readonly circuitBreaker?: CircuitBreakerConfig;
  readonly outlierDetection?: OutlierDetectionConfig;
  readonly loadBalancer?: LoadBalancerConfig;
  readonly rateLimit?: LocalRateLimitConfig;
  readonly fault?: FaultInjectionConfig;
  readonly tracing?: { readonly samplingPercent: number };
}

type Spec = Readonly<Record<string, any>>;

/** A duration field: absent -> `absent`; otherwise milliseconds within the proxy's range, or a problem. */
function duration(value: unknown, path: string, problems: PolicyProblem[], opts: { positive: boolean }): number | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = typeof value === 'string' ? parseGoDuration(value) : null;
  if (ms === null) {
    problems.push({ path, message: `"${String(value)}" is not a duration (e.g. 500ms, 2s, 1m30s)` });
    return undefined;
  }
  if (ms > MAX_MS) problems.push({ path, message: `${String(value)} is longer than the proxy allows (24h)` });
  else if (opts.positive && ms < 1) problems.push({ path, message: `${String(value)} must be at least 1ms` });
  return ms;
}

/** Compiles a spec; `Result.error` lists every problem (path under `spec.`), and then nothing of the policy applies. */
export function compileTrafficPolicy(spec: TrafficPolicySpec): Result<CompiledSections, readonly PolicyProblem[]> {
  const s = spec as Spec;
  const problems: PolicyProblem[] = [];
  const out: { -readonly [K in keyof CompiledSections]: CompiledSections[K] } = {};
  if (s.retries) {
    const r = s.retries;
    const perTry = duration(r.perTryTimeout, 'spec.retries.perTryTimeout', problems, { positive: false });
    out.retries =
      parseRetryPolicy(
        {
          // The CRD counts attempts with the first one (Gateway API's and Linkerd's reading); the proxy counts retries.
          ...(r.attempts !== undefined ? { attempts: Math.max(0, r.attempts - 1) } : {}),
          ...(perTry !== undefined ? { perTryTimeoutMs: perTry } : {}),
          ...(r.retryOn !== undefined ? { retryOn: [...new Set(r.retryOn as string[])] } : {}),
          ...(r.retriableStatusCodes !== undefined ? { retriableStatusCodes: [...new Set(r.retriableStatusCodes as number[])] } : {}),
          ...(r.allowNonIdempotent !== undefined ? { retryNonIdempotent: r.allowNonIdempotent } : {}),
          ...(r.budget ? { budget: { retryRatio: r.budget.retryRatio, minRetriesPerSecond: r.budget.minRetriesPerSecond } } : {}),
        },
        'spec.retries',
        problems,
      ) ?? undefined;
  }
  if (s.timeouts) {
    const requestMs = duration(s.timeouts.request, 'spec.timeouts.request', problems, { positive: false }) ?? 0;
    const streamIdleMs = duration(s.timeouts.streamIdle, 'spec.timeouts.streamIdle', problems, { positive: false }) ?? 0;
    if (requestMs > 0 && out.retries && out.retries.perTryTimeoutMs > requestMs) {
      problems.push({ path: 'spec.retries.perTryTimeout', message: 'must not exceed timeouts.request' });
    }
    out.timeouts = { requestMs, streamIdleMs };
  }
  if (s.circuitBreaker) {
    const c = s.circuitBreaker;
    out.circuitBreaker = parseCircuitBreaker({ maxConnections: c.maxConnections, maxPendingRequests: c.maxPendingRequests, maxRequests: c.maxRequests, maxActiveRetries: c.maxRetries }) ?? undefined;
  }
  if (s.outlierDetection) {
    const o = s.outlierDetection;
    const at = 'spec.outlierDetection';
    out.outlierDetection =
      parseOutlierDetection(
        {
          consecutive5xxErrors: o.consecutive5xx,
          consecutiveGatewayErrors: o.consecutiveGatewayErrors,
          intervalMs: duration(o.interval, `${at}.interval`, problems, { positive: true }),
          baseEjectionTimeMs: duration(o.baseEjectionTime, `${at}.baseEjectionTime`, problems, { positive: true }),
          maxEjectionPercent: o.maxEjectionPercent,
        },
        at,
        problems,
      ) ?? undefined;
  }
  if (s.loadBalancer) {
    const lb = s.loadBalancer;
    const k = lb.hashKey;
    const hashOn: LoadBalancerConfig['hashOn'] = !k
      ? null
      : k.header !== undefined
        ? { type: 'header', name: String(k.header).toLowerCase() }
        : k.cookie !== undefined
          ? { type: 'cookie', name: String(k.cookie) }
          : k.sourceIP === true
            ? { type: 'source-ip' }
            : null;
    const policy = lb.algorithm ?? (hashOn ? 'ring-hash' : 'p2c-ewma');
    if (policy === 'ring-hash' && hashOn === null) problems.push({ path: 'spec.loadBalancer.hashKey', message: 'ring-hash needs a hashKey (header, cookie or sourceIP: true)' });
    out.loadBalancer = { policy, hashOn: policy === 'ring-hash' ? hashOn : null };
  }
  if (s.rateLimit) {
    const rps = s.rateLimit.requestsPerSecond;
    out.rateLimit = { requestsPerSecond: rps, burst: s.rateLimit.burst ?? Math.max(1, Math.ceil(rps)) };
  }
  if (s.fault) {
    const f = s.fault;
    const delayMs = f.delay ? duration(f.delay.duration, 'spec.fault.delay.duration', problems, { positive: true }) : undefined;
    out.fault =
      parseFaultInjection(
        {
          ...(f.delay ? { delay: { fixedDelayMs: delayMs ?? 1, percent: f.delay.percent } } : {}),
          ...(f.abort ? { abort: f.abort } : {}),
          ...(f.headerPresent ? { header: f.headerPresent } : {}),
        },
        'spec.fault',
        problems,
      ) ?? undefined;
  }
  if (s.tracing && s.tracing.samplingPercent !== undefined) out.tracing = { samplingPercent: s.tracing.samplingPercent };
  return problems.length > 0 ? err(problems) : ok(out);
}

/** The sections a compiled policy sets. */
export function sectionsOf(c: CompiledSections): PolicySection[] {
  return POLICY_SECTIONS.filter((k) => c[k] !== undefined);
}
