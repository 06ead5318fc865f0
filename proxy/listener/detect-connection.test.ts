// detectConnection on real loopback sockets: a decision from the first bytes (put back for the next reader), a silent
// client timed out with nothing lost, a request that arrived in time but was read late (a busy proxy) still detected.
import { once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { detectConnection } from './detect-connection.ts';

const REQUEST = 'GET / HTTP/1.1\r\nhost: a.test\r\n\r\n';
const cleanup: (() => void)[] = [];

/** A connected pair over loopback: `server` as a listener gets it (nothing read from it yet), `client` its peer. */
async function connectedPair(): Promise<{ server: net.Socket; client: net.Socket }> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const accepted = once(srv, 'connection') as Promise<[net.Socket]>;
  const client = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  const [server] = await accepted;
  cleanup.push(() => {
    client.destroy();
    server.destroy();
    srv.close();
  });
  return { server, client };
}

/** Everything `socket` yields from now until `bytes` bytes have come. */
async function readBytes(socket: net.Socket, bytes: number): Promise<string> {
  let text = '';
  socket.setEncoding('latin1');
  socket.resume();
  for await (const chunk of socket) {
    text += chunk as string;
    if (text.length >= bytes) break;
  }
  return text;
}

/** Keeps the event loop busy, as a loaded or descheduled proxy is: timers expire, sockets go unread. */
function busyFor(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until);
}

afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

describe('detectConnection', () => {
  it('decides from the first bytes and puts them back for the protocol that reads next', async () => {
    const { server, client } = await connectedPair();
    const decided = new Promise((resolve) => detectConnection(server, 5_000, resolve));
    client.write(REQUEST);
    expect(await decided).toBe('http1');
    expect(await readBytes(server, REQUEST.length)).toBe(REQUEST);
  });

  it('a silent client times out with nothing lost: what it sends afterwards is all there for the TCP path', async () => {
    const { server, client } = await connectedPair();
    client.write('GE'); // could still begin an HTTP request: not enough to decide
    expect(await new Promise((resolve) => detectConnection(server, 30, resolve))).toBe('timeout');
    client.write('T nothing');
    expect(await readBytes(server, 'GET nothing'.length)).toBe('GET nothing');
  });

  it('a request that arrived before the deadline is HTTP even when the busy proxy reads it only after the deadline', async () => {
    const { server, client } = await connectedPair();
    const decided = new Promise((resolve) => {
      // Run from an I/O callback (the loop's poll phase), as the proxy's accept is: the next turn of the loop runs its
      // expired timers before it polls sockets again.
      client.once('data', () => {
        detectConnection(server, 20, resolve);
        client.write(REQUEST);
        busyFor(100);
      });
      server.write('x');
    });
    expect(await decided).toBe('http1');
    expect(await readBytes(server, REQUEST.length)).toBe(REQUEST);
  });

  it('a connection that closes before it shows a protocol is neither detected nor timed out', async () => {
    const { server, client } = await connectedPair();
    const done = vi.fn();
    detectConnection(server, 20, done);
    client.end();
    await once(server, 'close');
    // Past the deadline and the turn after it.
    await new Promise((resolve) => setTimeout(resolve, 60));
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).not.toHaveBeenCalled();
  });
});
