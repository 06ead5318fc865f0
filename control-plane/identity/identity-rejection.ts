// The identity service's catalogue of refusals: one reason per failure, its gRPC status and its stable SKEIN_ERR_* code.
// docs/identity.md lists the same table (a unit test keeps them in step); the metric label is the reason.
import { status as GrpcStatus } from '@grpc/grpc-js';

export const IDENTITY_REJECTIONS = {
  identity_malformed: { status: GrpcStatus.INVALID_ARGUMENT, code: 'SKEIN_ERR_ID_IDENTITY_MALFORMED', about: 'the requested identity is not spiffe://<trust-domain>/ns/<namespace>/sa/<serviceaccount>' },
  trust_domain_mismatch: { status: GrpcStatus.PERMISSION_DENIED, code: 'SKEIN_ERR_ID_TRUST_DOMAIN', about: 'the requested identity belongs to another trust domain' },
  csr_malformed: { status: GrpcStatus.INVALID_ARGUMENT, code: 'SKEIN_ERR_ID_CSR_MALFORMED', about: 'the CSR is not one canonical DER PKCS#10 request in PEM (or is too large)' },
  csr_bad_signature: { status: GrpcStatus.INVALID_ARGUMENT, code: 'SKEIN_ERR_ID_CSR_SIGNATURE', about: 'the CSR signature does not verify with its own key' },
  csr_bad_key_type: { status: GrpcStatus.INVALID_ARGUMENT, code: 'SKEIN_ERR_ID_CSR_KEY_TYPE', about: 'the CSR key is not ECDSA P-256, or its signature algorithm is not supported' },
  csr_subject_not_empty: { status: GrpcStatus.INVALID_ARGUMENT, code: 'SKEIN_ERR_ID_CSR_SUBJECT', about: 'the CSR has a subject; workload certificates have none' },
  csr_no_uri_san: { status: GrpcStatus.INVALID_ARGUMENT, code: 'SKEIN_ERR_ID_CSR_NO_URI', about: 'the CSR names no URI SAN' },
  csr_several_uri_sans: { status: GrpcStatus.INVALID_ARGUMENT, code: 'SKEIN_ERR_ID_CSR_SEVERAL_URIS', about: 'the CSR names more than one URI SAN' },
  csr_extra_sans: { status: GrpcStatus.INVALID_ARGUMENT, code: 'SKEIN_ERR_ID_CSR_EXTRA_SANS', about: 'the CSR names DNS, IP, email or other SANs besides its URI' },
  csr_extra_extensions: { status: GrpcStatus.INVALID_ARGUMENT, code: 'SKEIN_ERR_ID_CSR_EXTENSIONS', about: 'the CSR requests extensions or attributes other than subjectAltName' },
  csr_identity_mismatch: { status: GrpcStatus.PERMISSION_DENIED, code: 'SKEIN_ERR_ID_CSR_IDENTITY', about: 'the CSR\'s URI SAN is not exactly the requested identity' },
  token_missing: { status: GrpcStatus.UNAUTHENTICATED, code: 'SKEIN_ERR_ID_TOKEN_MISSING', about: 'no ServiceAccount token was sent' },
  token_invalid: { status: GrpcStatus.UNAUTHENTICATED, code: 'SKEIN_ERR_ID_TOKEN_INVALID', about: 'the API server does not accept the token (bad signature, revoked, its pod or ServiceAccount gone)' },
  token_expired: { status: GrpcStatus.UNAUTHENTICATED, code: 'SKEIN_ERR_ID_TOKEN_EXPIRED', about: 'the token has expired' },
  token_wrong_audience: { status: GrpcStatus.UNAUTHENTICATED, code: 'SKEIN_ERR_ID_TOKEN_AUDIENCE', about: 'the token was not issued for the skein.dev/identity audience' },
  token_not_service_account: { status: GrpcStatus.PERMISSION_DENIED, code: 'SKEIN_ERR_ID_TOKEN_NOT_SA', about: 'the token authenticates a user, not a ServiceAccount' },
  identity_mismatch: { status: GrpcStatus.PERMISSION_DENIED, code: 'SKEIN_ERR_ID_IDENTITY_MISMATCH', about: 'the token proves another ServiceAccount than the requested identity' },
  token_review_failed: { status: GrpcStatus.UNAVAILABLE, code: 'SKEIN_ERR_ID_TOKEN_REVIEW', about: 'the TokenReview could not be made (API server unreachable or refusing); retry' },
  ca_unavailable: { status: GrpcStatus.UNAVAILABLE, code: 'SKEIN_ERR_ID_CA_UNAVAILABLE', about: 'the CA could not sign (not loaded, or signing failed); retry' },
} as const;

export type IdentityRejectionReason = keyof typeof IDENTITY_REJECTIONS;

/** A refusal as a value: the reason (metric label, catalogue key) and a message for the caller. */
export interface IdentityRejection {
  readonly reason: IdentityRejectionReason;
  readonly message: string;
}

/** Messages reach the caller capped: a token or CSR echoed back must never make the status trailer large. */
export const MAX_REJECTION_MESSAGE = 256;

export function rejection(reason: IdentityRejectionReason, message: string): IdentityRejection {
  return { reason, message: message.length > MAX_REJECTION_MESSAGE ? `${message.slice(0, MAX_REJECTION_MESSAGE - 3)}...` : message };
}
