// The floor of any proxy built on Node's net and tls (issue 10): half of a mesh pair that only moves bytes. No HTTP/2
// parsing, no routing, no HPACK: each read is written to the other side as it is. Measured in `bench/grpc-pair.ts --relay`
// beside the Skein and HAProxy pairs, it says how much of a pair's CPU per call any Node proxy pays for its socket events.
// Usage: node tls-relay.ts out LISTEN_PORT INBOUND_TLS_PORT CERT_WITH_KEY_PEM CA_PEM
//        node tls-relay.ts in  LISTEN_TLS_PORT APP_PORT CERT_WITH_KEY_PEM CA_PEM
// `out`: plain TCP in (from the client), mutual TLS out; `in`: mutual TLS in, plain TCP out (to the app).
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

const [role, listenArg, targetArg, certFile, caFile] = process.argv.slice(2) as [string, string, string, string, string];
const listenPort = Number(listenArg);
const targetPort = Number(targetArg);
const certKey = readFileSync(certFile, 'utf8');
const ca = readFileSync(caFile, 'utf8');

/** Each side's reads written to the other; either side's end or error closes both. */
function relay(a: net.Socket, b: net.Socket): void {
  a.setNoDelay(true);
  b.setNoDelay(true);
  a.on('data', (d: Buffer) => void b.write(d));
  b.on('data', (d: Buffer) => void a.write(d));
  const close = (): void => {
    a.destroy();
    b.destroy();
  };
  for (const s of [a, b]) {
    s.on('end', close);
    s.on('error', close);
    s.on('close', close);
  }
}

if (role === 'out') {
  net.createServer((client) => {
    relay(client, tls.connect({ port: targetPort, host: '127.0.0.1', cert: certKey, key: certKey, ca, servername: 'inbound.bench', ALPNProtocols: ['h2'] }));
  }).listen(listenPort, '127.0.0.1');
} else {
  tls.createServer({ cert: certKey, key: certKey, ca, requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2'] }, (peer) => {
    relay(peer, net.connect(targetPort, '127.0.0.1'));
  }).listen(listenPort, '127.0.0.1');
}
process.on('SIGTERM', () => process.exit(0));
