// A TCP relay from a host address to a pod or host target: the API relay on the bridge gateway (pods reach the API as
// `kubernetes.default.svc:443`, with no kube-proxy for its ClusterIP) and containers' hostPorts.
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface Forwarder {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startForwarder(listenHost: string, listenPort: number, targetHost: string, targetPort: number): Promise<Forwarder> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect({ host: targetHost, port: targetPort });
    sockets.add(client);
    sockets.add(upstream);
    const done = (): void => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
    client.on('error', done).on('close', done);
    upstream.on('error', done).on('close', done);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, listenHost, () => { server.off('error', reject); resolve(); });
  });
  const addr = server.address();
  return {
    host: listenHost,
    port: typeof addr === 'object' && addr ? addr.port : listenPort,
    close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  };
}
