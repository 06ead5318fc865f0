// Candidate (c): a lean HTTP/1.1 proxy on node:net, to find the ceiling of Node for this job. Parses the request and response
// heads, regenerates request framing, forwards Content-Length bodies only; one upstream keep-alive connection per client
// connection; not pipelining-aware. Usage: node lean-net.ts LISTEN_PORT UPSTREAM_PORT
import net from 'node:net';

const [listenPort, upstreamPort] = process.argv.slice(2).map(Number) as [number, number];
const CRLF2 = Buffer.from('\r\n\r\n');

/** Finds the end of a head and its Content-Length; null while the head is incomplete. */
function parseHead(buf: Buffer): { headEnd: number; lines: string[]; contentLength: number } | null {
  const end = buf.indexOf(CRLF2);
  if (end < 0) return null;
  const lines = buf.toString('latin1', 0, end).split('\r\n');
  let contentLength = 0;
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.length > 15 && (l.charCodeAt(0) | 32) === 99 && l.slice(0, 15).toLowerCase() === 'content-length:') contentLength = Number(l.slice(15).trim());
  }
  return { headEnd: end + 4, lines, contentLength };
}

net
  .createServer({ noDelay: true }, (client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: upstreamPort, noDelay: true });
    let reqBuf: Buffer = Buffer.alloc(0);
    let reqBodyLeft = 0;
    client.on('data', (chunk: Buffer) => {
      if (reqBodyLeft > 0) {
        const n = Math.min(reqBodyLeft, chunk.length);
        upstream.write(chunk.subarray(0, n));
        reqBodyLeft -= n;
        chunk = chunk.subarray(n);
        if (chunk.length === 0) return;
      }
      reqBuf = reqBuf.length ? Buffer.concat([reqBuf, chunk]) : chunk;
      const h = parseHead(reqBuf);
      if (!h) return;
      // Regenerate the head: request line, headers minus hop-by-hop framing, our own Content-Length.
      let head = h.lines[0]! + '\r\n';
      for (let i = 1; i < h.lines.length; i++) {
        const l = h.lines[i]!;
        const c = l.charCodeAt(0) | 32;
        if ((c === 99 || c === 116 || c === 107) && /^(content-length|connection|keep-alive|transfer-encoding):/i.test(l)) continue;
        head += l + '\r\n';
      }
      if (h.contentLength > 0) head += 'content-length: ' + h.contentLength + '\r\n';
      upstream.write(head + '\r\n');
      const body = reqBuf.subarray(h.headEnd, h.headEnd + h.contentLength);
      if (body.length) upstream.write(body);
      reqBodyLeft = h.contentLength - body.length;
      reqBuf = Buffer.alloc(0);
    });
    let resBuf: Buffer = Buffer.alloc(0);
    let resBodyLeft = 0;
    upstream.on('data', (chunk: Buffer) => {
      if (resBodyLeft > 0) {
        const n = Math.min(resBodyLeft, chunk.length);
        client.write(chunk.subarray(0, n));
        resBodyLeft -= n;
        chunk = chunk.subarray(n);
        if (chunk.length === 0) return;
      }
      resBuf = resBuf.length ? Buffer.concat([resBuf, chunk]) : chunk;
      const h = parseHead(resBuf);
      if (!h) return;
      // Forward the head and as much body as arrived in one write.
      const avail = Math.min(resBuf.length, h.headEnd + h.contentLength);
      client.write(resBuf.subarray(0, avail));
      resBodyLeft = h.headEnd + h.contentLength - avail;
      resBuf = Buffer.alloc(0);
    });
    const close = (): void => { client.destroy(); upstream.destroy(); };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  })
  .listen(listenPort, '127.0.0.1');
