// Minimal HTTP/1.1 and HTTP/2 clients for tests that return status, headers, body and trailers.
import http from 'node:http';
import http2 from 'node:http2';
import type { Readable } from 'node:stream';

export interface ClientResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  trailers: Record<string, string | string[] | undefined>;
}

export interface ClientRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer | string | Readable;
}

export function h1Request(port: number, path: string, opts: ClientRequestOptions = {}, agent?: http.Agent): Promise<ClientResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), trailers: res.trailers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    const b = opts.body;
    if (b === undefined || typeof b === 'string' || Buffer.isBuffer(b)) req.end(b);
    else b.pipe(req);
  });
}

/** An HTTP/2 (prior knowledge) client session to reuse across requests. */
export class H2Client {
  readonly session: http2.ClientHttp2Session;
  constructor(port: number) {
    this.session = http2.connect(`http://127.0.0.1:${port}`);
    this.session.on('error', () => {});
  }

  request(path: string, opts: ClientRequestOptions = {}): Promise<ClientResponse> {
    return new Promise((resolve, reject) => {
      const b = opts.body;
      const stream = this.session.request(
        { ':method': opts.method ?? 'GET', ':path': path, ...(opts.headers ?? {}) },
        { endStream: b === undefined },
      );
      let status = 0;
      let headers: ClientResponse['headers'] = {};
      let trailers: ClientResponse['trailers'] = {};
      const chunks: Buffer[] = [];
      stream.on('response', (h) => {
        status = Number(h[':status']);
        headers = h;
      });
      stream.on('trailers', (t) => (trailers = t));
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => resolve({ status, headers, body: Buffer.concat(chunks), trailers }));
      stream.on('error', reject);
      if (b !== undefined) {
        if (typeof b === 'string' || Buffer.isBuffer(b)) stream.end(b);
        else b.pipe(stream);
      }
    });
  }

  close(): void {
    this.session.close();
  }
}

/** Runs `fn` for a protocol: a fresh request each time (h1: new connection; h2: shared session). */
export function clientFor(protocol: 'h1' | 'h2', port: number): { request(path: string, opts?: ClientRequestOptions): Promise<ClientResponse>; close(): void } {
  if (protocol === 'h2') return new H2Client(port);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  return { request: (p, o) => h1Request(port, p, o, agent), close: () => agent.destroy() };
}
