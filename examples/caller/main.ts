// Example app `skein.dev/example-caller`: an HTTP server on $PORT (default 8080) that calls $UPSTREAM_URL for each request and
// answers with its own pod name plus the upstream's status and body, so a request shows the path it took through the mesh.
// With $GRPC_UPSTREAM (host:port of examples/grpc-echo), `GET /grpc?failWith=N` makes one gRPC call skein.examples.Echo/Say
// instead (metadata `fail-with: N` when given) and answers {pod, grpcCode, details}; with $TCP_UPSTREAM (host:port of a TCP
// echo, such as examples/echo's $TCP_PORT), `GET /tcp?bytes=N` sends N bytes on a new connection and answers {pod, sent,
// received} once they came back. $UPSTREAM_TIMEOUT_MS (default 5000) bounds each call upstream. Meshed gRPC and opaque TCP
// clients for the e2e tests.
import * as grpc from '@grpc/grpc-js';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { hostname } from 'node:os';

const port = Number(process.env.PORT ?? 8080);
const pod = process.env.POD_NAME ?? hostname();
const upstream = process.env.UPSTREAM_URL;
const grpcUpstream = process.env.GRPC_UPSTREAM;
const tcpUpstream = /^(.+):(\d+)$/.exec(process.env.TCP_UPSTREAM ?? '');
/** How long a call upstream may take (1 ms to 5 min; anything else is the default, 5 s). */
const upstreamTimeoutMs = ((ms) => (Number.isInteger(ms) && ms >= 1 && ms <= 300_000 ? ms : 5000))(Number(process.env.UPSTREAM_TIMEOUT_MS ?? 5000));
/** At most this many bytes per /tcp exchange (a bounded test client). */
const MAX_TCP_BYTES = 1 << 20;
/** Headers passed on from the caller's request, so the mesh can stitch the hops into one trace. */
const PROPAGATED = ['traceparent', 'tracestate', 'x-request-id', 'b3'] as const;

/** SayRequest {string message = 1}, encoded by hand: one field, so this app needs no .proto file of another example. */
function sayRequest(message: string): Buffer {
  const text = Buffer.from(message);
  if (text.length > 127) throw new Error('message too long for a one-byte length');
  return Buffer.concat([Buffer.from([0x0a, text.length]), text]);
}

let grpcClient: grpc.Client | null = null;

function callGrpc(req: IncomingMessage, res: ServerResponse): void {
  if (!grpcUpstream) { res.writeHead(500).end('GRPC_UPSTREAM is not set\n'); return; }
  grpcClient ??= new grpc.Client(grpcUpstream, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  const failWith = new URL(req.url ?? '/', 'http://x').searchParams.get('failWith');
  if (failWith !== null) md.set('fail-with', failWith);
  for (const h of PROPAGATED) {
    const v = req.headers[h];
    if (typeof v === 'string') md.set(h, v);
  }
  grpcClient.makeUnaryRequest('/skein.examples.Echo/Say', sayRequest, (b: Buffer) => b, `from ${pod}`, md, { deadline: Date.now() + 5000 }, (e) => {
    res.writeHead(200, { 'content-type': 'application/json', 'x-caller-pod': pod });
    res.end(JSON.stringify({ pod, upstream: grpcUpstream, grpcCode: e ? e.code : grpc.status.OK, details: e ? e.details : '' }) + '\n');
  });
}

function callTcp(req: IncomingMessage, res: ServerResponse): void {
  const bytes = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('bytes') ?? 100);
  if (!tcpUpstream) { res.writeHead(500).end('TCP_UPSTREAM is not set\n'); return; }
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > MAX_TCP_BYTES) { res.writeHead(400).end(`bytes must be 1..${MAX_TCP_BYTES}\n`); return; }
  let received = 0;
  let answered = false;
  const answer = (error?: string): void => {
    if (answered) return;
    answered = true;
    res.writeHead(error ? 502 : 200, { 'content-type': 'application/json', 'x-caller-pod': pod });
    res.end(JSON.stringify({ pod, upstream: process.env.TCP_UPSTREAM, sent: bytes, received, ...(error ? { error } : {}) }) + '\n');
  };
  const socket = connect({ host: tcpUpstream[1]!, port: Number(tcpUpstream[2]) }, () => socket.write(Buffer.alloc(bytes, '>')));
  socket.setTimeout(5000, () => socket.destroy(new Error(`timed out with ${received} of ${bytes} bytes back`)));
  socket.on('data', (c: Buffer) => {
    received += c.length;
    if (received >= bytes) socket.end();
  });
  socket.on('error', (e) => answer(e.message));
  socket.on('close', () => answer(received >= bytes ? undefined : `closed with ${received} of ${bytes} bytes back`));
}

const server = createServer((req, res) => {
  if (req.url === '/healthz') { res.writeHead(200).end('ok'); return; }
  if (req.url === '/grpc' || req.url?.startsWith('/grpc?')) { callGrpc(req, res); return; }
  if (req.url === '/tcp' || req.url?.startsWith('/tcp?')) { callTcp(req, res); return; }
  if (!upstream) { res.writeHead(500).end('UPSTREAM_URL is not set\n'); return; }
  const target = new URL(req.url ?? '/', upstream);
  const headers: Record<string, string> = {};
  // Propagate trace context and request ids so the mesh can stitch the hops into one trace.
  for (const h of PROPAGATED) {
    const v = req.headers[h];
    if (typeof v === 'string') headers[h] = v;
  }
  fetch(target, { headers, signal: AbortSignal.timeout(upstreamTimeoutMs) })
    .then(async (r) => {
      const text = await r.text();
      res.writeHead(200, { 'content-type': 'application/json', 'x-caller-pod': pod });
      res.end(JSON.stringify({ pod, upstream: target.href, upstreamStatus: r.status, upstreamBody: text.slice(0, 4096) }) + '\n');
    })
    .catch((e: unknown) => {
      res.writeHead(502, { 'content-type': 'application/json', 'x-caller-pod': pod });
      res.end(JSON.stringify({ pod, upstream: target.href, error: String((e as Error).cause ?? e) }) + '\n');
    });
});
server.listen(port, '0.0.0.0', () => console.log(`caller ${pod} listening on :${port}, upstream ${upstream}`));
process.on('SIGTERM', () => { server.close(() => process.exit(0)); server.closeAllConnections(); });
