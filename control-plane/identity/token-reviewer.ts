// Proves who a proxy is: its projected ServiceAccount token checked by the API server (a TokenReview with our audience).
//
// The API server alone decides whether a token is good. Only when it says no do we read the token's claims (unverified)
// to name the refusal precisely: expired, issued for another audience, or otherwise invalid (revoked, pod or SA deleted).
import type { AuthenticationV1Api, KubeConfig, V1TokenReviewStatus } from '@kubernetes/client-node';
import { decodeJwt } from 'jose';
import { IDENTITY_TOKEN_AUDIENCE } from '../../api/proto/identity.ts';
import { err, ok, type Result } from '../../api/result.ts';
import { kubeErrorCode } from '../kube-error-code.ts';
import { rejection, type IdentityRejection } from './identity-rejection.ts';

/** The ServiceAccount a token proves. */
export interface TokenIdentity {
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** The seam the identity service depends on; tests give it a fake, the control plane a KubernetesTokenReviewer. */
export interface TokenReviewer {
  review(token: string): Promise<Result<TokenIdentity, IdentityRejection>>;
}

/** Projected tokens are about 1 KiB; a much larger one is refused without troubling the API server. */
export const MAX_TOKEN_BYTES = 8 * 1024;
export const TOKEN_REVIEW_TIMEOUT_MS = 5_000;

const SA_USER_RE = /^system:serviceaccount:([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/;

/** Reads a TokenReview's answer: who the token proves, or why not. Pure (the clock is an argument). */
export function judgeTokenReview(status: V1TokenReviewStatus | undefined, token: string, now: number): Result<TokenIdentity, IdentityRejection> {
  if (status?.authenticated === true) {
    // With spec.audiences set the API server answers the audiences the token is good for; none of ours means not for us.
    if (!(status.audiences ?? []).includes(IDENTITY_TOKEN_AUDIENCE)) {
      return err(rejection('token_wrong_audience', `the token is not valid for the audience ${IDENTITY_TOKEN_AUDIENCE}`));
    }
    const m = SA_USER_RE.exec(status.user?.username ?? '');
    if (!m) return err(rejection('token_not_service_account', `the token authenticates ${JSON.stringify(status.user?.username ?? '')}, not a ServiceAccount`));
    return ok({ namespace: m[1]!, serviceAccount: m[3]! });
  }
  const why = status?.error ? `: ${status.error}` : '';
  let claims: { exp?: number; aud?: string | string[] } | null;
  try {
    claims = decodeJwt(token);
  } catch {
    claims = null;
  }
  if (claims?.exp !== undefined && claims.exp * 1000 <= now) return err(rejection('token_expired', `the token expired at ${new Date(claims.exp * 1000).toISOString()}`));
  if (claims?.aud !== undefined) {
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.includes(IDENTITY_TOKEN_AUDIENCE)) return err(rejection('token_wrong_audience', `the token was issued for ${JSON.stringify(aud)}, not ${IDENTITY_TOKEN_AUDIENCE}`));
  }
  return err(rejection('token_invalid', `the API server refused the token${why}`));
}


export class KubernetesTokenReviewer implements TokenReviewer {
  readonly #api: AuthenticationV1Api;
  readonly #timeoutMs: number;
  readonly #now: () => number;

  constructor(api: AuthenticationV1Api, opts: { timeoutMs?: number; now?: () => number } = {}) {
    this.#api = api;
    this.#timeoutMs = opts.timeoutMs ?? TOKEN_REVIEW_TIMEOUT_MS;
    this.#now = opts.now ?? Date.now;
  }

  static async fromKubeConfig(kc: KubeConfig): Promise<KubernetesTokenReviewer> {
    const { AuthenticationV1Api: Api } = await import('@kubernetes/client-node');
    return new KubernetesTokenReviewer(kc.makeApiClient(Api));
  }

  async review(token: string): Promise<Result<TokenIdentity, IdentityRejection>> {
    if (token.length > MAX_TOKEN_BYTES) return err(rejection('token_invalid', `the token is larger than ${MAX_TOKEN_BYTES} bytes`));
    let timer: NodeJS.Timeout | undefined;
    try {
      const review = await Promise.race([
        this.#api.createTokenReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [IDENTITY_TOKEN_AUDIENCE] } } }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${this.#timeoutMs} ms`)), this.#timeoutMs);
        }),
      ]);
      return judgeTokenReview(review.status, token, this.#now());
    } catch (e) {
      const code = kubeErrorCode(e);
      const hint = code === 403 ? ' (the control plane needs RBAC create on tokenreviews)' : '';
      return err(rejection('token_review_failed', `TokenReview failed${code ? ` with HTTP ${code}` : ''}${hint}: ${(e as Error).message}`));
    } finally {
      clearTimeout(timer);
    }
  }
}
