// Unit tests of the local cluster PKI: chains verify, SANs and Kubernetes identities (CN user, O groups) are where the apiserver looks.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueCertificate } from './certificates.ts';

describe('local cluster certificates', () => {
  const ca = createCertificateAuthority('test-ca');

  it('makes a self-signed CA certificate', () => {
    const c = new X509Certificate(ca.certPem);
    expect(c.ca).toBe(true);
    expect(c.verify(c.publicKey)).toBe(true);
    expect(c.subject).toBe('CN=test-ca');
  });

  it('issues a serving certificate with DNS and IP SANs that chains to the CA', () => {
    const leaf = issueCertificate(ca, { commonName: 'kube-apiserver', server: true, dnsNames: ['kubernetes.default.svc'], ipAddresses: ['127.0.0.1', '10.96.0.1'] });
    const c = new X509Certificate(leaf.certPem);
    expect(c.ca).toBe(false);
    expect(c.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(c.checkIP('10.96.0.1')).toBe('10.96.0.1');
    expect(c.checkHost('kubernetes.default.svc')).toBe('kubernetes.default.svc');
    expect(c.checkIP('10.96.0.2')).toBeUndefined();
    expect(c.keyUsage).toContain('1.3.6.1.5.5.7.3.1');
    expect(c.checkPrivateKey(createPrivateKey(leaf.keyPem))).toBe(true);
  });

  it('puts the user in CN and groups in O of a client certificate', () => {
    const c = new X509Certificate(issueCertificate(ca, { commonName: 'system:node:n1', organizations: ['system:nodes'], client: true }).certPem);
    expect(c.subject).toBe('O=system:nodes\nCN=system:node:n1');
    expect(c.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
  });
});

