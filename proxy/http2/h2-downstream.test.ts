// Tests for the HTTP/2 request/response pair on node:http2's core stream API (without the forwarder around it).
import http2 from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { HeaderBag } from '../http/hop-headers.ts';
import { h2Exchange, type H2Response } from './h2-downstream.ts';

const { NGHTTP2_CANCEL, NGHTTP2_FLAG_END_STREAM } = http2.constants;

let server: http2.Http2Server | null = null;
let client: http2.ClientHttp2Session | null = null;

afterEach(async () => {
  client?.destroy();
  client = null;
  if (server) await new Promise<void>((r) => server!.close(() => r()));
  server = null;
});

async function serve(handler: (res: H2Response) => void): Promise<http2.ClientHttp2Session> {
  server = http2.createServer();
  server.on('session', (session) => {
    const socket = session.socket as Socket;
    session.on('stream', (stream, headers, flags) => handler(h2Exchange(stream, headers as HeaderBag, flags, socket, 0)));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  client.on('error', () => {});
  return client;
}

interface Answer { status: number; endStream: boolean; body: string; trailers: http2.IncomingHttpHeaders | null }

function exchange(c: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = c.request(headers, { endStream: body === undefined });
    let status = 0;
    let endStream = false;
    let text = '';
    let trailers: http2.IncomingHttpHeaders | null = null;
    req.on('response', (h, flags) => {
      status = Number(h[':status']);
      endStream = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
    });
    req.on('trailers', (t) => (trailers = t));
    req.on('data', (d: Buffer) => (text += d.toString()));
    req.on('end', () => resolve({ status, endStream, body: text, trailers }));
    req.on('error', reject);
    if (body !== undefined) req.end(body);
  });
}

describe('H2Request / H2Response', () => {
  it('a response ended before any body is one HEADERS frame with END_STREAM (gRPC trailers-only)', async () => {
    const c = await serve((res) => {
      res.writeHead(200, { 'content-type': 'application/grpc', 'grpc-status': '5' });
      res.end();
    });
    const a = await exchange(c, { ':path': '/svc/M', ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers' });
    expect(a).toEqual({ status: 200, endStream: true, body: '', trailers: null });
  });

  it('streams a body and delivers trailers added after the first write', async () => {
    const c = await serve((res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write(Buffer.from('a'));
      setImmediate(() => {
        res.write(Buffer.from('b'));
        res.addTrailers({ 'x-checksum': 'abc' });
        res.end();
      });
    });
    const a = await exchange(c, { ':path': '/', te: 'trailers' });
    expect(a.status).toBe(200);
    expect(a.endStream).toBe(false);
    expect(a.body).toBe('ab');
    expect(a.trailers?.['x-checksum']).toBe('abc');
  });

  it('sends the head at the end of writeHead\'s tick, before any body exists', async () => {
    let finish: (() => void) | null = null;
    const c = await serve((res) => {
      res.writeHead(201, { 'x-a': '1' });
      finish = () => res.end('late');
    });
    const req = c.request({ ':path': '/' });
    req.on('error', () => {});
    const head = await new Promise<http2.IncomingHttpHeaders>((r) => req.once('response', r));
    expect(head[':status']).toBe(201);
    expect(head['x-a']).toBe('1');
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    const ended = new Promise((r) => req.once('end', r));
    finish!();
    await ended;
    expect(body).toBe('late');
  });

  it('forwards the request body into a sink with back-pressure, and ends it', async () => {
    const got: Buffer[] = [];
    const c = await serve((res) => {
      const req = res.request;
      expect(req.hasBody).toBe(true);
      expect(req.method).toBe('POST');
      expect(req.url).toBe('/up?x=1');
      let paused = false;
      req.attachBody({
        data: (chunk) => {
          got.push(chunk);
          if (paused) return true;
          paused = true;
          setTimeout(() => req.resume(), 5);
          return false;
        },
        end: () => res.writeHead(200).end(String(Buffer.concat(got).length)),
        error: () => res.destroy(),
      });
    });
    const body = Buffer.alloc(200_000, 7);
    const a = await exchange(c, { ':method': 'POST', ':path': '/up?x=1' }, body);
    expect(a.body).toBe('200000');
    expect(Buffer.concat(got).equals(body)).toBe(true);
  });

  it('HEAD: the body is dropped, the stream ends with the HEADERS frame', async () => {
    const c = await serve((res) => {
      res.writeHead(200, { 'content-length': '4' });
      res.end('body');
    });
    const a = await exchange(c, { ':method': 'HEAD', ':path': '/' });
    expect(a).toEqual({ status: 200, endStream: true, body: '', trailers: null });
  });

  it('a client reset closes the response without ending it', async () => {
    let closed: Promise<{ destroyed: boolean; ended: boolean }> | null = null;
    const seen = new Promise<void>((ready) => {
      void serve((res) => {
        closed = new Promise((r) => res.once('close', () => r({ destroyed: res.destroyed, ended: res.writableEnded })));
        ready();
      }).then((c) => {
        const req = c.request({ ':path': '/' });
        req.on('error', () => {});
        req.on('ready', () => setTimeout(() => req.close(NGHTTP2_CANCEL), 5));
      });
    });
    await seen;
    expect(await closed!).toEqual({ destroyed: true, ended: false });
  });
});
