// Certify: a proxy's CSR and projected token in, its leaf, chain and trust bundle out, or a refusal as a value.
//
// Cheap, local checks run first (identity format, trust domain, the CSR), so garbage never costs a TokenReview; then the
// API server says who the token proves, and that must be exactly the identity asked for.
import { parseSpiffeId, spiffeId, type CertifyRequest, type CertifyResponse } from '../../api/proto/identity.ts';
import { err, ok, type Result } from '../../api/result.ts';
import type { CertificateAuthority } from './certificate-authority.ts';
import { checkWorkloadCsr } from './check-workload-csr.ts';
import { rejection, type IdentityRejection } from './identity-rejection.ts';
import type { IdentityMetrics } from './identity-metrics.ts';
import type { TokenReviewer } from './token-reviewer.ts';

/** The longest identity we read; a real one is well under 300 bytes. */
export const MAX_IDENTITY_BYTES = 512;

export interface IdentityServiceOptions {
  readonly trustDomain: string;
  /** The CA in use now (it may be swapped when its Secret changes); null while none is loaded. */
  readonly ca: () => CertificateAuthority | null;
  readonly reviewer: TokenReviewer;
  readonly leafTtlMs: number;
  readonly metrics?: IdentityMetrics;
  readonly now?: () => number;
}

export class IdentityService {
  readonly #o: IdentityServiceOptions;
  readonly #now: () => number;

  constructor(opts: IdentityServiceOptions) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
  }

  async certify(req: CertifyRequest): Promise<Result<CertifyResponse, IdentityRejection>> {
    const started = process.hrtime.bigint();
    const result = await this.#certify(req);
    const m = this.#o.metrics;
    if (m) {
      m.latency.observe(Number(process.hrtime.bigint() - started) / 1e9);
      if (result.ok) m.issued.inc();
      else m.reject(result.error.reason);
    }
    return result;
  }

  async #certify(req: CertifyRequest): Promise<Result<CertifyResponse, IdentityRejection>> {
    const identity = req.identity ?? '';
    const parts = identity.length <= MAX_IDENTITY_BYTES ? parseSpiffeId(identity) : null;
    if (!parts) return err(rejection('identity_malformed', `${JSON.stringify(identity.slice(0, 120))} is not spiffe://<trust-domain>/ns/<namespace>/sa/<serviceaccount>`));
    if (parts.trustDomain !== this.#o.trustDomain) {
      return err(rejection('trust_domain_mismatch', `this CA signs for trust domain ${this.#o.trustDomain}, not ${parts.trustDomain}`));
    }
    const csr = checkWorkloadCsr(req.csrPem ?? '', identity);
    if (!csr.ok) return csr;
    if (!req.token) return err(rejection('token_missing', 'no ServiceAccount token in the request'));
    const proven = await this.#o.reviewer.review(req.token);
    if (!proven.ok) return proven;
    const tokenId = spiffeId(this.#o.trustDomain, proven.value.namespace, proven.value.serviceAccount);
    if (tokenId !== identity) return err(rejection('identity_mismatch', `the token proves ${tokenId}, not ${identity}`));
    const ca = this.#o.ca();
    if (!ca) return err(rejection('ca_unavailable', 'no CA is loaded yet'));
    try {
      const leaf = ca.issueWorkload(csr.value.publicKeySpki, identity, this.#now(), this.#o.leafTtlMs);
      return ok({ certificateChainPem: leaf.certificateChainPem, trustBundlePem: ca.trustBundlePem, validUntil: leaf.notAfter.toISOString() });
    } catch (e) {
      return err(rejection('ca_unavailable', `signing failed: ${(e as Error).message}`));
    }
  }
}
