// Checks a peer's certificate for mesh mTLS beyond chaining to a root: one SPIFFE URI SAN, in our trust domain, equal to the
// identity expected, with the EKU for its role (RELIABILITY #8). Pure: a certificate and a clock in, a verdict out. Also
// the intermediates a peer sent after its leaf (peerIntermediates), which every client-certificate check walks.
import { X509Certificate } from 'node:crypto';
import type tls from 'node:tls';
import { parseSpiffeId } from '../../api/proto/identity.ts';

export const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
export const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

export type PeerVerdict = { readonly ok: true; readonly identity: string } | { readonly ok: false; readonly reason: string };

export interface PeerExpectation {
  /** The peer acts as a TLS `server` (we dialed it) or `client` (it dialed us): its EKU must allow that role. */
  readonly role: 'server' | 'client';
  /** The exact SPIFFE id required, or null to accept any workload id of `trustDomain`. */
  readonly identity: string | null;
  readonly trustDomain: string;
}

/** One subject alternative name as Node prints it (`URI:spiffe://...`), with JSON-quoted values decoded. */
export interface SanEntry {
  readonly type: string;
  readonly value: string;
}

/**
 * Splits Node's `subjectAltName` text. Node quotes a value as a JSON string literal whenever printing it plainly would be
 * ambiguous (a `, ` or a control character inside, a NUL), so the text splits exactly; null when it is not well formed.
 */
export function parseSubjectAltName(text: string | undefined): SanEntry[] | null {
  const out: SanEntry[] = [];
  if (text === undefined || text === '') return out;
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon < 0) return null;
    const type = text.slice(i, colon);
    let value: string;
    let end: number;
    if (text.charCodeAt(colon + 1) === 34 /* '"' */) {
      end = colon + 2;
      while (end < text.length && text.charCodeAt(end) !== 34) end += text.charCodeAt(end) === 92 /* '\\' */ ? 2 : 1;
      if (end >= text.length) return null;
      end++;
      try {
        value = JSON.parse(text.slice(colon + 1, end)) as string;
      } catch {
        return null;
      }
    } else {
      const comma = text.indexOf(', ', colon + 1);
      end = comma < 0 ? text.length : comma;
      value = text.slice(colon + 1, end);
    }
    out.push({ type, value });
    if (end === text.length) break;
    if (text.slice(end, end + 2) !== ', ') return null;
    i = end + 2;
  }
  return out;
}

/**
 * The verdict on a peer certificate whose chain the TLS stack already verified against the trust bundle (validity dates
 * included; they are checked here again so that a verdict never depends on how the handshake was configured).
 */
export function verifyPeerCertificate(cert: X509Certificate, expect: PeerExpectation, nowMs: number): PeerVerdict {
  if (Date.parse(cert.validFrom) > nowMs) return { ok: false, reason: 'certificate not yet valid' };
  if (Date.parse(cert.validTo) < nowMs) return { ok: false, reason: 'certificate expired' };
  if (cert.ca) return { ok: false, reason: 'a CA certificate cannot be a workload identity' };
  const eku = cert.keyUsage;
  const need = expect.role === 'client' ? EKU_CLIENT_AUTH : EKU_SERVER_AUTH;
  // Without the EKU extension OpenSSL accepts any purpose; a workload certificate always carries it.
  if (eku === undefined || !eku.includes(need)) return { ok: false, reason: `certificate lacks the ${expect.role}Auth extended key usage` };
  const sans = parseSubjectAltName(cert.subjectAltName);
  if (sans === null) return { ok: false, reason: 'malformed subject alternative names' };
  const uris = sans.filter((s) => s.type === 'URI');
  // A DNS (or any other) SAN spelling a SPIFFE id is not one: only URI SANs count, and exactly one.
  if (uris.length === 0) return { ok: false, reason: 'no URI SAN (a SPIFFE id must be a URI SAN)' };
  if (uris.length > 1) return { ok: false, reason: 'several URI SANs' };
  const id = uris[0]!.value;
  const parsed = parseSpiffeId(id);
  if (parsed === null) return { ok: false, reason: `URI SAN is not a workload SPIFFE id: ${JSON.stringify(id.slice(0, 200))}` };
  if (parsed.trustDomain !== expect.trustDomain) return { ok: false, reason: `trust domain ${parsed.trustDomain}, expected ${expect.trustDomain}` };
  if (expect.identity !== null && id !== expect.identity) return { ok: false, reason: `peer is ${id}, expected ${expect.identity}` };
  return { ok: true, identity: id };
}

/** The certificates a peer sent after its leaf (at most 4; an unreadable one ends the list), for our own chain walk. */
export function peerIntermediates(socket: tls.TLSSocket): X509Certificate[] {
  const intermediates: X509Certificate[] = [];
  // The legacy chain objects are the only way to the certificates the peer sent after its leaf.
  let c = socket.getPeerCertificate(true) as tls.DetailedPeerCertificate | undefined;
  for (let i = 0; i < 4 && c?.issuerCertificate !== undefined && c.issuerCertificate !== c; i++) {
    c = c.issuerCertificate;
    try {
      intermediates.push(new X509Certificate(c.raw));
    } catch {
      break;
    }
  }
  return intermediates;
}
