// Keeps the CA in use current: bootstraps it from its Secret, re-reads the Secret periodically (a root rotation is an edit
// of the Secret, picked up without a restart), and keeps the Certify server's own TLS certificate fresh.
//
// A Secret edited into something unusable is refused whole: the last good CA keeps signing, with a log line and a metric.
import { experimental, type ServerCredentials } from '@grpc/grpc-js';
import { ok, type Result } from '../../api/result.ts';
import type { ControlPlaneError } from '../control-plane-error.ts';
import { bootstrapCa } from './ca-bootstrap.ts';
import { loadCaMaterial } from './ca-material.ts';
import type { CaSecretStore } from './ca-secret-store.ts';
import { CertificateAuthority } from './certificate-authority.ts';
import type { IdentityMetrics } from './identity-metrics.ts';
import { publishTrustBundle, type TrustBundleStore } from './trust-bundle-publisher.ts';

export type CaLog = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

/** The names the Certify server answers to (the control plane's Service in skein-system). */
export const DEFAULT_SERVING_DNS_NAMES: readonly string[] = [
  'skein-control-plane',
  'skein-control-plane.skein-system',
  'skein-control-plane.skein-system.svc',
  'skein-control-plane.skein-system.svc.cluster.local',
];
export const SERVING_CERT_TTL_MS = 7 * 86_400_000;
export const CA_RELOAD_INTERVAL_MS = 60_000;

/** A grpc-js certificate provider fed from memory, so the server's certificate is swapped without a restart. */
class ServingCertificateProvider implements experimental.CertificateProvider {
  #current: experimental.IdentityCertificateUpdate | null = null;
  readonly #listeners = new Set<experimental.IdentityCertificateUpdateListener>();

  set(certificate: string, privateKey: string): void {
    this.#current = { certificate: Buffer.from(certificate), privateKey: Buffer.from(privateKey) };
    for (const l of this.#listeners) l(this.#current);
  }

  addIdentityCertificateListener(listener: experimental.IdentityCertificateUpdateListener): void {
    this.#listeners.add(listener);
    // grpc-js registers its listener before its own watcher; answering synchronously would reach nobody.
    queueMicrotask(() => {
      if (this.#listeners.has(listener)) listener(this.#current);
    });
  }

  removeIdentityCertificateListener(listener: experimental.IdentityCertificateUpdateListener): void {
    this.#listeners.delete(listener);
  }

  addCaCertificateListener(): void {}
  removeCaCertificateListener(): void {}
}

export interface CaKeeperOptions {
  readonly store: CaSecretStore;
  readonly trustDomain: string;
  readonly now?: () => number;
  readonly servingDnsNames?: readonly string[];
  readonly servingTtlMs?: number;
  readonly metrics?: IdentityMetrics;
  readonly log?: CaLog;
  /** Where the trust bundle is published for proxies' first connection (a ConfigMap); absent, it is not published. */
  readonly bundleStore?: TrustBundleStore;
}

export type ReloadOutcome = 'unchanged' | 'reloaded' | 'refused' | 'unreadable';

export class CaKeeper {
  readonly #o: CaKeeperOptions;
  readonly #now: () => number;
  readonly #provider = new ServingCertificateProvider();
  #ca: CertificateAuthority;
  #version: string;
  #servingRenewAt = 0;
  /** TLS credentials for the Certify server: the current serving certificate, swapped in place. */
  readonly servingCredentials: ServerCredentials;

  private constructor(opts: CaKeeperOptions, ca: CertificateAuthority, version: string) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
    this.#ca = ca;
    this.#version = version;
    this.servingCredentials = experimental.createCertificateProviderServerCredentials(this.#provider, null, false);
    this.#issueServing();
    this.#observe();
  }

  /** Bootstraps the CA (generating and storing a root on the very first start). */
  static async start(opts: CaKeeperOptions): Promise<Result<CaKeeper, ControlPlaneError>> {
    const now = opts.now ?? Date.now;
    const boot = await bootstrapCa(opts.store, { trustDomain: opts.trustDomain, now });
    if (!boot.ok) return boot;
    const ca = new CertificateAuthority(boot.value.material);
    opts.log?.('info', boot.value.created ? 'identity CA: generated a root and stored it' : 'identity CA: loaded from its Secret', { fingerprint: ca.fingerprint });
    const keeper = new CaKeeper(opts, ca, boot.value.version);
    await keeper.publishBundle();
    return ok(keeper);
  }

  /**
   * Makes the published trust bundle match the CA's. A failure is logged and counted, never fatal: Certify works without
   * it, and the next tick tries again.
   */
  async publishBundle(): Promise<void> {
    const store = this.#o.bundleStore;
    if (!store) return;
    const r = await publishTrustBundle(store, this.#ca.trustBundlePem);
    if (r.ok && r.value === 'unchanged') return;
    this.#o.metrics?.bundlePublishes.inc({ result: r.ok ? r.value : 'failed' });
    if (!r.ok) this.#o.log?.('warn', 'identity CA: cannot publish the trust bundle', { error: r.error });
    else this.#o.log?.('info', `identity CA: trust bundle ${r.value}`);
  }

  /** The CA signing now. */
  current(): CertificateAuthority {
    return this.#ca;
  }

  #observe(): void {
    this.#o.metrics?.caExpiry.set(this.#ca.notAfter.getTime() / 1000);
  }

  #issueServing(): void {
    const ttl = this.#o.servingTtlMs ?? SERVING_CERT_TTL_MS;
    const now = this.#now();
    const s = this.#ca.issueServing(this.#o.servingDnsNames ?? DEFAULT_SERVING_DNS_NAMES, now, ttl);
    this.#provider.set(s.certChainPem, s.keyPem);
    // Renewed at half its life: a week's certificate is replaced every three and a half days, or at once on a new CA.
    this.#servingRenewAt = now + (s.notAfter.getTime() - now) / 2;
  }

  /** Re-reads the Secret; a changed, valid one replaces the CA (and the serving certificate), an invalid one is refused whole. */
  async reload(): Promise<ReloadOutcome> {
    const read = await this.#o.store.read();
    const count = (outcome: ReloadOutcome): ReloadOutcome => {
      this.#o.metrics?.caReloads.inc({ result: outcome });
      return outcome;
    };
    if (!read.ok || !read.value) {
      this.#o.log?.('warn', 'identity CA: cannot re-read its Secret; the current CA keeps signing', { error: read.ok ? 'the Secret is gone' : read.error });
      return count('unreadable');
    }
    if (read.value.version === this.#version) return 'unchanged';
    const m = loadCaMaterial(read.value.data, this.#now());
    if (!m.ok) {
      this.#o.log?.('warn', 'identity CA: the edited Secret is not usable; the current CA keeps signing', { problems: m.error });
      return count('refused');
    }
    this.#ca = new CertificateAuthority(m.value);
    this.#version = read.value.version;
    this.#issueServing();
    this.#observe();
    this.#o.log?.('info', 'identity CA: reloaded from its edited Secret', { fingerprint: this.#ca.fingerprint, roots: m.value.roots.length });
    return count('reloaded');
  }

  /** One periodic step: reload, renew the serving certificate if it is half way through its life, check the published bundle. */
  async tick(): Promise<void> {
    await this.reload();
    if (this.#now() >= this.#servingRenewAt) this.#issueServing();
    await this.publishBundle();
  }

  /** Runs tick() every `intervalMs` until the returned function is called. */
  every(intervalMs = CA_RELOAD_INTERVAL_MS): () => void {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      this.tick().catch((e: unknown) => this.#o.log?.('error', 'identity CA: reload failed', { error: (e as Error).message })).finally(() => {
        running = false;
      });
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}

