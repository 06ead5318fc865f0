// A raw-socket HTTP/1.1 upstream that records every byte and every request it parses, and answers each with a JSON echo.
import net from 'node:net';

export interface RecordedRequest {
  readonly requestLine: string;
  readonly method: string;
  readonly path: string;
  /** Header fields in arrival order, names lower-cased. */
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer;
  /** Which upstream connection (0, 1, ...) carried it. */
  readonly connection: number;
}

export interface EchoBody {
  readonly method: string;
  readonly path: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly bodyLength: number;
}

export interface RawUpstream {
  readonly port: number;
  /** Every complete request parsed, in order. */
  readonly requests: RecordedRequest[];
  /** Every byte received, per connection. */
  readonly received: Buffer[];
  /** All bytes received on every connection, as latin1 text (to search for smuggled markers). */
  allText(): string;
  /** Number of TCP connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

export type RawResponder = (req: RecordedRequest, socket: net.Socket) => void;

function echo(req: RecordedRequest, socket: net.Socket): void {
  const body = JSON.stringify({ method: req.method, path: req.path, headers: req.headers, bodyLength: req.body.length } satisfies EchoBody);
  socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/** Parses one request at the start of `buf`; returns it and the bytes consumed, or null when more bytes are needed. */
function parseOne(buf: Buffer, connection: number): { req: RecordedRequest; used: number } | null | 'bad' {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return buf.length > 1_048_576 ? 'bad' : null;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const requestLine = lines[0]!;
  const [method = '', path = ''] = requestLine.split(' ');
  const headers: [string, string][] = [];
  for (const l of lines.slice(1)) {
    const c = l.indexOf(':');
    if (c <= 0) return 'bad';
    headers.push([l.slice(0, c).toLowerCase(), l.slice(c + 1).trim()]);
  }
  let pos = end + 4;
  const te = headers.find(([n]) => n === 'transfer-encoding');
  const cl = headers.find(([n]) => n === 'content-length');
  let body = Buffer.alloc(0);
  if (te) {
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', pos);
      if (lineEnd < 0) return null;
      const size = parseInt(buf.subarray(pos, lineEnd).toString('latin1').split(';')[0]!, 16);
      if (Number.isNaN(size)) return 'bad';
      pos = lineEnd + 2;
      if (size === 0) {
        const trailerEnd = buf.indexOf('\r\n', pos);
        if (trailerEnd < 0) return null;
        pos = trailerEnd + 2;
        break;
      }
      if (buf.length < pos + size + 2) return null;
      parts.push(buf.subarray(pos, pos + size));
      pos += size + 2;
    }
    body = Buffer.concat(parts);
  } else if (cl) {
    const n = Number(cl[1]);
    if (buf.length < pos + n) return null;
    body = Buffer.from(buf.subarray(pos, pos + n));
    pos += n;
  }
  return { req: { requestLine, method, path, headers, body, connection }, used: pos };
}

/** Starts the upstream on 127.0.0.1:0. `respond` answers each parsed request (default: a JSON echo of it). */
export async function startRawUpstream(respond: RawResponder = echo): Promise<RawUpstream> {
  const requests: RecordedRequest[] = [];
  const received: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((socket) => {
    const id = connections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    received[id] = Buffer.alloc(0);
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      received[id] = Buffer.concat([received[id]!, chunk]);
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const r = parseOne(pending, id);
        if (r === null) return;
        if (r === 'bad') {
          socket.destroy();
          return;
        }
        pending = pending.subarray(r.used);
        requests.push(r.req);
        respond(r.req, socket);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    requests,
    received,
    get connections() {
      return connections;
    },
    allText: () => Buffer.concat(received.filter(Boolean)).toString('latin1'),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
