// Collects and validates one header block, either role (RFC 9113 8.2, 8.3): a malformed block is a stream error, never forwarded.
import { isToken } from '../http/field-chars.ts';
import { newHeaderBag, type HeaderBag } from '../http/hop-headers.ts';

/** Why a header block was refused; each maps to the RST_STREAM code the connection sends. */
export const FieldsVerdict = {
  OK: 0,
  /** Malformed (RFC 9113 8.1.1): PROTOCOL_ERROR. */
  MALFORMED: 1,
  /** Past maxHeaderCount or maxRequestHeaderBytes: ENHANCE_YOUR_CALM (RELIABILITY: never silently truncated). */
  TOO_LARGE: 2,
} as const;
export type FieldsVerdict = (typeof FieldsVerdict)[keyof typeof FieldsVerdict];

/** Field names that are lower-case tokens: one lookup per character. */
const NAME_CHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") NAME_CHAR[c.charCodeAt(0)] = 1;

/** A response :status: three digits, 100-599. */
const STATUS = /^[1-5][0-9][0-9]$/;

const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);
/**
 * Valid in a response or its trailers but never forwarded (hop-by-hop, or meaningless past this hop): left out of the
 * header object, so that the object is the end-to-end header set the proxy passes on without copying it.
 */
const NOT_FORWARDED_IN_RESPONSE = new Set(['te', 'trailer', 'http2-settings', 'host']);

/** A value with no control character but HTAB, and no leading or trailing whitespace (RFC 9113 8.2.1; stricter on CTLs, as our HTTP/1 parser is). */
function validValue(v: string): boolean {
  const n = v.length;
  if (n === 0) return true;
  let c = v.charCodeAt(0);
  if (c === 0x20 || c === 0x09) return false;
  c = v.charCodeAt(n - 1);
  if (c === 0x20 || c === 0x09) return false;
  for (let i = 0; i < n; i++) {
    c = v.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return false;
  }
  return true;
}

/** A :path of visible ASCII starting with '/' ('*' for OPTIONS is checked by the caller). */
function validPath(p: string): boolean {
  if (p.charCodeAt(0) !== 0x2f) return false;
  for (let i = 1; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

/**
 * Receives the fields of one block as the HPACK decoder emits them (one per connection, reset per block, so its sink is
 * bound once). Keeps decoding cheap when the block is refused: once the verdict is not OK nothing is stored (the decoder
 * still runs to keep the dynamic table in step).
 */
export class HeaderFields {
  headers: HeaderBag = newHeaderBag();
  verdict: FieldsVerdict = FieldsVerdict.OK;
  /** The parsed content-length, or -1. */
  contentLength = -1;
  /** A response's :status as received ('' until seen): kept out of `headers`, which hold end-to-end fields only. */
  #status = '';
  #trailers = false;
  #response = false;
  readonly #maxBytes: number;
  readonly #maxCount: number;
  #bytes = 0;
  #count = 0;
  #regularSeen = false;

  constructor(maxBytes: number, maxCount: number) {
    this.#maxBytes = maxBytes;
    this.#maxCount = maxCount;
  }

  /**
   * Starts a block: a request head (pseudo-headers kept in `headers`), a response head (`response`: :status kept apart,
   * `headers` end-to-end only), or trailers (no pseudo-headers allowed).
   */
  begin(trailers: boolean, response = false): void {
    this.#response = response;
    this.headers = newHeaderBag();
    this.verdict = FieldsVerdict.OK;
    this.contentLength = -1;
    this.#status = '';
    this.#trailers = trailers;
    this.#bytes = 0;
    this.#count = 0;
    this.#regularSeen = false;
  }

  /**
   * The HPACK decoder's sink (bound once per block). Returns true when the field passed the checks that depend on it
   * alone (name, value, a known pseudo-header): the decoder marks a table entry so, and passes `checked` when the peer
   * refers to it again, which skips those checks (for most fields of a busy connection: they come from the table). The
   * checks that depend on the block (order, repeats, counts, sizes) run every time.
   */
  readonly sink = (name: string, value: string, checked: boolean): boolean => {
    this.#bytes += name.length + value.length + 32;
    if (this.verdict !== FieldsVerdict.OK) return false;
    if (this.#bytes > this.#maxBytes) {
      this.#refuse(FieldsVerdict.TOO_LARGE);
      return false;
    }
    const h = this.headers;
    if (name.charCodeAt(0) === 0x3a /* ':' */) {
      // Pseudo-headers: only the four request ones (or :status in a response), once each, before any regular field, never in trailers.
      if (this.#response) {
        if (this.#trailers || this.#regularSeen || name !== ':status' || this.#status !== '' || !(checked || validValue(value))) {
          this.#refuse(FieldsVerdict.MALFORMED);
          return false;
        }
        this.#status = value;
        return true;
      }
      const known = name === ':method' || name === ':scheme' || name === ':path' || name === ':authority';
      if (this.#trailers || this.#regularSeen || !known || h[name] !== undefined || !(checked || validValue(value))) {
        this.#refuse(FieldsVerdict.MALFORMED);
        return false;
      }
      h[name] = value;
      return true;
    }
    this.#regularSeen = true;
    if (++this.#count > this.#maxCount) {
      this.#refuse(FieldsVerdict.TOO_LARGE);
      return false;
    }
    if (!checked && (!isToken(name, NAME_CHAR) || !validValue(value) || CONNECTION_SPECIFIC.has(name) || (name === 'te' && value.toLowerCase() !== 'trailers'))) {
      this.#refuse(FieldsVerdict.MALFORMED);
      return false;
    }
    if (this.#response && NOT_FORWARDED_IN_RESPONSE.has(name)) return true;
    const prev = h[name];
    if (prev === undefined) h[name] = name === 'set-cookie' ? [value] : value;
    else if (Array.isArray(prev)) prev.push(value);
    else h[name] = `${prev}${name === 'cookie' ? '; ' : ', '}${value}`;
    return true;
  };

  #refuse(v: FieldsVerdict): void {
    this.verdict = v;
    this.headers = newHeaderBag();
  }

  /** After the block: the request-level rules (RFC 9113 8.3.1, 8.1.1 content-length). Returns the verdict. */
  finishRequest(): FieldsVerdict {
    if (this.verdict !== FieldsVerdict.OK) return this.verdict;
    const h = this.headers;
    const method = h[':method'] as string | undefined;
    const path = h[':path'] as string | undefined;
    if (method === undefined || !isToken(method)) return this.#malformed();
    if (method === 'CONNECT') {
      // Plain CONNECT (no extended protocol): only :authority (the listener answers it 405).
      if (h[':scheme'] !== undefined || path !== undefined || h[':authority'] === undefined) return this.#malformed();
    } else {
      if (h[':scheme'] === undefined || path === undefined) return this.#malformed();
      if (!(path === '*' ? method === 'OPTIONS' : validPath(path))) return this.#malformed();
    }
    const a = h[':authority'] as string | undefined;
    if (a !== undefined && (a.includes(' ') || a.includes('@'))) return this.#malformed();
    return this.#contentLength();
  }

  /** After a response head block (RFC 9113 8.3.2): returns the :status (100-599), or -1 when the block is malformed. */
  finishResponse(): number {
    if (this.verdict !== FieldsVerdict.OK) return -1;
    const st = this.#status;
    if (!STATUS.test(st)) {
      this.#malformed();
      return -1;
    }
    return this.#contentLength() === FieldsVerdict.OK ? Number(st) : -1;
  }

  /** After a trailer block. */
  finishTrailers(): FieldsVerdict {
    return this.verdict;
  }

  #contentLength(): FieldsVerdict {
    const cl = this.headers['content-length'];
    if (cl === undefined) return FieldsVerdict.OK;
    if (typeof cl !== 'string' || cl.length === 0 || cl.length > 15) return this.#malformed();
    for (let i = 0; i < cl.length; i++) {
      const c = cl.charCodeAt(i);
      if (c < 0x30 || c > 0x39) return this.#malformed();
    }
    this.contentLength = Number(cl);
    return FieldsVerdict.OK;
  }

  #malformed(): FieldsVerdict {
    this.#refuse(FieldsVerdict.MALFORMED);
    return FieldsVerdict.MALFORMED;
  }
}
