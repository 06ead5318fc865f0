// The server TLS contexts of a listener: TLS 1.2+ with AEAD ciphers only, and several certificates chosen by the client's SNI.
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import type { SecretResource } from '../../api/config/config-resources.ts';
import type { ListenerTlsConfig, TlsCertificateConfig } from '../../api/config/proxy-config.ts';

/** The `secret` resources a listener's certificates may name, by name. */
export type TlsSecrets = ReadonlyMap<string, SecretResource>;

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

/** The PEM of a certificate and its key, from its files or its secret resource; throws saying what is missing. */
function material(c: TlsCertificateConfig, secrets: TlsSecrets): { cert: Buffer | string; key: Buffer | string } {
  if (c.secret !== undefined) {
    const s = secrets.get(c.secret);
    if (s === undefined) throw new Error(`unknown secret "${c.secret}"`);
    if (s.certificateChain === null || s.privateKey === null) throw new Error(`secret "${c.secret}" needs a certificateChain and a privateKey`);
    return { cert: s.certificateChain, key: s.privateKey };
  }
  return { cert: readFileSync(c.certFile!), key: readFileSync(c.keyFile!) };
}

function context(c: TlsCertificateConfig, secrets: TlsSecrets): { ctx: tls.SecureContext; names: string[] } {
  const { cert, key } = material(c, secrets);
  const ctx = tls.createSecureContext({ cert, key, minVersion: 'TLSv1.2', ciphers: AEAD_CIPHERS, honorCipherOrder: true });
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

  /** Throws (with the file's error) when a file or secret is missing or is not a certificate / key. */
  constructor(t: ListenerTlsConfig, secrets: TlsSecrets = new Map()) {
    this.default = context(t, secrets).ctx;
    const more = t.certificates ?? [];
    this.bySni = more.length > 0;
    for (const c of more) {
      const { ctx, names } = context(c, secrets);
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
