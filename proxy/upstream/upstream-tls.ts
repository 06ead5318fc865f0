// The TLS a cluster originates to its endpoints' own server (a BackendTLSPolicy): one client context per cluster config
// (trust anchors, our client certificate), the SNI, and the check of the server certificate's names.
import { createHash, X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import type { UpstreamProtocol, UpstreamSubjectAltName, UpstreamTlsConfig } from '../../api/config/proxy-config.ts';
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';
import { caBundle, certificateAndKey, type TlsSecrets } from '../identity/tls-material.ts';

/** What the connector needs to originate TLS: built once per cluster config, shared by its endpoints' pools. */
export interface OriginatedTls {
  readonly servername: string;
  readonly context: tls.SecureContext;
  /** A digest of every input of the context and the checks: part of the pool key. */
  readonly version: string;
  readonly alpn: readonly string[];
  readonly checkServerIdentity: (host: string, cert: tls.PeerCertificate) => Error | undefined;
}

/** The `secret` resources a cluster's upstream TLS names. */
export function upstreamTlsSecrets(u: UpstreamTlsConfig | null | undefined): string[] {
  if (u == null) return [];
  return [...(u.caSecrets ?? []), ...(u.clientCertificate?.secret !== undefined ? [u.clientCertificate.secret] : [])];
}

/** Every CA certificate of the config, as PEM blocks (and the system's, when asked). */
function trustAnchors(u: UpstreamTlsConfig, secrets: TlsSecrets): string[] {
  const out = caBundle(u.caFiles ?? [], u.caSecrets ?? [], secrets, false);
  if (u.systemCas === true) out.push(...tls.rootCertificates);
  return out;
}

/** A certificate names one of `sans` (DNS names as TLS matches them, wildcards included; URIs exactly). */
function sanProblem(sans: readonly UpstreamSubjectAltName[], cert: tls.PeerCertificate): string | null {
  let names: string[];
  try {
    names = (new X509Certificate(cert.raw).subjectAltName ?? '').split(', ').filter((x) => x !== '');
  } catch {
    return 'unreadable certificate';
  }
  for (const want of sans) {
    if (want.type === 'uri' && names.includes(`URI:${want.value}`)) return null;
    if (want.type === 'dns' && tls.checkServerIdentity(want.value, cert) === undefined) return null;
  }
  return `the certificate names none of ${sans.map((x) => `${x.type === 'dns' ? 'DNS' : 'URI'}:${x.value}`).join(', ')}`;
}

/**
 * Builds the origination of a cluster; throws with the reason when a CA or the client certificate cannot be used (the
 * change is then refused whole). A failed check of the server certificate ends the handshake with SKEIN_ERR_UPSTREAM_TLS.
 */
export function buildOriginatedTls(u: UpstreamTlsConfig, protocol: UpstreamProtocol, secrets: TlsSecrets): OriginatedTls {
  const ca = trustAnchors(u, secrets);
  const own = u.clientCertificate === undefined ? null : certificateAndKey(u.clientCertificate, secrets);
  const context = tls.createSecureContext({ ca, minVersion: 'TLSv1.2', ...(own !== null ? { cert: own.cert, key: own.key } : {}) });
  const alpn = u.alpn ?? (protocol === 'http2' ? ['h2'] : ['http/1.1']);
  const sans = u.subjectAltNames ?? [];
  const version = createHash('sha256')
    .update(JSON.stringify({ u, ca, own: own?.cert ?? null }))
    .digest('hex')
    .slice(0, 16);
  const checkServerIdentity = (_host: string, cert: tls.PeerCertificate): Error | undefined => {
    // With subjectAltNames the SNI is for the server's choice of certificate only (Gateway API BackendTLSPolicy).
    const why = sans.length > 0 ? sanProblem(sans, cert) : (tls.checkServerIdentity(u.sni, cert)?.message ?? null);
    if (why === null) return undefined;
    return new ProxyError(ERRORS.upstreamTls, `ERR_TLS_CERT_ALTNAME_INVALID: ${why}`);
  };
  return { servername: u.sni, context, version, alpn, checkServerIdentity };
}
