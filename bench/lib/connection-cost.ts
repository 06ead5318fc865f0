// The cost of a new connection: connections opened one after the other, each carrying one GET read to its end, timed at
// the client and charged to the server's CPU (for TLS: the handshake, since the request itself is the same either way).
import type net from 'node:net';
import { cpuSeconds } from './proc-stats.ts';
import type { Started } from './process-group.ts';

export interface ConnectionCostOptions {
  /** Connections measured (after 20 not measured, which warm both sides up). */
  readonly connections: number;
  /** Opens one connection (plain or TLS); the GET is written at once (TLS sockets buffer it until the handshake is done). */
  readonly connect: () => net.Socket;
  readonly server: Started;
  /** The Host header (an ingress answers 421 when it differs from the SNI). */
  readonly host?: string;
  /** The response body's size: a response counts as read once its head and this many bytes arrived. */
  readonly bodyBytes: number;
}

/** Per connection: client milliseconds (open, request, response) and the server's CPU milliseconds. */
export async function connectionCost(o: ConnectionCostOptions): Promise<{ ms: number; serverCpuMs: number }> {
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = o.connect();
      let got = '';
      s.setEncoding('latin1');
      s.once('error', reject);
      s.on('data', (c: string) => {
        got += c;
        if (got.includes('\r\n\r\n') && got.length >= o.bodyBytes) s.destroy();
      });
      s.once('close', () => (got.startsWith('HTTP/1.1 200') ? resolve() : reject(new Error(`no 200: ${got.slice(0, 80)}`))));
      s.write(`GET / HTTP/1.1\r\nhost: ${o.host ?? 'bench'}\r\nconnection: close\r\n\r\n`);
    });
  for (let i = 0; i < 20; i++) await one();
  const cpu0 = cpuSeconds(o.server.pid) ?? 0;
  const t0 = performance.now();
  for (let i = 0; i < o.connections; i++) await one();
  const ms = (performance.now() - t0) / o.connections;
  return { ms, serverCpuMs: (((cpuSeconds(o.server.pid) ?? 0) - cpu0) * 1000) / o.connections };
}
