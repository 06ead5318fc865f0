// Picks free TCP ports for the cluster's components (each distinct).
import { createServer } from 'node:net';

export async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Free ports, distinct from each other (a port freed and picked again in the same call is skipped). */
export async function freePorts(hosts: readonly string[]): Promise<number[]> {
  const ports: number[] = [];
  for (const h of hosts) {
    let p = await freePort(h);
    while (ports.includes(p)) p = await freePort(h);
    ports.push(p);
  }
  return ports;
}
