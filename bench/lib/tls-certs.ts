// Creates a throwaway CA and one ECDSA P-256 leaf (server + client auth) with openssl, for the TLS hop between the reference proxies.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BenchCerts {
  /** CA certificate (PEM). */
  readonly caPem: string;
  /** Leaf certificate followed by its private key, the form HAProxy's `crt` takes. */
  readonly leafWithKeyPem: string;
  readonly leafCertPem: string;
  readonly leafKeyPem: string;
}

/** `dnsName`: the leaf's DNS SAN and CN (the sidecar pair's hop dials `inbound.bench`; the ingress bench its own host). */
export function makeCerts(dir: string, dnsName = 'inbound.bench'): BenchCerts {
  const p = (n: string): string => join(dir, n);
  const ssl = (...args: string[]): void => { execFileSync('openssl', args, { stdio: 'pipe' }); };
  ssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', p('ca.key'));
  ssl('req', '-x509', '-new', '-key', p('ca.key'), '-subj', '/CN=skein-bench-ca', '-days', '2', '-out', p('ca.pem'));
  ssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', p('leaf.key'));
  ssl('req', '-new', '-key', p('leaf.key'), '-subj', `/CN=${dnsName}`, '-out', p('leaf.csr'));
  writeFileSync(p('leaf.ext'), `subjectAltName=DNS:${dnsName},URI:spiffe://bench.local/ns/default/sa/bench\n` +
    'extendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature\n');
  ssl('x509', '-req', '-in', p('leaf.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '2',
    '-extfile', p('leaf.ext'), '-out', p('leaf.pem'));
  writeFileSync(p('leaf-with-key.pem'), readFileSync(p('leaf.pem'), 'utf8') + readFileSync(p('leaf.key'), 'utf8'));
  return { caPem: p('ca.pem'), leafWithKeyPem: p('leaf-with-key.pem'), leafCertPem: p('leaf.pem'), leafKeyPem: p('leaf.key') };
}
