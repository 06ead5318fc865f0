// A throwaway self-signed certificate made with the openssl CLI in a temp dir, for TLS-listener tests.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCert {
  readonly dir: string;
  readonly certFile: string;
  readonly keyFile: string;
  remove(): void;
}

/** A P-256 certificate for `names` (the first is the CN), valid for two days. */
export function makeTestCert(names: readonly string[]): TestCert {
  const dir = mkdtempSync(join(tmpdir(), 'skein-cert-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=${names[0]}`,
      '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`,
    ],
    { stdio: 'ignore' },
  );
  return { dir, certFile, keyFile, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TestCa extends TestCert {
  /** A certificate for `cn` signed by this CA, with the extended key usage given (clientAuth by default). */
  issue(cn: string, opts?: { eku?: string; days?: number; names?: readonly string[]; uris?: readonly string[] }): TestCert;
}

/** A throwaway P-256 CA (basicConstraints CA:TRUE, keyCertSign) that signs client or server certificates, with the openssl CLI. */
export function makeTestCa(cn: string): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'skein-ca-'));
  const certFile = join(dir, 'ca.pem');
  const keyFile = join(dir, 'ca-key.pem');
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ],
    { stdio: 'ignore' },
  );
  let n = 0;
  const issue = (leafCn: string, opts: { eku?: string; days?: number; names?: readonly string[]; uris?: readonly string[] } = {}): TestCert => {
    const leafDir = join(dir, `leaf-${++n}`);
    mkdirSync(leafDir);
    const leafCert = join(leafDir, 'cert.pem');
    const leafKey = join(leafDir, 'key.pem');
    const csr = join(leafDir, 'req.csr');
    const ext = join(leafDir, 'ext.cnf');
    const alt = [...(opts.names ?? []).map((x) => `DNS:${x}`), ...(opts.uris ?? []).map((x) => `URI:${x}`)];
    const san = alt.length > 0 ? `subjectAltName=${alt.join(',')}\n` : '';
    writeFileSync(ext, `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=${opts.eku ?? 'clientAuth'}\n${san}`);
    execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', leafKey, '-out', csr, '-subj', `/CN=${leafCn}`], { stdio: 'ignore' });
    execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', certFile, '-CAkey', keyFile, '-CAcreateserial', '-out', leafCert, '-days', String(opts.days ?? 2), '-extfile', ext], { stdio: 'ignore' });
    return { dir: leafDir, certFile: leafCert, keyFile: leafKey, remove: () => rmSync(leafDir, { recursive: true, force: true }) };
  };
  return { dir, certFile, keyFile, issue, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
