// Incremental HTTP/1.1 message body decoding (RFC 9112 sec 6 and 7.1): Content-Length, chunked with trailers, or until close.
import type { HeaderBag } from '../http/hop-headers.ts';
import { isTchar } from './head-parser.ts';
import { latin1Slice } from './latin1.ts';

/** Returned by `feed` when the bytes cannot be a valid body (the connection's framing is lost: close it). */
export const BODY_ERROR = -1;

const MAX_SIZE_DIGITS = 15; // 2^60: more is an overflow attempt, not a body
const MAX_EXTENSION_BYTES = 4096;

const STATE = {
  SIZE: 0,
  EXT: 1,
  SIZE_LF: 2,
  DATA: 3,
  DATA_CR: 4,
  DATA_LF: 5,
  TRAILER_START: 6,
  TRAILER_LINE: 7,
  TRAILER_LF: 8,
  END_LF: 9,
  DONE: 10,
} as const;

/**
 * One message body. `feed` hands decoded bytes to `onData` (views of the input; the pieces of a chunked body are joined
 * once per read) and returns the index just past the body's last byte once it is complete, `buf.length` when it needs
 * more, or BODY_ERROR (then nothing of that read is handed out).
 */
export class BodyDecoder {
  /** 'length' (Content-Length), 'chunked', or 'close' (a response delimited by the connection closing). */
  readonly kind: 'length' | 'chunked' | 'close';
  done = false;
  /** Trailer fields of a chunked body (lower-case names), once complete; null when there were none. */
  trailers: HeaderBag | null = null;
  #remaining: number;
  #state: number = STATE.SIZE;
  #digits = 0;
  #ext = 0;
  #line = '';
  readonly #maxTrailerBytes: number;
  #trailerBytes = 0;

  constructor(kind: 'length' | 'chunked' | 'close', length: number, maxTrailerBytes: number) {
    this.kind = kind;
    this.#remaining = kind === 'length' ? length : 0;
    this.#maxTrailerBytes = maxTrailerBytes;
    if (kind === 'length' && length === 0) this.done = true;
  }

  feed(buf: Buffer, off: number, onData: (chunk: Buffer) => void): number {
    if (this.done) return off;
    if (this.kind === 'close') {
      if (off < buf.length) onData(off === 0 ? buf : buf.subarray(off));
      return buf.length;
    }
    if (this.kind === 'length') {
      const n = Math.min(this.#remaining, buf.length - off);
      if (n > 0) {
        onData(off === 0 && n === buf.length ? buf : buf.subarray(off, off + n));
        this.#remaining -= n;
      }
      if (this.#remaining === 0) this.done = true;
      return off + n;
    }
    // All the chunk data of one read goes out as one piece: a body of a thousand 1-byte chunks must not become a
    // thousand writes (and syscalls) toward the other side.
    const parts: Buffer[] = [];
    const end = this.#chunked(buf, off, parts);
    if (end !== BODY_ERROR && parts.length > 0) onData(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
    return end;
  }

  /** The connection closed: true when that legitimately ends this body. */
  finishAtClose(): boolean {
    if (this.kind === 'close') this.done = true;
    return this.done;
  }

  #chunked(buf: Buffer, i: number, parts: Buffer[]): number {
    const S = STATE;
    const len = buf.length;
    while (i < len) {
      const c = buf[i]!;
      switch (this.#state) {
        case S.SIZE: {
          const h = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
          if (h >= 0) {
            if (++this.#digits > MAX_SIZE_DIGITS) return BODY_ERROR;
            this.#remaining = this.#remaining * 16 + h;
            i++;
            break;
          }
          if (this.#digits === 0) return BODY_ERROR;
          if (c === 13) this.#state = S.SIZE_LF;
          else if (c === 59 /* ; */ || c === 32 || c === 9) this.#state = S.EXT;
          else return BODY_ERROR;
          i++;
          break;
        }
        case S.EXT: {
          // Extensions are dropped (framing is regenerated); only their size and characters are checked.
          if (c === 13) this.#state = S.SIZE_LF;
          else if ((c < 32 && c !== 9) || c === 127 || ++this.#ext > MAX_EXTENSION_BYTES) return BODY_ERROR;
          i++;
          break;
        }
        case S.SIZE_LF: {
          if (c !== 10) return BODY_ERROR;
          i++;
          this.#digits = 0;
          this.#ext = 0;
          this.#state = this.#remaining === 0 ? S.TRAILER_START : S.DATA;
          break;
        }
        case S.DATA: {
          const n = Math.min(this.#remaining, len - i);
          if (n > 0) parts.push(buf.subarray(i, i + n));
          i += n;
          this.#remaining -= n;
          if (this.#remaining === 0) this.#state = S.DATA_CR;
          break;
        }
        case S.DATA_CR:
          if (c !== 13) return BODY_ERROR; // chunk data longer than its size
          this.#state = S.DATA_LF;
          i++;
          break;
        case S.DATA_LF:
          if (c !== 10) return BODY_ERROR;
          this.#state = S.SIZE;
          i++;
          break;
        case S.TRAILER_START:
          if (c === 13) {
            this.#state = S.END_LF;
            i++;
            break;
          }
          this.#line = '';
          this.#state = S.TRAILER_LINE;
          break;
        case S.TRAILER_LINE: {
          let cr = buf.indexOf(13, i);
          if (cr < 0) cr = len;
          if ((this.#trailerBytes += cr - i) > this.#maxTrailerBytes) return BODY_ERROR;
          this.#line += latin1Slice(buf, i, cr);
          i = cr;
          if (cr < len) {
            this.#state = S.TRAILER_LF;
            i++;
          }
          break;
        }
        case S.TRAILER_LF:
          if (c !== 10 || !this.#addTrailer(this.#line)) return BODY_ERROR;
          this.#state = S.TRAILER_START;
          i++;
          break;
        case S.END_LF:
          if (c !== 10) return BODY_ERROR;
          this.#state = S.DONE;
          this.done = true;
          return i + 1;
        default:
          return BODY_ERROR;
      }
    }
    return len;
  }

  /** One trailer field line: the same rules as a header line (a request line hidden here fails the name check). */
  #addTrailer(line: string): boolean {
    const colon = line.indexOf(':');
    if (colon <= 0) return false;
    for (let k = 0; k < colon; k++) if (!isTchar(line.charCodeAt(k))) return false;
    for (let k = colon + 1; k < line.length; k++) {
      const c = line.charCodeAt(k);
      if ((c < 32 && c !== 9) || c === 127) return false;
    }
    const value = line.slice(colon + 1).trim();
    const name = line.slice(0, colon).toLowerCase();
    const t = (this.trailers ??= Object.create(null) as HeaderBag);
    const prev = t[name];
    t[name] = prev === undefined ? value : `${prev as string}, ${value}`;
    return true;
  }
}
