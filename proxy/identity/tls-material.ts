// TLS material named by the proxy config, for the contexts of TLS listeners and of TLS originated to a cluster: a
// certificate and its key, and a bundle of CA certificates, from files or `secret` resources. Each throws naming the
// source that is missing, empty or unreadable (a bad one refuses the whole config change: nothing is half applied).
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { SecretResource } from '../../api/config/config-resources.ts';
import type { TlsCertificateConfig } from '../../api/config/proxy-config.ts';

/** The `secret` resources of the config, by name. */
export type TlsSecrets = ReadonlyMap<string, SecretResource>;

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The PEM of a certificate and its key, from its files or its secret resource. */
export function certificateAndKey(c: TlsCertificateConfig, secrets: TlsSecrets): { cert: string; key: string } {
  if (c.secret !== undefined) {
    const s = secrets.get(c.secret);
    if (s === undefined) throw new Error(`unknown secret "${c.secret}"`);
    if (s.certificateChain === null || s.privateKey === null) throw new Error(`secret "${c.secret}" needs a certificateChain and a privateKey`);
    return { cert: s.certificateChain, key: s.privateKey };
  }
  return { cert: readFileSync(c.certFile!, 'utf8'), key: readFileSync(c.keyFile!, 'utf8') };
}

/**
 * Every certificate of the CA files and the secrets' trust bundles, one PEM block each. With `caOnly`, a certificate that
 * is not a CA (basicConstraints CA:TRUE) is refused too.
 */
export function caBundle(files: readonly string[], secretNames: readonly string[], secrets: TlsSecrets, caOnly: boolean): string[] {
  const out: string[] = [];
  const add = (pem: string, from: string): void => {
    const blocks = pem.match(PEM_CERT) ?? [];
    if (blocks.length === 0) throw new Error(`${from} holds no PEM certificate`);
    for (const b of blocks) {
      let x: X509Certificate;
      try {
        x = new X509Certificate(b);
      } catch (e) {
        throw new Error(`${from}: a certificate does not parse (${(e as Error).message})`, { cause: e });
      }
      if (caOnly && !x.ca) throw new Error(`${from}: ${x.subject.replace(/\n/g, ', ')} is not a CA certificate`);
      out.push(b);
    }
  };
  for (const f of files) add(readFileSync(f, 'utf8'), `CA file ${f}`);
  for (const n of secretNames) {
    const s = secrets.get(n);
    if (s === undefined) throw new Error(`unknown secret "${n}"`);
    if (s.trustBundle === null) throw new Error(`secret "${n}" needs a trustBundle (the CA certificates)`);
    add(s.trustBundle, `secret "${n}"`);
  }
  return out;
}
