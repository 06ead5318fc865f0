// Compares ways of signing workload leaves on one core (docs/identity.md): node-forge alone (it signs only with RSA, in
// JavaScript), DER written by hand and signed natively with RSA 2048, and our CA (DER + node:crypto ECDSA P-256), plus the
// whole Certify check path (CSR parse + verify + checks + leaf) without the network.
// Usage: taskset -c 0 node bench/candidates/cert-issuance.ts [--count N] [--runs R]
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { buildWorkloadCsr, generateWorkloadKey } from '../../api/identity/pkcs10.ts';
import { ok } from '../../api/result.ts';
import { generateRootSecretData, loadCaMaterial } from '../../control-plane/identity/ca-material.ts';
import { CertificateAuthority } from '../../control-plane/identity/certificate-authority.ts';
import { IdentityService } from '../../control-plane/identity/identity-service.ts';
import {
  authorityKeyIdentifier, basicConstraints, extension, extKeyUsage, keyIdentifier, keyUsage, KEY_USAGE, randomSerial, signCertificate, signerFor, toPem, x509Name, X509_OID,
} from '../../control-plane/identity/x509-builder.ts';
import { encodeSubjectAltNames } from '../../api/identity/pkcs10.ts';
import { median, round } from '../lib/stats.ts';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: number): number => { const i = argv.indexOf(name); return i >= 0 ? Number(argv[i + 1]) : dflt; };
const COUNT = opt('--count', 2000);
const RUNS = opt('--runs', 3);
const ID = 'spiffe://cluster.local/ns/shop/sa/checkout';

interface Candidate { readonly name: string; readonly count: number; run(): void | Promise<void> }

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

// The machine is shared: rates are per CPU-second of this process (what one core can do), next to the wall-clock rate.
async function measure(c: Candidate): Promise<{ perCpuSecond: number; perWallSecond: number; p50: number; p99: number }> {
  for (let i = 0; i < Math.max(5, c.count / 10); i++) await c.run(); // warm-up (JIT)
  const cpuRates: number[] = [];
  const wallRates: number[] = [];
  const lat: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    for (let i = 0; i < c.count; i++) {
      const s = process.hrtime.bigint();
      await c.run();
      lat.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
    const cpu = process.cpuUsage(c0);
    cpuRates.push(c.count / ((cpu.user + cpu.system) / 1e6));
    wallRates.push(c.count / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  lat.sort((a, b) => a - b);
  return { perCpuSecond: median(cpuRates)!, perWallSecond: median(wallRates)!, p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

// --- node-forge alone: an RSA 2048 CA (forge cannot sign with EC keys), the leaf built and signed by forge.
const forgeCaKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const forgeCaKey = forge.pki.privateKeyFromPem(forgeCaKeys.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string);
const forgeLeafPublic = forge.pki.publicKeyFromPem(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }) as string);
const forgeIssuer = [{ name: 'commonName', value: 'forge root' }];
function forgeLeaf(): void {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forgeLeafPublic;
  cert.serialNumber = randomSerial().toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 300_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  cert.setSubject([]);
  cert.setIssuer(forgeIssuer);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 6, value: ID }], critical: true },
  ]);
  cert.sign(forgeCaKey, forge.md.sha256.create());
  forge.pki.certificateToPem(cert);
}

// --- DER by hand, signed natively with the same RSA 2048 CA key.
const rsaSigner = signerFor(forgeCaKeys.privateKey)!;
const rsaIssuer = x509Name([{ oid: X509_OID.commonName, value: 'rsa root' }]);
const rsaExt = [basicConstraints(false), keyUsage([KEY_USAGE.digitalSignature]), extKeyUsage([X509_OID.serverAuth, X509_OID.clientAuth]),
  authorityKeyIdentifier(keyIdentifier(forgeCaKeys.publicKey.export({ type: 'spki', format: 'der' })))];
const leafSpki = generateWorkloadKey().publicKey.export({ type: 'spki', format: 'der' });
function nativeRsaLeaf(): void {
  const now = Date.now();
  toPem(signCertificate({
    serial: randomSerial(), issuer: rsaIssuer, subject: Buffer.from([0x30, 0]), notBefore: new Date(now - 300_000), notAfter: new Date(now + 86_400_000), spki: leafSpki,
    extensions: [...rsaExt, extension(X509_OID.subjectAltName, true, encodeSubjectAltNames([{ type: 'uri', value: ID }]))],
  }, rsaSigner));
}

// --- Our CA: ECDSA P-256 root, DER by hand, node:crypto signing.
const material = loadCaMaterial(generateRootSecretData('cluster.local', Date.now()), Date.now());
if (!material.ok) throw new Error(material.error.join('; '));
const ca = new CertificateAuthority(material.value);

// --- The whole Certify path without the network: a TokenReview that answers at once.
const keys: KeyObject[] = Array.from({ length: 50 }, () => generateWorkloadKey().privateKey);
const csrs = keys.map((k) => buildWorkloadCsr(k, ID));
const service = new IdentityService({
  trustDomain: 'cluster.local', ca: () => ca, leafTtlMs: 86_400_000,
  reviewer: { review: () => Promise.resolve(ok({ namespace: 'shop', serviceAccount: 'checkout' })) },
});
let next = 0;

const candidates: Candidate[] = [
  { name: 'node-forge alone (RSA 2048 CA, JS signing)', count: Math.max(20, Math.round(COUNT / 40)), run: forgeLeaf },
  { name: 'DER + node:crypto RSA 2048', count: COUNT, run: nativeRsaLeaf },
  { name: 'DER + node:crypto ECDSA P-256 (the CA)', count: COUNT, run: () => { ca.issueWorkload(leafSpki, ID, Date.now()); } },
  {
    name: 'Certify path, no network (CSR parse + verify + checks + ECDSA leaf)', count: COUNT,
    run: async () => {
      const r = await service.certify({ identity: ID, token: 't', csrPem: csrs[next++ % csrs.length]! });
      if (!r.ok) throw new Error(r.error.message);
    },
  },
];

process.stdout.write(`| candidate | per CPU-second (median of ${RUNS}) | per wall second | p50 ms | p99 ms |\n|---|---|---|---|---|\n`);
for (const c of candidates) {
  const r = await measure(c);
  process.stdout.write(`| ${c.name} | ${round(r.perCpuSecond, 0)} | ${round(r.perWallSecond, 0)} | ${round(r.p50, 3)} | ${round(r.p99, 3)} |\n`);
}
