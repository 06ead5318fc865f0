// Keeps this workload's certificate current: key made in memory, certificate obtained through Certify before the proxy is
// ready, renewed at half its lifetime (jittered), retried with backoff, and every new version announced to its users.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { CertifyRequest, CertifyResponse } from '../../api/proto/identity.ts';
import { buildWorkloadCsr } from '../../api/identity/pkcs10.ts';
import type { LogSink } from '../telemetry/rate-limited-log.ts';
import type { CertFailureReason, IdentityMetrics } from './identity-metrics.ts';
import { buildWorkloadTls, type WorkloadTls } from './workload-tls.ts';

/** A failed Certify call, classified (the gRPC status mapped to a bounded reason). */
export class CertifyFailure extends Error {
  readonly reason: CertFailureReason;
  constructor(reason: CertFailureReason, message: string) {
    super(message);
    this.name = 'CertifyFailure';
    this.reason = reason;
  }
}

export type Certify = (req: CertifyRequest) => Promise<CertifyResponse>;

/** Timers behind an interface, so tests drive renewals and backoff deterministically. */
export interface ManagerClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const REAL_CLOCK: ManagerClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, Math.min(ms, 2_147_483_647));
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/**
 * Renew at half the lifetime, as Istio's agent does (Linkerd's proxy renews at 70 %): when the control plane is away as a
 * renewal falls due, the certificate in use still has at least 0.45 of its lifetime to run (0.25 at 70 %), which is how
 * long an outage the mesh rides out. The price is 1.4x the Certify calls of renewing at 70 % (24 h certificates: one per
 * pod every 12 h). The rotation procedure in docs/identity.md waits for a renewal (RENEW_AT + RENEW_JITTER of L).
 */
export const RENEW_AT = 0.5;
/** ± this share of the lifetime around RENEW_AT, so that a fleet started together does not renew together. */
export const RENEW_JITTER = 0.05;

export interface WorkloadCertificateOptions {
  /** Our SPIFFE id (from the pod's namespace and ServiceAccount). */
  readonly identity: string;
  readonly certify: Certify;
  /** The projected ServiceAccount token, read fresh for every request (the kubelet rotates it). */
  readonly token: () => Promise<string>;
  readonly metrics: IdentityMetrics;
  readonly log: LogSink;
  readonly clock?: ManagerClock;
  readonly random?: () => number;
  /**
   * Fraction of the lifetime after which to renew (RENEW_AT), and the spread around it (± RENEW_JITTER of the lifetime).
   */
  readonly renewAt?: number;
  readonly renewJitter?: number;
  /** Backoff after a failure: base doubling up to max, full jitter over its upper half. */
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /** The key pair (a fresh ECDSA P-256 pair per certificate by default). */
  readonly generateKey?: () => KeyObject;
}

type Listener = (tls: WorkloadTls) => void;

export class WorkloadCertificateManager {
  readonly #o: WorkloadCertificateOptions;
  readonly #clock: ManagerClock;
  readonly #random: () => number;
  readonly #listeners = new Set<Listener>();
  #current: WorkloadTls | null = null;
  #lastError: string | null = null;
  #failures = 0;
  #timer: unknown = null;
  #inFlight: Promise<void> | null = null;
  #stopped = false;
  #readyWaiters: ((t: WorkloadTls) => void)[] = [];

  constructor(o: WorkloadCertificateOptions) {
    this.#o = o;
    this.#clock = o.clock ?? REAL_CLOCK;
    this.#random = o.random ?? Math.random;
  }

  get identity(): string {
    return this.#o.identity;
  }

  /** The material in use, or null before the first certificate. */
  current(): WorkloadTls | null {
    return this.#current;
  }

  /** Null when ready; otherwise why not (for /ready's details). */
  notReadyReason(): string | null {
    if (this.#current !== null) return null;
    return this.#lastError === null ? 'workload certificate: not issued yet' : `workload certificate: not issued yet (last attempt: ${this.#lastError})`;
  }

  /** Called with every new version (the first included). */
  onRotate(fn: Listener): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Resolves with the first certificate. */
  whenReady(): Promise<WorkloadTls> {
    if (this.#current !== null) return Promise.resolve(this.#current);
    return new Promise((resolve) => this.#readyWaiters.push(resolve));
  }

  /** Starts obtaining the first certificate (and keeps renewing). */
  start(): void {
    void this.renewNow();
  }

  /** Obtains a certificate now (one attempt; on failure the next is scheduled with backoff). Concurrent calls share one. */
  renewNow(): Promise<void> {
    if (this.#inFlight !== null) return this.#inFlight;
    this.#cancelTimer();
    this.#inFlight = this.#attempt().finally(() => {
      this.#inFlight = null;
    });
    return this.#inFlight;
  }

  stop(): void {
    this.#stopped = true;
    this.#cancelTimer();
  }

  async #attempt(): Promise<void> {
    const o = this.#o;
    // A new key per certificate: a leaked key is only good until the next renewal. Never exported beyond memory.
    const key = o.generateKey ? o.generateKey() : generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    let reason: CertFailureReason = 'other';
    let message: string;
    try {
      let token: string;
      try {
        token = (await o.token()).trim();
      } catch (e) {
        reason = 'token';
        throw e;
      }
      const csrPem = buildWorkloadCsr(key, o.identity);
      let res: CertifyResponse;
      try {
        res = await o.certify({ identity: o.identity, token, csrPem });
      } catch (e) {
        reason = e instanceof CertifyFailure ? e.reason : 'unavailable';
        throw e;
      }
      const built = buildWorkloadTls(key, o.identity, res.certificateChainPem, res.trustBundlePem, this.#clock.now());
      if (typeof built === 'string') {
        reason = 'invalid-response';
        throw new Error(built);
      }
      this.#install(built);
      return;
    } catch (e) {
      message = (e as Error).message ?? String(e);
    }
    if (this.#stopped) return;
    this.#failures++;
    this.#lastError = `${reason}: ${message.slice(0, 300)}`;
    o.metrics.certificateFailed(reason);
    const delay = this.#backoffMs();
    // With a certificate still valid, traffic keeps flowing: a failed renewal is a warning until the expiry is near.
    o.log(this.#current === null ? 'error' : 'warn', 'workload certificate request failed', { identity: o.identity, reason, error: this.#lastError, retryInMs: delay });
    this.#schedule(delay);
  }

  #install(t: WorkloadTls): void {
    this.#current = t;
    this.#failures = 0;
    this.#lastError = null;
    this.#o.metrics.certificateIssued(t.notAfterMs);
    this.#o.log('info', 'workload certificate installed', { identity: t.identity, version: t.version, notAfter: new Date(t.notAfterMs).toISOString() });
    for (const fn of this.#listeners) {
      try {
        fn(t);
      } catch (e) {
        this.#o.log('error', 'certificate rotation listener failed', { error: String(e) });
      }
    }
    for (const w of this.#readyWaiters.splice(0)) w(t);
    if (!this.#stopped) this.#schedule(this.renewDelayMs(t));
  }

  /**
   * When to renew `t`, from now (called as it is installed): at renewAt of the lifetime it has from now on, spread by
   * ± renewJitter, as linkerd2-proxy does. Not from notBefore: CAs backdate it for clock skew (ours by 5 minutes), which
   * would put the renewal of a short-lived certificate (1 minute) in the past, and renew it again at once, forever.
   */
  renewDelayMs(t: WorkloadTls): number {
    const now = this.#clock.now();
    const life = t.notAfterMs - Math.max(t.notBeforeMs, now);
    const at = this.#o.renewAt ?? RENEW_AT;
    const jitter = this.#o.renewJitter ?? RENEW_JITTER;
    return Math.max(0, life * (at + jitter * (2 * this.#random() - 1)));
  }

  #backoffMs(): number {
    const base = this.#o.backoffBaseMs ?? 1_000;
    const max = this.#o.backoffMaxMs ?? 60_000;
    const cap = Math.min(max, base * 2 ** Math.min(this.#failures - 1, 20));
    let ms = cap / 2 + (cap / 2) * this.#random();
    // Never sleep past the expiry of the certificate in use: retry while it still serves.
    const cur = this.#current;
    if (cur !== null) ms = Math.min(ms, Math.max(base, (cur.notAfterMs - this.#clock.now()) / 4));
    return ms;
  }

  #schedule(ms: number): void {
    this.#cancelTimer();
    if (this.#stopped) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = null;
      void this.renewNow();
    }, ms);
  }

  #cancelTimer(): void {
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
  }
}
