// The server TLS contexts of a listener: TLS 1.2+ with AEAD ciphers only, and several certificates chosen by the client's SNI.
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { EKU_CLIENT_AUTH, peerIntermediates } from '../identity/peer-certificate.ts';
import { caBundle, certificateAndKey, type TlsSecrets } from '../identity/tls-material.ts';
import { chainReason } from '../identity/workload-tls.ts';
import type { ClientValidationConfig, ListenerTlsConfig, TlsCertificateConfig } from '../../api/config/proxy-config.ts';

/**
 * Forward-secret AEAD suites only (Mozilla's "intermediate" list): TLS 1.3's (all AEAD) and the ECDHE GCM / ChaCha20
 * suites of TLS 1.2; no CBC, no RSA key exchange, no SHA-1 MACs. TLS 1.3 suites must be named here too, or Node would
 * switch TLS 1.3 off.
 */
export const AEAD_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** anyExtendedKeyUsage: a certificate listing it may be used for any purpose. */
const EKU_ANY = '2.5.29.37.0';

function validAt(c: X509Certificate, nowMs: number): boolean {
  return Date.parse(c.validFrom) <= nowMs && nowMs <= Date.parse(c.validTo);
}

/**
 * The CA certificates a listener trusts for its clients, one PEM string each, from its files and secrets; throws saying
 * which one is missing, empty or not a CA certificate (a bad bundle refuses the whole change: nothing is half applied).
 */
export function clientCaCertificates(v: ClientValidationConfig, secrets: TlsSecrets): string[] {
  return caBundle(v.caFiles ?? [], v.caSecrets ?? [], secrets, true);
}

function context(c: TlsCertificateConfig, secrets: TlsSecrets, ca: readonly string[] | null): { ctx: tls.SecureContext; names: string[] } {
  const { cert, key } = certificateAndKey(c, secrets);
  const ctx = tls.createSecureContext({ cert, key, minVersion: 'TLSv1.2', ciphers: AEAD_CIPHERS, honorCipherOrder: true, ...(ca !== null ? { ca: [...ca] } : {}) });
  // The names a certificate is for are its DNS SANs (the CN is not consulted, as browsers do not).
  const san = new X509Certificate(cert).subjectAltName ?? '';
  const names = san
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4).toLowerCase());
  return { ctx, names };
}

/** The contexts of one listener, loaded from its files or secrets; `select` is the SNI callback's lookup. */
export class ServerTlsContexts {
  readonly default: tls.SecureContext;
  readonly #exact = new Map<string, tls.SecureContext>();
  readonly #wildcards = new Map<string, tls.SecureContext>();
  /** False with a single certificate: no SNI callback at all (nothing to choose, nothing to throw). */
  readonly bySni: boolean;
  /**
   * The TLSSocket options of client certificate validation: none, a certificate asked for and required (`require`), or
   * asked for and checked but not required (`allow-insecure-fallback`). Every context of the listener trusts the same CAs.
   */
  readonly clientAuth: { readonly requestCert: boolean; readonly rejectUnauthorized: boolean };
  /** The CAs client certificates must chain to (`require` mode); empty when no certificate is required. */
  readonly #clientRoots: readonly X509Certificate[];

  /** Throws (with the file's error) when a file or secret is missing or is not a certificate / key / CA certificate. */
  constructor(t: ListenerTlsConfig, secrets: TlsSecrets = new Map()) {
    const v = t.clientValidation ?? null;
    const ca = v === null ? null : clientCaCertificates(v, secrets);
    this.clientAuth = { requestCert: v !== null, rejectUnauthorized: v !== null && v.mode === 'require' };
    this.#clientRoots = this.clientAuth.rejectUnauthorized && ca !== null ? ca.map((p) => new X509Certificate(p)) : [];
    this.default = context(t, secrets, ca).ctx;
    const more = t.certificates ?? [];
    this.bySni = more.length > 0;
    for (const c of more) {
      const { ctx, names } = context(c, secrets, ca);
      for (const n of names) {
        // The first certificate listed for a name wins.
        const map = n.startsWith('*.') ? this.#wildcards : this.#exact;
        const key = n.startsWith('*.') ? n.slice(2) : n;
        if (!map.has(key)) map.set(key, ctx);
      }
    }
  }

  /** The context for an SNI name: exact name, then a wildcard for its parent (one label), else the default. */
  select(servername: string): tls.SecureContext {
    const name = servername.toLowerCase();
    const exact = this.#exact.get(name);
    if (exact !== undefined) return exact;
    const dot = name.indexOf('.');
    if (dot > 0) {
      const wild = this.#wildcards.get(name.slice(dot + 1));
      if (wild !== undefined) return wild;
    }
    return this.default;
  }

  /**
   * Why a handshake's client certificate is refused (null: accepted, or none is required). node:tls checks the chain only
   * for sockets of a tls.Server; a socket we wrap ourselves completes its handshake whatever the certificate (only a
   * missing one fails it), so the certificate is judged here once the handshake is done: it must be valid now, allow
   * client authentication when it lists extended key usages, and chain (through what the client sent) to a listener CA.
   */
  clientCertificateProblem(socket: tls.TLSSocket, nowMs: number): string | null {
    if (!this.clientAuth.rejectUnauthorized) return null;
    const leaf = socket.getPeerX509Certificate();
    if (leaf === undefined) return 'no client certificate';
    if (!validAt(leaf, nowMs)) return 'client certificate not valid now';
    const eku = leaf.keyUsage ?? [];
    if (eku.length > 0 && !eku.includes(EKU_CLIENT_AUTH) && !eku.includes(EKU_ANY)) return 'client certificate lacks the clientAuth extended key usage';
    const intermediates = peerIntermediates(socket);
    const chain = chainReason(leaf, intermediates, this.#clientRoots, nowMs);
    return chain === null ? null : `client certificate ${chain === 'does not chain to a root of the trust bundle' ? 'does not chain to a CA of the listener' : chain}`;
  }

  /** For tls.TLSSocket's SNICallback: never throws (RELIABILITY 13: a throwing SNI callback must not crash anything). */
  readonly sniCallback = (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void): void => {
    let ctx: tls.SecureContext;
    try {
      ctx = this.select(String(servername));
    } catch {
      ctx = this.default;
    }
    cb(null, ctx);
  };
}
