// Serializes HTTP/1.1 heads and writes head + body to a socket in as few writes as possible (one, for small messages).
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { isToken, lineSafe } from '../http/field-chars.ts';
import { latin1Write } from './latin1.ts';

// Field values we emit must not be able to end a line (CR, LF and NUL are refused whatever their source), and header
// names must be tokens (a space or colon in a name would change what the next hop parses): checked per character, as
// a RegExp per field cost ~600 instructions of the ~90 000 of a proxied request (bench/instructions.ts --proto h1).

/** Thrown when a head would not serialize safely; callers turn it into their usual failure. */
export class UnsafeHeaderError extends Error {
  readonly code = 'ERR_INVALID_CHAR';
}

/** Hop-by-hop framing fields: the writer generates its own, so whatever a header bag says about them is not copied. */
function generated(name: string): boolean {
  return name === 'connection' || name === 'transfer-encoding' || name === 'keep-alive';
}

function line(name: string, v: unknown): string {
  const s = typeof v === 'string' ? v : String(v);
  if (!lineSafe(s)) throw new UnsafeHeaderError(`invalid value for ${name}`);
  return `${name}: ${s}\r\n`;
}

/** "name: value\r\n" for every field of `headers` but connection, transfer-encoding and keep-alive. */
export function fieldLines(headers: Readonly<Record<string, unknown>>): string {
  let out = '';
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined || generated(name)) continue;
    if (!isToken(name)) throw new UnsafeHeaderError(`invalid header name ${JSON.stringify(name)}`);
    if (Array.isArray(v)) for (const one of v) out += line(name, one);
    else out += line(name, v);
  }
  return out;
}

const statusLines: string[] = [];
/** "HTTP/1.1 200 OK\r\n", cached per status. */
export function statusLine(status: number): string {
  return (statusLines[status] ??= `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`);
}

/** Small bodies are copied next to the head so that one write (one syscall) carries both. */
const COALESCE_MAX = 16_384;

/** Writes `head` (latin1) followed by `body` parts; returns what socket.write returned for the last write. */
export function writeMessage(socket: Socket, head: string, body: Buffer | null, tail: string | null): boolean {
  const bodyLen = body === null ? 0 : body.length;
  if (bodyLen === 0 && tail === null) return socket.write(head, 'latin1');
  if (bodyLen <= COALESCE_MAX) {
    const tailLen = tail === null ? 0 : tail.length;
    const out = Buffer.allocUnsafe(head.length + bodyLen + tailLen);
    latin1Write(out, head, 0);
    if (bodyLen > 0) body!.copy(out, head.length);
    if (tail !== null) latin1Write(out, tail, head.length + bodyLen);
    return socket.write(out);
  }
  socket.cork();
  if (head.length > 0) socket.write(head, 'latin1');
  socket.write(body!);
  const r = tail === null ? socket.writableLength < socket.writableHighWaterMark : socket.write(tail, 'latin1');
  socket.uncork();
  return r && socket.writableLength < socket.writableHighWaterMark;
}
