// Keeps the webhook's serving certificate fresh: reissues the leaf before it expires and rolls the CA with an overlap, so
// that the API server always trusts whatever certificate is being served (no failed admission during a rotation).
import { createCertificateAuthority, issueServingCertificate, type CertificateAuthority, type ServingCertificate } from './serving-cert.ts';

export interface ServingCertOptions {
  readonly dnsNames: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly caValidityMs: number;
  readonly leafValidityMs: number;
  /** Rotate when this fraction of a certificate's lifetime has passed (e.g. 2/3). */
  readonly renewAtFraction?: number;
  /** After publishing a new CA, wait this long before serving a leaf it signed (the API server's config has to catch up). */
  readonly caPropagationDelayMs?: number;
  readonly now?: () => number;
}

export interface ServingMaterial {
  readonly leaf: ServingCertificate;
  /** The CAs the API server must trust right now (PEM), newest first. */
  readonly trustedCaPems: readonly string[];
}

/** Writes the CA bundle where the API server reads it (the MutatingWebhookConfiguration); no-op outside a cluster. */
export type CaBundlePublisher = (caPems: readonly string[]) => Promise<void>;
/** Swaps the server's TLS context; new connections get the new certificate, open ones keep theirs. */
export type LeafInstaller = (leaf: ServingCertificate) => void;

export const DEFAULT_CA_VALIDITY_MS = 365 * 24 * 3600_000;
export const DEFAULT_LEAF_VALIDITY_MS = 24 * 3600_000;

export class ServingCertManager {
  readonly #opts: ServingCertOptions;
  readonly #now: () => number;
  #ca: CertificateAuthority;
  #previousCa: CertificateAuthority | null = null;
  #leaf: ServingCertificate;
  /** When the leaf was issued: its notBefore is backdated for clock skew and must not count as lifetime used. */
  #leafIssuedAt = 0;
  #timer: NodeJS.Timeout | null = null;
  #rotating: Promise<void> | null = null;

  constructor(opts: ServingCertOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#ca = createCertificateAuthority({ commonName: 'skein-injector-ca', validityMs: opts.caValidityMs, now: this.#now() });
    this.#leaf = this.#issueLeaf();
  }

  material(): ServingMaterial {
    return { leaf: this.#leaf, trustedCaPems: this.trustedCaPems() };
  }

  trustedCaPems(): string[] {
    const now = this.#now();
    const pems = [this.#ca.certPem];
    if (this.#previousCa && this.#previousCa.notAfter.getTime() > now) pems.push(this.#previousCa.certPem);
    return pems;
  }

  #issueLeaf(): ServingCertificate {
    this.#leafIssuedAt = this.#now();
    return issueServingCertificate(this.#ca, {
      dnsNames: this.#opts.dnsNames,
      ipAddresses: this.#opts.ipAddresses ?? [],
      validityMs: this.#opts.leafValidityMs,
      now: this.#now(),
    });
  }

  #due(notBefore: number, notAfter: number): boolean {
    const fraction = this.#opts.renewAtFraction ?? 2 / 3;
    return this.#now() >= notBefore + (notAfter - notBefore) * fraction;
  }

  /** What a rotation now would do. */
  pendingRotation(): 'none' | 'leaf' | 'ca' {
    const caStart = this.#ca.notAfter.getTime() - this.#opts.caValidityMs;
    // Roll the CA early enough that a full leaf lifetime fits before it expires.
    if (this.#due(caStart, this.#ca.notAfter.getTime()) || this.#ca.notAfter.getTime() - this.#now() < this.#opts.leafValidityMs * 1.5) return 'ca';
    if (this.#due(this.#leafIssuedAt, this.#leaf.notAfter.getTime())) return 'leaf';
    return 'none';
  }

  /** Rotates what is due (or the leaf, when `force`); serialised, so overlapping calls share one rotation. */
  rotate(install: LeafInstaller, publish: CaBundlePublisher, force: 'leaf' | 'ca' | null = null): Promise<void> {
    this.#rotating ??= this.#rotateOnce(install, publish, force).finally(() => {
      this.#rotating = null;
    });
    return this.#rotating;
  }

  async #rotateOnce(install: LeafInstaller, publish: CaBundlePublisher, force: 'leaf' | 'ca' | null): Promise<void> {
    const what = force ?? this.pendingRotation();
    if (what === 'none') return;
    if (what === 'ca') {
      const next = createCertificateAuthority({ commonName: 'skein-injector-ca', validityMs: this.#opts.caValidityMs, now: this.#now() });
      // Trust first, serve later: the old CA stays in the bundle while certificates it signed may still be presented.
      await publish([next.certPem, this.#ca.certPem]);
      const delay = this.#opts.caPropagationDelayMs ?? 0;
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      this.#previousCa = this.#ca;
      this.#ca = next;
    }
    this.#leaf = this.#issueLeaf();
    install(this.#leaf);
  }

  /** Checks every `intervalMs`; errors (e.g. the API server briefly unreachable) are reported and retried next tick. */
  start(install: LeafInstaller, publish: CaBundlePublisher, intervalMs: number, onError: (e: unknown) => void): void {
    this.stop();
    this.#timer = setInterval(() => {
      this.rotate(install, publish).catch(onError);
    }, intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}
