// RELIABILITY 12 — gRPC: trailers-only answers, grpc-status across protocols, invalid -bin metadata, absurd grpc-timeout,
// mid-stream resets both ways, oversized and lying messages.
import * as grpc from '@grpc/grpc-js';
import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLAG, FRAME, RawH2Connection, headerBlock, headersFrame, hpackLiteral, requestFields } from '../support/h2-frames.ts';
import { http2Get, rawExchange } from '../support/raw-http.ts';
import { startHostileProxy, type HostileProxy } from '../support/start-proxy.ts';

const { NGHTTP2_CANCEL } = http2.constants;

/** A gRPC message: 1 byte compressed flag, 4 bytes length, payload. `declaredLength` may lie. */
function grpcFrame(payload: Buffer, declaredLength = payload.length): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(declaredLength >>> 0, 1);
  return Buffer.concat([head, payload]);
}

interface CallResult {
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  data: Buffer;
  rstCode: number | undefined;
  /** grpc-status from trailers, or from headers for a trailers-only answer. */
  grpcStatus: string | undefined;
}

async function grpcCall(port: number, path: string, opts: { headers?: http2.OutgoingHttpHeaders; body?: Buffer } = {}): Promise<CallResult> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  try {
    return await new Promise<CallResult>((resolve) => {
      const req = session.request({
        ':method': 'POST',
        ':path': path,
        ':authority': 'example.test',
        'content-type': 'application/grpc',
        te: 'trailers',
        ...opts.headers,
      });
      const r: CallResult = { headers: {}, trailers: {}, data: Buffer.alloc(0), rstCode: undefined, grpcStatus: undefined };
      req.on('response', (h) => (r.headers = h));
      req.on('trailers', (t) => (r.trailers = t));
      req.on('data', (c: Buffer) => (r.data = Buffer.concat([r.data, c])));
      req.on('error', () => {});
      req.on('close', () => {
        r.rstCode = req.rstCode;
        r.grpcStatus = (r.trailers['grpc-status'] ?? r.headers['grpc-status']) as string | undefined;
        resolve(r);
      });
      req.end(opts.body ?? grpcFrame(Buffer.from('ping')));
    });
  } finally {
    session.close();
  }
}

describe('RELIABILITY 12: gRPC', () => {
  let h2up: http2.Http2Server;
  let h1up: http.Server;
  let viaH2: HostileProxy;
  let viaH1: HostileProxy;
  let clientResetSeen: number | undefined;

  beforeAll(async () => {
    h2up = http2.createServer();
    h2up.on('stream', (s, headers) => {
      s.on('error', () => {});
      const path = headers[':path'];
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => chunks.push(c));
      const ok = (body: Buffer, extraTrailers: http2.OutgoingHttpHeaders = {}, extraHeaders: http2.OutgoingHttpHeaders = {}): void => {
        s.respond({ ':status': 200, 'content-type': 'application/grpc', ...extraHeaders }, { waitForTrailers: true });
        s.once('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0', ...extraTrailers }));
        s.end(body);
      };
      switch (path) {
        case '/t.S/TrailersOnly':
          s.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '7', 'grpc-message': 'denied%20here' }, { endStream: true });
          return;
        case '/t.S/Echo':
          s.on('end', () => ok(Buffer.concat(chunks), { 'x-trailer': 'kept' }, { 'x-bad-bin': String(headers['x-bad-bin'] ?? ''), 'x-raw-bin': String(headers['x-raw-bin'] ?? '') }));
          return;
        case '/t.S/Slow':
          s.on('end', () => setTimeout(() => !s.destroyed && ok(grpcFrame(Buffer.from('late'))), 300));
          return;
        case '/t.S/ResetMid':
          s.respond({ ':status': 200, 'content-type': 'application/grpc' });
          s.write(grpcFrame(Buffer.from('first')), () => setTimeout(() => s.destroy(new Error('upstream dies')), 20));
          return;
        case '/t.S/DieMid':
          s.respond({ ':status': 200, 'content-type': 'application/grpc' });
          s.write(grpcFrame(Buffer.from('first')), () => setTimeout(() => s.session?.socket.destroy(), 20));
          return;
        case '/t.S/ClientStream':
          s.respond({ ':status': 200, 'content-type': 'application/grpc' });
          s.once('close', () => (clientResetSeen = s.rstCode));
          return;
        default:
          s.respond({ ':status': 404 }, { endStream: true });
      }
    });
    await new Promise<void>((r) => h2up.listen(0, '127.0.0.1', r));
    // An HTTP/1.1 upstream speaking gRPC-ish: the status travels in chunked trailers, or in headers for a trailers-only answer.
    h1up = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/t.S/TrailersOnly') {
          res.writeHead(200, { 'content-type': 'application/grpc', 'grpc-status': '7', 'grpc-message': 'denied', 'content-length': '0' });
          return void res.end();
        }
        res.writeHead(200, { 'content-type': 'application/grpc', trailer: 'grpc-status, grpc-message' });
        res.write(grpcFrame(Buffer.from('from-h1')));
        res.addTrailers({ 'grpc-status': '5', 'grpc-message': 'not%20found' });
        res.end();
      });
    });
    await new Promise<void>((r) => h1up.listen(0, '127.0.0.1', r));
    viaH2 = await startHostileProxy({ upstreamPort: (h2up.address() as net.AddressInfo).port, upstreamProtocol: 'http2' });
    viaH1 = await startHostileProxy({ upstreamPort: (h1up.address() as net.AddressInfo).port, upstreamProtocol: 'http1' });
  });
  afterAll(async () => {
    await Promise.all([viaH2?.close(), viaH1?.close()]);
    await new Promise<void>((r) => h2up?.close(() => r()));
    h1up?.closeAllConnections();
    await new Promise<void>((r) => h1up?.close(() => r()));
  });

  it('trailers-only (h2 -> h2): one HEADERS frame with END_STREAM, no DATA, grpc-status and grpc-message intact', async () => {
    const c = await RawH2Connection.open(viaH2.port);
    try {
      c.send(headersFrame(1, headerBlock([...requestFields('/t.S/TrailersOnly', 'example.test', 'POST'), ['content-type', 'application/grpc'], ['te', 'trailers']]), { endStream: true }));
      const f = await c.waitForFrame((x) => x.streamId === 1 && (x.flags & FLAG.END_STREAM) !== 0);
      expect(f?.type).toBe(FRAME.HEADERS);
      expect(c.framesOn(1).map((x) => x.type)).toEqual([FRAME.HEADERS]);
    } finally {
      c.destroy();
    }
    const r = await grpcCall(viaH2.port, '/t.S/TrailersOnly');
    expect(r.headers[':status']).toBe(200);
    expect(r.headers['grpc-status']).toBe('7');
    expect(r.headers['grpc-message']).toBe('denied%20here');
  });

  it('trailers-only from an HTTP/1.1 upstream (h2 -> h1): grpc-status survives the protocol change', async () => {
    const r = await grpcCall(viaH1.port, '/t.S/TrailersOnly');
    expect(r.grpcStatus).toBe('7');
  });

  it('grpc-status in HTTP/1.1 chunked trailers reaches the HTTP/2 client as trailers', async () => {
    const r = await grpcCall(viaH1.port, '/t.S/Unary');
    expect(r.headers[':status']).toBe(200);
    expect(r.data.subarray(5).toString()).toBe('from-h1');
    expect(r.trailers['grpc-status']).toBe('5');
    expect(r.trailers['grpc-message']).toBe('not%20found');
  });

  it('invalid -bin metadata (not base64, raw high bytes) passes through byte for byte; the proxy does not decode or choke on it', async () => {
    const c = await RawH2Connection.open(viaH2.port);
    try {
      const block = Buffer.concat([
        headerBlock([...requestFields('/t.S/Echo', 'example.test', 'POST'), ['content-type', 'application/grpc'], ['te', 'trailers'], ['x-bad-bin', '!!!not base64***']]),
        hpackLiteral('x-raw-bin', Buffer.from([0x80, 0xff, 0x41, 0xc3])),
      ]);
      c.send(headersFrame(1, block, { endStream: true }));
      const f = await c.waitForFrame((x) => x.streamId === 1 && (x.flags & FLAG.END_STREAM) !== 0);
      expect(f?.type).toBe(FRAME.HEADERS); // the trailers
    } finally {
      c.destroy();
    }
    const r = await grpcCall(viaH2.port, '/t.S/Echo', { headers: { 'x-bad-bin': '!!!not base64***' } });
    expect(r.headers['x-bad-bin']).toBe('!!!not base64***');
    expect(r.trailers['grpc-status']).toBe('0');
    expect(r.trailers['x-trailer']).toBe('kept');
  });

  it.each(['99999999H', '99999999M', '999999999999S', '-1S', '1.5S', 'soon'])('grpc-timeout %s does not fire at once (absurd is clamped, malformed ignored)', async (t) => {
    const r = await grpcCall(viaH2.port, '/t.S/Slow', { headers: { 'grpc-timeout': t } });
    expect(r.grpcStatus).toBe('0');
    expect(r.data.subarray(5).toString()).toBe('late');
  });

  it('a real short grpc-timeout still fires: DEADLINE_EXCEEDED (4) with x-skein-error timeout', async () => {
    const r = await grpcCall(viaH2.port, '/t.S/Slow', { headers: { 'grpc-timeout': '50m' } });
    expect(r.grpcStatus).toBe('4');
    expect(r.headers['x-skein-error']).toBe('timeout');
  });

  it('the upstream resets mid-stream after one message: the client gets the message, then grpc-status UNAVAILABLE (14) in trailers', async () => {
    const r = await grpcCall(viaH2.port, '/t.S/ResetMid');
    expect(r.data.subarray(5).toString()).toBe('first');
    expect(r.trailers['grpc-status']).toBe('14');
    expect((await http2Get(viaH2.port, '/t.S/Unknown')).status).toBe(404);
  });

  it('the upstream connection dies mid-stream: the client gets the message, then grpc-status UNAVAILABLE (14)', async () => {
    const r = await grpcCall(viaH2.port, '/t.S/DieMid');
    expect(r.data.subarray(5).toString()).toBe('first');
    expect(r.trailers['grpc-status']).toBe('14');
    expect((await grpcCall(viaH2.port, '/t.S/Echo')).grpcStatus).toBe('0');
  });

  it('plain HTTP/1.1 client, upstream HTTP/2 connection dies mid-body: the truncated body never looks complete', async () => {
    const r = await rawExchange(viaH2.port, 'GET /t.S/DieMid HTTP/1.1\r\nHost: example.test\r\n\r\n');
    expect(r.closed).toBe(true);
    expect(r.raw.toString('latin1')).toContain('first');
    // Chunked, and no terminating chunk: the response is incomplete, as it should be.
    expect(r.responses).toHaveLength(0);
  });

  it('the client resets mid-stream: the upstream stream is cancelled (RST_STREAM CANCEL), nothing lingers', async () => {
    clientResetSeen = undefined;
    const session = http2.connect(`http://127.0.0.1:${viaH2.port}`);
    session.on('error', () => {});
    try {
      const req = session.request({ ':method': 'POST', ':path': '/t.S/ClientStream', ':authority': 'example.test', 'content-type': 'application/grpc', te: 'trailers' });
      req.on('error', () => {});
      req.write(grpcFrame(Buffer.from('one')));
      await new Promise((r) => req.once('response', r));
      req.close(NGHTTP2_CANCEL);
      const end = Date.now() + 10_000;
      while (clientResetSeen === undefined && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      expect(clientResetSeen).toBe(NGHTTP2_CANCEL);
      while (viaH2.proxy.runtime.inFlight > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      expect(viaH2.proxy.runtime.inFlight).toBe(0);
    } finally {
      session.destroy();
    }
  });

  describe('oversized and lying messages against a grpc-js server', () => {
    let server: grpc.Server;
    let serverPort: number;
    let proxy: HostileProxy;
    const echoService: grpc.ServiceDefinition = {
      echo: {
        path: '/t.S/Echo',
        requestStream: false,
        responseStream: false,
        requestSerialize: (b: Buffer) => b,
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => b,
      },
    };

    beforeAll(async () => {
      server = new grpc.Server(); // default max receive message: 4 MiB
      server.addService(echoService, { echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from(`len ${call.request.length}`)) });
      serverPort = await new Promise<number>((resolve, reject) =>
        server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
      );
      proxy = await startHostileProxy({ upstreamPort: serverPort, upstreamProtocol: 'http2' });
    });
    afterAll(async () => {
      await proxy?.close();
      server?.forceShutdown();
    });

    it('a 1 MiB message is relayed intact', async () => {
      const r = await grpcCall(proxy.port, '/t.S/Echo', { body: grpcFrame(Buffer.alloc(1 << 20, 1)) });
      expect(r.grpcStatus).toBe('0');
      expect(r.data.subarray(5).toString()).toBe(`len ${1 << 20}`);
    });

    it("a 6 MiB message (over the server's 4 MiB limit) streams through; the server's RESOURCE_EXHAUSTED (8) comes back", async () => {
      const r = await grpcCall(proxy.port, '/t.S/Echo', { body: grpcFrame(Buffer.alloc(6 << 20, 2)) });
      expect(r.grpcStatus).toBe('8');
    });

    it('a 16 MiB message: the client sees exactly what it sees without the proxy (grpc-js resets with ENHANCE_YOUR_CALM)', async () => {
      const body = grpcFrame(Buffer.alloc(16 << 20, 3));
      const direct = await grpcCall(serverPort, '/t.S/Echo', { body });
      const proxied = await grpcCall(proxy.port, '/t.S/Echo', { body });
      expect({ status: proxied.grpcStatus, rst: proxied.rstCode }).toEqual({ status: direct.grpcStatus, rst: direct.rstCode });
      expect((await grpcCall(proxy.port, '/t.S/Echo')).grpcStatus).toBe('0');
    });

    it('a length prefix claiming 4 GiB followed by 10 bytes: the proxy buffers nothing, the server rejects it, the proxy keeps serving', async () => {
      const r = await grpcCall(proxy.port, '/t.S/Echo', { body: grpcFrame(Buffer.alloc(10), 0xfffffff0) });
      expect(r.grpcStatus).not.toBe('0');
      expect(r.grpcStatus).toBeDefined();
      const ok = await grpcCall(proxy.port, '/t.S/Echo', { body: grpcFrame(Buffer.from('x')) });
      expect(ok.grpcStatus).toBe('0');
    });
  });
});
