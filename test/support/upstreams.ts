// Real upstream servers for integration tests on loopback port 0: HTTP/1.1, HTTP/2 (h2c), gRPC, WebSocket and TCP echo.
import { createHash } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { WebSocketServer } from 'ws';

export type Protocol = 'h1' | 'h2';

export interface Upstream {
  readonly port: number;
  readonly id: string;
  /** Requests seen, in order. */
  readonly seen: { method: string; path: string; headers: Record<string, unknown>; protocol: string }[];
  close(): Promise<void>;
}

type Req = http.IncomingMessage | http2.Http2ServerRequest;
type Res = http.ServerResponse | http2.Http2ServerResponse;

/** Test endpoints: /echo, /upload (counts and hashes the body), /download?bytes=N, /trailers, /status/N, /slow?ms=N, anything else echoes. */
function handler(id: string, seen: Upstream['seen'], delayMs: number): (req: Req, res: Res) => void {
  return (req, res) => {
    const r = res as http.ServerResponse;
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push({ method: req.method ?? '', path: req.url ?? '', headers: { ...req.headers }, protocol: `h${req.httpVersionMajor}` });
    const reply = (): void => {
      if (url.pathname === '/upload') {
        const hash = createHash('sha256');
        let bytes = 0;
        req.on('data', (c: Buffer) => {
          bytes += c.length;
          hash.update(c);
        });
        req.on('end', () => {
          r.writeHead(200, { 'content-type': 'application/json' });
          r.end(JSON.stringify({ id, bytes, sha256: hash.digest('hex') }));
        });
        return;
      }
      req.resume();
      if (url.pathname === '/download') {
        const total = Number(url.searchParams.get('bytes') ?? '0');
        const chunk = Buffer.alloc(65536, 0x61);
        let sent = 0;
        r.writeHead(200, { 'content-type': 'application/octet-stream' });
        const pump = (): void => {
          while (sent < total) {
            const n = Math.min(chunk.length, total - sent);
            sent += n;
            if (!r.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
              r.once('drain', pump);
              return;
            }
          }
          r.end();
        };
        pump();
        return;
      }
      if (url.pathname === '/trailers') {
        r.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
        r.write('body-with-trailers');
        r.addTrailers({ 'x-checksum': 'abc123' });
        r.end();
        return;
      }
      if (url.pathname.startsWith('/status/')) {
        r.writeHead(Number(url.pathname.slice(8)), { 'x-upstream': id });
        r.end();
        return;
      }
      const body = JSON.stringify({ id, protocol: `h${req.httpVersionMajor}`, method: req.method, path: req.url, headers: req.headers });
      r.writeHead(200, { 'content-type': 'application/json', 'x-upstream': id, 'content-length': Buffer.byteLength(body) });
      r.end(body);
    };
    const extra = url.pathname === '/slow' ? Number(url.searchParams.get('ms') ?? '0') : 0;
    if (delayMs + extra > 0) setTimeout(reply, delayMs + extra);
    else reply();
  };
}

function listen(server: net.Server, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve) => server.listen(0, host, () => resolve((server.address() as AddressInfo).port)));
}

/**
 * An HTTP upstream speaking HTTP/1.1 (h1) or cleartext HTTP/2 (h2). `delayMs` delays every answer (slow endpoint); `host`
 * is where it listens (loopback by default; an API server refuses loopback addresses in EndpointSlices).
 */
export async function startHttpUpstream(protocol: Protocol, opts: { id?: string; delayMs?: number; host?: string } = {}): Promise<Upstream> {
  const id = opts.id ?? `${protocol}-upstream`;
  const seen: Upstream['seen'] = [];
  const h = handler(id, seen, opts.delayMs ?? 0);
  const server: net.Server = protocol === 'h1' ? http.createServer(h) : http2.createServer(h);
  if (protocol === 'h1') (server as http.Server).keepAliveTimeout = 60_000;
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  const port = await listen(server, opts.host);
  return {
    port,
    id,
    seen,
    close: () =>
      new Promise((resolve) => {
        if (protocol === 'h1') (server as http.Server).closeAllConnections();
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const protoPath = fileURLToPath(new URL('../fixtures/echo.proto', import.meta.url));

export function loadEchoService(): grpc.GrpcObject {
  const def = protoLoader.loadSync(protoPath, { keepCase: true, defaults: true });
  return grpc.loadPackageDefinition(def);
}

export interface EchoMsg {
  text: string;
  count: number;
}

/** A gRPC Echo server: text "fail" answers INVALID_ARGUMENT with trailing metadata, "not-found" NOT_FOUND; "hang" never answers. */
export async function startGrpcUpstream(): Promise<{ port: number; close(): Promise<void> }> {
  const pkg = loadEchoService() as any;
  const server = new grpc.Server();
  const trailer = (): grpc.Metadata => {
    const md = new grpc.Metadata();
    md.set('x-trailer', 'from-upstream');
    return md;
  };
  server.addService(pkg.skein.test.Echo.service, {
    Unary: (call: grpc.ServerUnaryCall<EchoMsg, EchoMsg>, cb: grpc.sendUnaryData<EchoMsg>) => {
      if (call.request.text === 'hang') return;
      if (call.request.text === 'not-found') return cb({ code: grpc.status.NOT_FOUND, details: 'no such echo' });
      if (call.request.text === 'fail') {
        cb({ code: grpc.status.INVALID_ARGUMENT, details: 'bad input: fail', metadata: trailer() });
        return;
      }
      cb(null, { text: `echo:${call.request.text}`, count: call.request.count + 1 }, trailer());
    },
    ServerStream: (call: grpc.ServerWritableStream<EchoMsg, EchoMsg>) => {
      for (let i = 0; i < call.request.count; i++) call.write({ text: `${call.request.text}-${i}`, count: i });
      if (call.request.text === 'fail') call.emit('error', { code: grpc.status.ABORTED, details: 'aborted mid-stream' });
      else call.end(trailer());
    },
    ClientStream: (call: grpc.ServerReadableStream<EchoMsg, EchoMsg>, cb: grpc.sendUnaryData<EchoMsg>) => {
      const texts: string[] = [];
      call.on('data', (m: EchoMsg) => texts.push(m.text));
      call.on('end', () => cb(null, { text: texts.join(','), count: texts.length }, trailer()));
    },
    Bidi: (call: grpc.ServerDuplexStream<EchoMsg, EchoMsg>) => {
      call.on('data', (m: EchoMsg) => call.write({ text: `bidi:${m.text}`, count: m.count }));
      call.on('end', () => call.end(trailer()));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { port, close: () => new Promise((r) => server.tryShutdown(() => r())) };
}

/** A WebSocket echo server over HTTP/1.1. `reject` answers upgrades with 200 instead of 101. */
export async function startWebSocketUpstream(opts: { reject?: boolean } = {}): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => res.end('plain http\n'));
  if (opts.reject) {
    server.on('upgrade', (_req, socket: net.Socket) => {
      socket.end('HTTP/1.1 200 OK\r\ncontent-length: 11\r\nconnection: close\r\n\r\nnot a ws\r\n\r\n');
    });
  } else {
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(isBinary ? data : `echo:${data.toString()}`)));
  }
  const port = await listen(server);
  return { port, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

/** A raw TCP echo server (not HTTP). */
export interface TcpEcho {
  readonly port: number;
  /** Every connection it accepted, in order (to prove that a refused connection never reached it). */
  readonly accepted: net.Socket[];
  close(): Promise<void>;
}

export async function startTcpEcho(): Promise<TcpEcho> {
  const accepted: net.Socket[] = [];
  const server = net.createServer((s) => {
    accepted.push(s);
    s.on('error', () => {});
    s.pipe(s);
  });
  const port = await listen(server);
  return { port, accepted, close: () => new Promise((r) => { for (const s of accepted) s.destroy(); server.close(() => r()); }) };
}
