// Example app `skein.dev/example-caller`: an HTTP server on $PORT (default 8080) that calls $UPSTREAM_URL for each request and
// answers with its own pod name plus the upstream's status and body, so a request shows the path it took through the mesh.
import { createServer } from 'node:http';
import { hostname } from 'node:os';

const port = Number(process.env.PORT ?? 8080);
const pod = process.env.POD_NAME ?? hostname();
const upstream = process.env.UPSTREAM_URL;

const server = createServer((req, res) => {
  if (req.url === '/healthz') { res.writeHead(200).end('ok'); return; }
  if (!upstream) { res.writeHead(500).end('UPSTREAM_URL is not set\n'); return; }
  const target = new URL(req.url ?? '/', upstream);
  const headers: Record<string, string> = {};
  // Propagate trace context and request ids so the mesh can stitch the hops into one trace.
  for (const h of ['traceparent', 'tracestate', 'x-request-id', 'b3']) {
    const v = req.headers[h];
    if (typeof v === 'string') headers[h] = v;
  }
  fetch(target, { headers, signal: AbortSignal.timeout(5000) })
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
