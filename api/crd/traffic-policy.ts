// TypeScript shape of the TrafficPolicy custom resource (skein.dev/v1alpha1); the schema and CEL rules that the API
// server enforces are in manifests/control-plane/crd-trafficpolicies.yaml, the reference in docs/traffic-policy.md.

export const TRAFFIC_POLICY_GROUP = 'skein.dev';
export const TRAFFIC_POLICY_VERSION = 'v1alpha1';
export const TRAFFIC_POLICY_PLURAL = 'trafficpolicies';

/** Go-style duration: "500ms", "2s", "1m30s". */
export type Duration = string;

export interface TrafficPolicy {
  readonly apiVersion: 'skein.dev/v1alpha1';
  readonly kind: 'TrafficPolicy';
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly generation?: number; readonly creationTimestamp?: string };
  readonly spec: TrafficPolicySpec;
  readonly status?: TrafficPolicyStatus;
}

export interface TrafficPolicySpec {
  readonly targetRef: { readonly group?: ''; readonly kind: 'Service'; readonly name: string; readonly port?: number };
  readonly retries?: {
    readonly attempts?: number;
    readonly perTryTimeout?: Duration;
    readonly retryOn?: readonly string[];
    readonly retriableStatusCodes?: readonly number[];
    readonly allowNonIdempotent?: boolean;
    readonly budget?: { readonly retryRatio?: number; readonly minRetriesPerSecond?: number };
  };
  readonly timeouts?: { readonly request?: Duration; readonly streamIdle?: Duration };
  readonly circuitBreaker?: { readonly maxConnections?: number; readonly maxPendingRequests?: number; readonly maxRequests?: number; readonly maxRetries?: number };
  readonly outlierDetection?: {
    readonly consecutive5xx?: number;
    readonly consecutiveGatewayErrors?: number;
    readonly interval?: Duration;
    readonly baseEjectionTime?: Duration;
    readonly maxEjectionPercent?: number;
  };
  readonly loadBalancer?: {
    readonly algorithm?: 'p2c-ewma' | 'round-robin' | 'least-request' | 'ring-hash';
    readonly hashKey?: { readonly header?: string; readonly cookie?: string; readonly sourceIP?: boolean };
  };
  readonly rateLimit?: { readonly requestsPerSecond: number; readonly burst?: number };
  readonly fault?: {
    readonly headerPresent?: string;
    readonly delay?: { readonly duration: Duration; readonly percent: number };
    readonly abort?: { readonly httpStatus?: number; readonly grpcStatus?: string; readonly percent: number };
  };
  readonly tracing?: { readonly samplingPercent?: number };
}

/**
 * `Accepted`: True (reason Accepted) when some of the policy is in force; False with reason Invalid (a value the proxy
 * would refuse), TargetNotFound (no such Service or port) or Conflicted (every field it sets lost to another policy).
 * `Conflicted`: True (reason Conflicted, naming the winner) when at least one field lost to another policy; else False
 * (reason NoConflict). Rules: docs/traffic-policy.md.
 */
export type TrafficPolicyConditionType = 'Accepted' | 'Conflicted';
export type TrafficPolicyConditionReason = 'Accepted' | 'Invalid' | 'Conflicted' | 'TargetNotFound' | 'NoConflict';

export interface TrafficPolicyStatus {
  readonly observedGeneration?: number;
  readonly conditions?: readonly {
    readonly type: TrafficPolicyConditionType;
    readonly status: 'True' | 'False' | 'Unknown';
    readonly reason: TrafficPolicyConditionReason;
    readonly message: string;
    readonly observedGeneration?: number;
    readonly lastTransitionTime: string;
  }[];
}
