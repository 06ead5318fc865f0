// Candidate (b): node:http server forwarding through an undici Pool. Usage: node node-http-undici.ts LISTEN_PORT UPSTREAM_PORT
import http from 'node:http';
import { Pool } from 'undici';

const [listenPort, upstreamPort] = process.argv.slice(2).map(Number) as [number, number];
const pool = new Pool(`http://127.0.0.1:${upstreamPort}`, { connections: 256, pipelining: 1 });
const hopByHop = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

http
  .createServer((req, res) => {
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !hopByHop.has(k)) headers[k] = v;
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    pool
      .request({ path: req.url ?? '/', method: (req.method ?? 'GET') as 'GET', headers, body: hasBody ? req : null })
      .then((ur) => {
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(ur.headers)) if (v !== undefined && !hopByHop.has(k)) out[k] = v;
        res.writeHead(ur.statusCode, out);
        ur.body.pipe(res);
      })
      .catch(() => { res.statusCode = 502; res.end(); });
  })
  .listen(listenPort, '127.0.0.1');
