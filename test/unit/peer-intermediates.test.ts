// peerIntermediates (proxy/identity/peer-certificate.ts): the certificates a TLS client sent after its leaf, read from a real
// handshake on loopback, which the client-certificate checks of the ingress and of mesh mTLS chain through.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { peerIntermediates } from '../../proxy/identity/peer-certificate.ts';

const dir = mkdtempSync(join(tmpdir(), 'skein-chain-'));
const f = (name: string): string => join(dir, name);
const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore' });
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** root -> intermediate -> leaf (clientAuth), and a server certificate signed by the root. */
function makeChain(): void {
  openssl('req', '-x509', ...EC, '-keyout', f('root.key'), '-out', f('root.pem'), '-days', '2', '-subj', '/CN=test root',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  const sign = (name: string, cn: string, issuer: string, ext: string): void => {
    writeFileSync(f(`${name}.ext`), ext);
    openssl('req', '-new', ...EC, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`);
    openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${issuer}.pem`), '-CAkey', f(`${issuer}.key`), '-CAcreateserial',
      '-out', f(`${name}.pem`), '-days', '2', '-extfile', f(`${name}.ext`));
  };
  sign('inter', 'test intermediate', 'root', 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n');
  sign('leaf', 'test client', 'inter', 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
  sign('server', 'localhost', 'root', 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost\n');
}

/** The subjects of what the server saw after the client's leaf, for a client presenting `certChain`. */
async function seenIntermediates(certChain: string): Promise<string[]> {
  const server = tls.createServer({ cert: readFileSync(f('server.pem')), key: readFileSync(f('server.key')), requestCert: true, rejectUnauthorized: false });
  const seen = new Promise<string[]>((resolve) => {
    server.once('secureConnection', (s: tls.TLSSocket) => {
      resolve(peerIntermediates(s).map((c) => c.subject));
      s.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = tls.connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', servername: 'localhost', ca: readFileSync(f('root.pem')), cert: certChain, key: readFileSync(f('leaf.key')) });
  client.on('error', () => {});
  try {
    return await seen;
  } finally {
    client.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('peerIntermediates', () => {
  makeChain();

  it('lists the intermediate a client sent after its leaf', async () => {
    const chain = readFileSync(f('leaf.pem'), 'utf8') + readFileSync(f('inter.pem'), 'utf8');
    expect(await seenIntermediates(chain)).toEqual(['CN=test intermediate']);
  });

  it('lists nothing for a client that sent its leaf alone', async () => {
    expect(await seenIntermediates(readFileSync(f('leaf.pem'), 'utf8'))).toEqual([]);
  });
});
