// Raw-socket HTTP/1 exchanges with a deadline: send exact bytes, read back the parsed responses and whether the peer closed.
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';

export interface RawResponse {
  readonly status: number;
  readonly statusLine: string;
  /** Names lower-cased; repeated names joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** Parses as many complete HTTP/1.1 responses as `buf` holds. `headRequests` marks which responses (by index) answer HEAD. */
export function parseResponses(buf: Buffer, opts: { closed: boolean; headRequests?: ReadonlySet<number> } = { closed: false }): RawResponse[] {
  const out: RawResponse[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const end = buf.indexOf('\r\n\r\n', pos);
    if (end < 0) break;
    const lines = buf.subarray(pos, end).toString('latin1').split('\r\n');
    const statusLine = lines[0]!;
    const status = Number(statusLine.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      if (c <= 0) continue;
      const n = l.slice(0, c).toLowerCase();
      const v = l.slice(c + 1).trim();
      headers[n] = headers[n] === undefined ? v : `${headers[n]}, ${v}`;
    }
    let p = end + 4;
    let body: Buffer;
    const noBody = opts.headRequests?.has(out.length) || status === 204 || status === 304 || (status >= 100 && status < 200);
    if (noBody) {
      body = Buffer.alloc(0);
    } else if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
      const parts: Buffer[] = [];
      let complete = false;
      for (;;) {
        const le = buf.indexOf('\r\n', p);
        if (le < 0) break;
        const size = parseInt(buf.subarray(p, le).toString('latin1'), 16);
        if (Number.isNaN(size)) break;
        if (size === 0) {
          // Trailers (possibly none) end with an empty line; with none, that CRLFCRLF starts right at the size line's end.
          const te = buf.indexOf('\r\n\r\n', le);
          if (te < 0) break;
          p = te + 4;
          complete = true;
          break;
        }
        if (buf.length < le + 2 + size + 2) break;
        parts.push(buf.subarray(le + 2, le + 2 + size));
        p = le + 2 + size + 2;
      }
      if (!complete) break;
      body = Buffer.concat(parts);
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (buf.length < p + n) break;
      body = buf.subarray(p, p + n);
      p += n;
    } else {
      // Delimited by close.
      if (!opts.closed) break;
      body = buf.subarray(p);
      p = buf.length;
    }
    out.push({ status, statusLine, headers, body: Buffer.from(body) });
    pos = p;
  }
  return out;
}

export interface RawExchange {
  readonly raw: Buffer;
  readonly responses: RawResponse[];
  /** The proxy closed (FIN or RST) the connection before the deadline. */
  readonly closed: boolean;
}

export interface RawExchangeOptions {
  /** Resolve as soon as this many complete responses arrived (default: wait for close). */
  readonly responses?: number;
  /** Give up waiting after this long (a generous bound, never an assertion on timing). Default 5 s. */
  readonly deadlineMs?: number;
  /** Indexes of responses that answer HEAD requests (they have no body). */
  readonly headRequests?: ReadonlySet<number>;
  /** Keep the connection open after resolving (the caller destroys `socket`). */
  readonly keepOpen?: boolean;
}

/** Connects to 127.0.0.1:port, writes `chunks` in order, and collects what comes back. */
export async function rawExchange(port: number, chunks: string | Buffer | readonly (string | Buffer)[], opts: RawExchangeOptions = {}): Promise<RawExchange> {
  const r = await rawSession(port, opts);
  for (const c of typeof chunks === 'string' || Buffer.isBuffer(chunks) ? [chunks] : chunks) r.write(c);
  return r.result();
}

export interface RawSession {
  readonly socket: net.Socket;
  write(data: string | Buffer): void;
  /** Waits for close, the requested number of responses, or the deadline. */
  result(): Promise<RawExchange>;
}

export async function rawSession(port: number, opts: RawExchangeOptions = {}): Promise<RawSession> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let raw = Buffer.alloc(0);
  let closed = false;
  let wake: (() => void) | null = null;
  socket.on('error', () => {});
  socket.on('data', (c: Buffer) => {
    raw = Buffer.concat([raw, c]);
    wake?.();
  });
  socket.once('close', () => {
    closed = true;
    wake?.();
  });
  const parse = (): RawResponse[] => parseResponses(raw, { closed, headRequests: opts.headRequests });
  return {
    socket,
    write: (d) => {
      if (!socket.destroyed && socket.writable) socket.write(typeof d === 'string' ? Buffer.from(d, 'latin1') : d);
    },
    result: async () => {
      const end = Date.now() + (opts.deadlineMs ?? 5_000);
      for (;;) {
        if (closed) break;
        if (opts.responses !== undefined && parse().length >= opts.responses) break;
        if (Date.now() >= end) break;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.max(1, end - Date.now()));
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        wake = null;
      }
      if (!opts.keepOpen) socket.destroy();
      return { raw, responses: parse(), closed };
    },
  };
}

/** A normal HTTP/1.1 GET on a fresh connection: proves the proxy still serves after an attack. */
export async function http1Get(port: number, path = '/healthy', headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, headers: { host: 'example.test', ...headers }, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('healthy request timed out')));
    req.on('error', reject);
  });
}

/** A normal HTTP/2 (prior knowledge) GET on a fresh connection. */
export async function http2Get(port: number, path = '/healthy', headers: Record<string, string> = {}): Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: string }> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    return await new Promise((resolve, reject) => {
      session.on('error', reject);
      const req = session.request({ ':path': path, ':authority': 'example.test', ...headers });
      req.setTimeout(10_000, () => req.destroy(new Error('healthy h2 request timed out')));
      let h: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      req.on('response', (r) => (h = r));
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve({ status: Number(h[':status']), headers: h, body: Buffer.concat(chunks).toString() }));
      req.on('error', reject);
      req.end();
    });
  } finally {
    session.destroy();
  }
}
