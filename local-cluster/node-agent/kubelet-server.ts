// The sliver of the kubelet API the API server calls for `kubectl logs`: GET /containerLogs/<ns>/<pod>/<container> over HTTPS
// on the node's InternalIP, port 10250. Connections from pod IPs are refused (a pod must not read other pods' logs).
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createCertificateAuthority, issueCertificate } from '../certificates.ts';
import { cidrContains, type Cidr } from './ip-allocator.ts';

export const KUBELET_PORT = 10250;

export interface LogSource {
  /** The container's log file and whether it is still running, or undefined when the pod/container is unknown. */
  logOf(namespace: string, pod: string, container: string | undefined): { path: string; running: () => boolean } | undefined;
}

export interface KubeletServer {
  readonly port: number;
  close(): Promise<void>;
}

/** The last `n` lines of `text` (a trailing newline does not count as an empty last line). */
export function tailLines(text: string, n: number): string {
  if (n <= 0) return '';
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  const lines = body.split('\n');
  return lines.slice(-n).join('\n') + (text.endsWith('\n') ? '\n' : '');
}

export async function startKubeletServer(host: string, port: number, podCidr: Cidr, gateway: string, logs: LogSource): Promise<KubeletServer> {
  const ca = createCertificateAuthority('skein-node-agent');
  const cert = issueCertificate(ca, { commonName: host, ipAddresses: [host], server: true });
  const server: Server = createServer({ key: cert.keyPem, cert: cert.certPem }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://node');
    if (url.pathname === '/healthz') { res.end('ok'); return; }
    const m = /^\/containerLogs\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/.exec(url.pathname);
    if (req.method !== 'GET' || !m) { res.writeHead(404).end('the Skein node agent serves only /containerLogs\n'); return; }
    const src = logs.logOf(decodeURIComponent(m[1]!), decodeURIComponent(m[2]!), m[3] ? decodeURIComponent(m[3]) : undefined);
    if (!src) { res.writeHead(404).end('no such pod or container on this node\n'); return; }
    res.writeHead(200, { 'content-type': 'text/plain' });
    let text = '';
    try { text = readFileSync(src.path, 'utf8'); } catch { /* not started yet */ }
    const tail = url.searchParams.get('tailLines');
    if (tail !== null) text = tailLines(text, Number(tail));
    const limit = Number(url.searchParams.get('limitBytes') ?? 0);
    if (limit > 0) text = Buffer.from(text).subarray(0, limit).toString('utf8');
    res.write(text);
    if (url.searchParams.get('follow') !== 'true') { res.end(); return; }
    // follow: poll the file for growth until the container stops or the client goes away.
    let offset = (() => { try { return statSync(src.path).size; } catch { return 0; } })();
    const timer = setInterval(() => {
      let size = offset;
      try { size = statSync(src.path).size; } catch { /* gone */ }
      if (size > offset) {
        createReadStream(src.path, { start: offset, end: size - 1 }).on('data', (c) => res.write(c));
        offset = size;
      } else if (!src.running()) {
        clearInterval(timer);
        res.end();
      }
    }, 250);
    req.on('close', () => clearInterval(timer));
  });
  server.on('connection', (s: Socket) => {
    const ip = (s.remoteAddress ?? '').replace(/^::ffff:/, '');
    if (cidrContains(podCidr, ip) && ip !== gateway) s.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
