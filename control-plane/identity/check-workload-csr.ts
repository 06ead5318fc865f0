// Decides whether a CSR asks for exactly one workload identity and nothing else (a pure function: PEM and identity in, verdict out).
//
// The leaf the CA signs is built from the checked identity, never copied from the CSR; refusing everything else here still
// matters, because a proxy that asks for more than it may have is broken or hostile, and either deserves a loud refusal.
import { parseCsr, type ParsedCsr, type SubjectAltName } from '../../api/identity/pkcs10.ts';
import { err, ok, type Result } from '../../api/result.ts';
import { rejection, type IdentityRejection } from './identity-rejection.ts';

function describe(san: SubjectAltName): string {
  // JSON escapes NUL and control characters, so the message shows what was really asked for.
  return san.type === 'other' ? `GeneralName [${san.tag}]` : `${san.type.toUpperCase()}:${JSON.stringify(san.value)}`;
}

/** The parsed CSR when it is an ECDSA P-256 request with no subject whose only SAN is the URI `identity`. */
export function checkWorkloadCsr(csrPem: string, identity: string): Result<ParsedCsr, IdentityRejection> {
  const parsed = parseCsr(csrPem);
  if (!parsed.ok) {
    const { code, message } = parsed.error;
    if (code === 'SKEIN_ERR_CSR_MALFORMED') return err(rejection('csr_malformed', `malformed CSR: ${message}`));
    if (code === 'SKEIN_ERR_CSR_UNSUPPORTED') return err(rejection('csr_bad_key_type', message));
    return err(rejection('csr_bad_signature', message));
  }
  const csr = parsed.value;
  if (csr.keyType !== 'ec' || csr.namedCurve !== 'prime256v1') {
    return err(rejection('csr_bad_key_type', `the CSR key is ${csr.keyType}${csr.namedCurve ? ` ${csr.namedCurve}` : ''}; workload keys are ECDSA P-256`));
  }
  if (csr.subject.length > 0) return err(rejection('csr_subject_not_empty', `the CSR has a subject (${csr.subject.length} attributes); leave it empty`));
  if (csr.otherExtensions.length > 0 || csr.otherAttributes.length > 0) {
    const what = [...csr.otherExtensions.map((e) => `extension ${e.oid}`), ...csr.otherAttributes.map((a) => `attribute ${a}`)];
    return err(rejection('csr_extra_extensions', `the CSR requests ${what.join(', ')}; only subjectAltName is allowed`));
  }
  const extra = csr.sans.filter((s) => s.type !== 'uri');
  if (extra.length > 0) return err(rejection('csr_extra_sans', `the CSR names ${extra.map(describe).join(', ')}; only the URI SAN is allowed`));
  const uris = csr.sans.filter((s): s is Extract<SubjectAltName, { type: 'uri' }> => s.type === 'uri');
  if (uris.length === 0) return err(rejection('csr_no_uri_san', 'the CSR names no URI SAN'));
  if (uris.length > 1) return err(rejection('csr_several_uri_sans', `the CSR names ${uris.length} URI SANs; exactly one is allowed`));
  // Byte-for-byte equality: no normalisation, so case, NUL, wildcards, ports, queries and trailing slashes all fail here.
  if (uris[0]!.value !== identity) {
    return err(rejection('csr_identity_mismatch', `the CSR asks for ${JSON.stringify(uris[0]!.value)}, not ${JSON.stringify(identity)}`));
  }
  return ok(csr);
}
