// A throwaway mesh CA made with the openssl CLI (as test-cert.ts does): a root, and leaves with whatever SANs, EKU and
// validity a test needs, including hostile ones (several URI SANs, a NUL inside a SAN, no EKU, a DNS SAN spelling a SPIFFE id).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LeafOptions {
  readonly uris?: readonly string[];
  readonly dns?: readonly string[];
  /** Raw GeneralNames DER (hex) for the SAN extension, instead of uris/dns (for bytes openssl's config cannot spell). */
  readonly sanDerHex?: string;
  /** `serverAuth,clientAuth` by default; null: no EKU extension at all. */
  readonly eku?: string | null;
  readonly days?: number;
  /** A CSR to sign instead of a fresh key (the certificate manager's own key). */
  readonly csrPem?: string;
}

export interface Leaf {
  readonly certPem: string;
  /** Empty when the leaf was made from a CSR. */
  readonly keyPem: string;
}

let serial = 1;

export class TestMeshCa {
  readonly dir: string;
  readonly rootPem: string;
  readonly #rootCert: string;
  readonly #rootKey: string;

  constructor(cn = 'skein test root') {
    this.dir = mkdtempSync(join(tmpdir(), 'skein-ca-'));
    this.#rootCert = join(this.dir, 'root.pem');
    this.#rootKey = join(this.dir, 'root.key');
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', this.#rootKey, '-out', this.#rootCert, '-days', '3', '-subj', `/CN=${cn}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    this.rootPem = readFileSync(this.#rootCert, 'utf8');
  }

  /** A leaf signed by this root. */
  issue(o: LeafOptions): Leaf {
    const n = serial++;
    const key = join(this.dir, `leaf-${n}.key`);
    const csr = join(this.dir, `leaf-${n}.csr`);
    const out = join(this.dir, `leaf-${n}.pem`);
    const ext = join(this.dir, `leaf-${n}.ext`);
    let keyPem = '';
    if (o.csrPem !== undefined) writeFileSync(csr, o.csrPem);
    else {
      openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', '/']);
      keyPem = readFileSync(key, 'utf8');
    }
    const lines = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature'];
    const eku = o.eku === undefined ? 'serverAuth,clientAuth' : o.eku;
    if (eku !== null) lines.push(`extendedKeyUsage=${eku}`);
    if (o.sanDerHex !== undefined) lines.push(`2.5.29.17=critical,DER:${o.sanDerHex}`);
    else {
      const names = [...(o.uris ?? []).map((u) => `URI:${u}`), ...(o.dns ?? []).map((d) => `DNS:${d}`)];
      if (names.length > 0) lines.push(`subjectAltName=critical,${names.join(',')}`);
    }
    writeFileSync(ext, lines.join('\n') + '\n');
    openssl(['x509', '-req', '-in', csr, '-CA', this.#rootCert, '-CAkey', this.#rootKey, '-set_serial', String(1000 + n), '-days', String(o.days ?? 1), '-extfile', ext, '-out', out]);
    return { certPem: readFileSync(out, 'utf8'), keyPem };
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** GeneralNames DER (hex) holding one uniformResourceIdentifier [6] per given value (bytes as given, NUL included). */
export function uriSanDerHex(values: readonly Buffer[]): string {
  const parts = values.map((v) => Buffer.concat([Buffer.from([0x86, v.length]), v]));
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]).toString('hex');
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}
