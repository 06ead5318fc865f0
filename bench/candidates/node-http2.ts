// Candidate (h2): node:http2 server forwarding each stream over one node:http2 client session. Usage: node node-http2.ts LISTEN_PORT UPSTREAM_PORT
import http2 from 'node:http2';

const [listenPort, upstreamPort] = process.argv.slice(2).map(Number) as [number, number];
let session: http2.ClientHttp2Session | null = null;
function upstream(): http2.ClientHttp2Session {
  if (session === null || session.closed || session.destroyed) {
    const s = http2.connect(`http://127.0.0.1:${upstreamPort}`, { settings: { initialWindowSize: 1 << 20 } });
    s.on('error', () => {});
    s.on('close', () => { if (session === s) session = null; });
    session = s;
  }
  return session;
}

const server = http2.createServer({ settings: { maxConcurrentStreams: 1000, initialWindowSize: 1 << 20 } });
server.on('stream', (stream, headers) => {
  const out: http2.OutgoingHttpHeaders = {};
  for (const k of Object.keys(headers)) out[k] = headers[k];
  const up = upstream().request(out, { endStream: stream.readableEnded });
  up.on('response', (h) => {
    const r: http2.OutgoingHttpHeaders = {};
    for (const k of Object.keys(h)) r[k] = h[k];
    if (!stream.destroyed) stream.respond(r);
  });
  up.on('error', () => { if (!stream.headersSent && !stream.destroyed) stream.respond({ ':status': 502 }); stream.end(); });
  stream.on('error', () => up.close());
  up.pipe(stream);
  stream.pipe(up);
});
server.listen(listenPort, '127.0.0.1');
