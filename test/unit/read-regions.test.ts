// Reads into slab regions through the connector (plain and TLS): every chunk kept stays intact while later reads arrive.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestCert, type TestCert } from '../support/test-cert.ts';
import { connect, PLAIN, type Transport } from '../../proxy/upstream/connector.ts';
import { ReadRegions } from '../../proxy/upstream/read-regions.ts';

let cert: TestCert;
beforeAll(() => {
  cert = makeTestCert(['upstream.test']);
});
afterAll(() => cert.remove());

/** Five 20 KiB messages (each more than a slab), each of its own byte value, sent one at a time: the next once the client
 *  has all of this one. */
const MESSAGES = [1, 2, 3, 4, 5].map((v) => Buffer.alloc(20 * 1024, v));
const TOTAL = MESSAGES.reduce((n, m) => n + m.length, 0);

async function receiveAll(listen: (onSocket: (s: net.Socket) => void) => Promise<net.Server>, transport: Transport): Promise<{ kept: Buffer[]; whole: Buffer }> {
  let serverSide: net.Socket | null = null;
  const server = await listen((s) => {
    serverSide = s;
    s.on('error', () => {});
    s.write(MESSAGES[0]!);
  });
  const reads = new ReadRegions();
  const kept: Buffer[] = [];
  let got = 0;
  const done = new Promise<void>((resolve) => {
    reads.target = (chunk) => {
      // Kept by reference, as frame payloads are in body queues.
      kept.push(chunk);
      const before = got;
      got += chunk.length;
      const k = Math.floor(got / (20 * 1024));
      if (k > Math.floor(before / (20 * 1024)) && k < MESSAGES.length) serverSide!.write(MESSAGES[k]!);
      if (got === TOTAL) resolve();
    };
  });
  const socket = connect({ address: '127.0.0.1', port: (server.address() as net.AddressInfo).port }, transport, 2_000, reads);
  socket.on('error', () => {});
  try {
    await done;
    // The 'data' event never fires for a socket read through regions.
    expect(socket.listenerCount('data')).toBe(0);
    return { kept, whole: Buffer.concat(kept) };
  } finally {
    socket.destroy();
    server.close();
  }
}

describe('reads into slab regions', () => {
  it('plain TCP: more than a slab of reads, every kept chunk unchanged by the reads after it', async () => {
    const { kept, whole } = await receiveAll(async (onSocket) => {
      const server = net.createServer(onSocket);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return server;
    }, PLAIN);
    expect(whole.equals(Buffer.concat(MESSAGES))).toBe(true);
    // The reads spanned several slabs (so regions were handed out again and again).
    expect(new Set(kept.map((c) => c.buffer)).size).toBeGreaterThan(1);
  });

  it('TLS: the same, the decrypted records landing in the regions', async () => {
    const { whole } = await receiveAll(async (onSocket) => {
      const server = tls.createServer({ cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) }, onSocket);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return server;
    }, {
      kind: 'tls',
      servername: 'upstream.test',
      serverIdentity: null,
      context: tls.createSecureContext({ ca: readFileSync(cert.certFile) }),
      contextVersion: 'test',
      alpn: ['h2'],
    });
    expect(whole.equals(Buffer.concat(MESSAGES))).toBe(true);
  });
});
