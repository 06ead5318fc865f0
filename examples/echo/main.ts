// Example app `skein.dev/example-echo`: an HTTP server on $PORT (default 8080) answering with its pod name, the request and its headers.
import { createServer } from 'node:http';
import { hostname } from 'node:os';

const port = Number(process.env.PORT ?? 8080);
const pod = process.env.POD_NAME ?? hostname();
let ready = true;

const server = createServer((req, res) => {
  if (req.url === '/healthz') { res.writeHead(ready ? 200 : 503).end(ready ? 'ok' : 'draining'); return; }
  let size = 0;
  req.on('data', (c: Buffer) => { size += c.length; });
  req.on('end', () => {
    const body = JSON.stringify({ pod, namespace: process.env.POD_NAMESPACE, method: req.method, url: req.url, bodyBytes: size, headers: req.headers });
    res.writeHead(200, { 'content-type': 'application/json', 'x-echo-pod': pod });
    res.end(body + '\n');
  });
});
server.listen(port, '0.0.0.0', () => console.log(`echo ${pod} listening on :${port}`));

process.on('SIGTERM', () => {
  // Fail readiness first, finish in-flight requests, then exit: what a well-behaved app does on pod deletion.
  ready = false;
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 2000).unref();
});
