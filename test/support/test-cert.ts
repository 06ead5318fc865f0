// A throwaway self-signed certificate made with the openssl CLI in a temp dir, for TLS-listener tests.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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
