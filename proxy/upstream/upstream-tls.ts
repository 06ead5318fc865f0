// The TLS a cluster originates to its endpoints' own server (a BackendTLSPolicy): one client context per cluster config
// (trust anchors, our client certificate), the SNI, and the check of the server certificate's names.
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { SecretResource } from '../../api/config/config-resources.ts';
import type { UpstreamProtocol, UpstreamSubjectAltName, UpstreamTlsConfig } from '../../api/config/proxy-config.ts';
import { ERRORS, ProxyError } from '../errors/proxy-error.ts';

/** What the connector needs to originate TLS: built once per cluster config, shared by its endpoints' pools. */
export interface OriginatedTls {
  readonly servername: string;
  readonly context: tls.SecureContext;
  /** A digest of every input of the context and the checks: part of the pool key. */
  readonly version: string;
  readonly alpn: readonly string[];
  readonly checkServerIdentity: (host: string, cert: tls.PeerCertificate) => Error | undefined;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The `secret` resources a cluster's upstream TLS names. */
export function upstreamTlsSecrets(u: UpstreamTlsConfig | null | undefined): string[] {
  if (u == null) return [];
  return [...(u.caSecrets ?? []), ...(u.clientCertificate?.secret !== undefined ? [u.clientCertificate.secret] : [])];
}

/** Every CA certificate of the config, as PEM blocks; throws naming the source that is missing, empty or unreadable. */
function trustAnchors(u: UpstreamTlsConfig, secrets: ReadonlyMap<string, SecretResource>): string[] {
  const out: string[] = [];
  const add = (pem: string, from: string): void => {
    const blocks = pem.match(PEM_CERT) ?? [];
    if (blocks.length === 0) throw new Error(`${from} holds no PEM certificate`);
    for (const b of blocks) {
      try {
        new X509Certificate(b);
      } catch (e) {
        throw new Error(`${from}: a certificate does not parse (${(e as Error).message})`, { cause: e });
      }
      out.push(b);
    }
  };
  for (const f of u.caFiles ?? []) add(readFileSync(f, 'utf8'), `CA file ${f}`);
  for (const n of u.caSecrets ?? []) {
    const s = secrets.get(n);
    if (s === undefined) throw new Error(`unknown secret "${n}"`);
    if (s.trustBundle === null) throw new Error(`secret "${n}" needs a trustBundle (the CA certificates)`);
    add(s.trustBundle, `secret "${n}"`);
  }
  if (u.systemCas === true) out.push(...tls.rootCertificates);
  return out;
}

function clientMaterial(u: UpstreamTlsConfig, secrets: ReadonlyMap<string, SecretResource>): { cert: string; key: string } | null {
  const c = u.clientCertificate;
  if (c === undefined) return null;
  if (c.secret !== undefined) {
    const s = secrets.get(c.secret);
    if (s === undefined) throw new Error(`unknown secret "${c.secret}"`);
    if (s.certificateChain === null || s.privateKey === null) throw new Error(`secret "${c.secret}" needs a certificateChain and a privateKey`);
    return { cert: s.certificateChain, key: s.privateKey };
  }
  return { cert: readFileSync(c.certFile!, 'utf8'), key: readFileSync(c.keyFile!, 'utf8') };
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
export function buildOriginatedTls(u: UpstreamTlsConfig, protocol: UpstreamProtocol, secrets: ReadonlyMap<string, SecretResource>): OriginatedTls {
  const ca = trustAnchors(u, secrets);
  const own = clientMaterial(u, secrets);
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
