// Example app `skein.dev/example-echo`: an HTTP server on $PORT (default 8080) answering with its pod name, the request and its
// headers, and a WebSocket echo on /ws (every message sent back as it came); with $TCP_PORT set, also a plain TCP echo
// there (every byte sent back), an opaque TCP workload for the mesh.
// `GET /_served?path=<p>` answers how many requests for path <p> this pod has served (a mirror's copies are counted here).
import { createServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { hostname } from 'node:os';
import { WebSocketServer } from 'ws';

const port = Number(process.env.PORT ?? 8080);
const pod = process.env.POD_NAME ?? hostname();
let ready = true;
let served = 0;
/** Requests served by path (query string left out), for /_served; bounded: paths past the first 1000 are not counted. */
const servedByPath = new Map<string, number>();

/**
 * Behaviour asked for by the query string, for mesh tests: `status=<code>&percent=<p>` answers <code> for exactly p of every
 * 100 requests carrying it (spread evenly by a counter, not by chance), `failPod=<name>` limits that to the pod of that
 * name (one bad endpoint among several), `delayMs=<n>` waits before answering.
 */
function behaviour(url: string): { status: number; delayMs: number } {
  const q = new URL(url, 'http://x').searchParams;
  const status = Number(q.get('status') ?? 200);
  const percent = Math.min(100, Math.max(0, Number(q.get('percent') ?? 100)));
  const delayMs = Math.min(60_000, Math.max(0, Number(q.get('delayMs') ?? 0)));
  let answer = 200;
  const failPod = q.get('failPod');
  if (failPod !== null && failPod !== pod) return { status: 200, delayMs: 0 };
  if (Number.isInteger(status) && status >= 200 && status <= 599 && status !== 200) {
    served++;
    // Request n fails when the running count of failures due by n (floor(n * p / 100)) goes up.
    if (Math.floor((served * percent) / 100) !== Math.floor(((served - 1) * percent) / 100)) answer = status;
  }
  return { status: answer, delayMs: Number.isFinite(delayMs) ? delayMs : 0 };
}

const server = createServer((req, res) => {
  if (req.url === '/healthz') { res.writeHead(ready ? 200 : 503).end(ready ? 'ok' : 'draining'); return; }
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/_served') {
    const path = url.searchParams.get('path') ?? '';
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ pod, path, count: servedByPath.get(path) ?? 0 }) + '\n');
    return;
  }
  if (servedByPath.has(url.pathname) || servedByPath.size < 1000) servedByPath.set(url.pathname, (servedByPath.get(url.pathname) ?? 0) + 1);
  let size = 0;
  req.on('data', (c: Buffer) => { size += c.length; });
  req.on('end', () => {
    const { status, delayMs } = behaviour(req.url ?? '/');
    const body = JSON.stringify({ pod, namespace: process.env.POD_NAMESPACE, method: req.method, url: req.url, bodyBytes: size, headers: req.headers });
    const answer = (): void => {
      if (res.destroyed) return;
      res.writeHead(status, { 'content-type': 'application/json', 'x-echo-pod': pod });
      res.end(body + '\n');
    };
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
  });
});
// Upgrades to /ws only; ws answers any other upgrade with 400.
new WebSocketServer({ server, path: '/ws', maxPayload: 1 << 20 }).on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => ws.terminate());
});
server.listen(port, '0.0.0.0', () => console.log(`echo ${pod} listening on :${port}`));

const tcpPort = Number(process.env.TCP_PORT ?? 0);
const tcp = tcpPort > 0
  ? createTcpServer((socket) => {
      socket.on('error', () => socket.destroy());
      socket.pipe(socket);
    }).listen(tcpPort, '0.0.0.0', () => console.log(`echo ${pod}: TCP echo on :${tcpPort}`))
  : undefined;

process.on('SIGTERM', () => {
  // Fail readiness first, finish in-flight requests, then exit: what a well-behaved app does on pod deletion.
  ready = false;
  tcp?.close();
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 2000).unref();
});
