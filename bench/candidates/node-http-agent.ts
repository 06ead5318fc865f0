// Candidate (a): node:http server forwarding through node:http client with a keep-alive Agent. Usage: node node-http-agent.ts LISTEN_PORT UPSTREAM_PORT
import http from 'node:http';

const [listenPort, upstreamPort] = process.argv.slice(2).map(Number) as [number, number];
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const hopByHop = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

http
  .createServer((req, res) => {
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !hopByHop.has(k)) headers[k] = v;
    const up = http.request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers, agent }, (ur) => {
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(ur.headers)) if (v !== undefined && !hopByHop.has(k)) out[k] = v;
      res.writeHead(ur.statusCode ?? 502, out);
      ur.pipe(res);
    });
    up.on('error', () => { res.statusCode = 502; res.end(); });
    req.pipe(up);
  })
  .listen(listenPort, '127.0.0.1');
